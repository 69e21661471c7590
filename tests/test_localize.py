"""First-divergence localisation names the sub-layer that was broken, in both modes."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from keras import ops

import parity
import reference_torch
import tf_attention
from parity.localize import to_keras_like
from parity.randomize import randomize_torch
from tests.pairs import ToyKeras, ToyTorch

X = np.random.default_rng(0).standard_normal((2, 16, 7, 5))  # NCHW, H != W != C


def _cbam_pair():
    torch_block = reference_torch.CBAMBlock(channel=16, reduction=4, kernel_size=3)
    keras_block = tf_attention.CBAMBlock(channel=16, reduction=4, kernel_size=3, dtype="float64")
    keras_block(np.moveaxis(X, 1, -1))
    return torch_block, keras_block


def test_correct_pair_runs_no_localisation():
    torch_block, keras_block = _cbam_pair()
    result = parity.compare(torch_block, keras_block, X)
    assert result.passed and result.first_divergence is None and not result.localization


def test_broken_spatial_branch_glue_is_named():
    torch_block, keras_block = _cbam_pair()

    def mean_then_max(inputs):  # upstream concatenates [max, mean]
        maps = ops.concatenate(
            [ops.mean(inputs, axis=-1, keepdims=True), ops.max(inputs, axis=-1, keepdims=True)],
            axis=-1,
        )
        return ops.sigmoid(keras_block.sa.conv(maps))

    keras_block.sa.call = mean_then_max
    result = parity.compare(torch_block, keras_block, X)
    assert not result.passed
    first = next(row for row in result.localization if row.first)
    assert first.path == "sa" and first.local_passed is False
    conv = next(row for row in result.localization if row.path == "sa.conv")
    assert conv.propagated_passed is False and conv.local_passed is True  # inherited, not guilty
    channel = next(row for row in result.localization if row.path == "ca")
    assert channel.passed
    assert "first diverging sub-layer: sa (SpatialAttention -> SpatialAttention)" in result.message


def test_broken_spatial_conv_kernel_is_named():
    torch_block, keras_block = _cbam_pair()
    randomize_torch(torch_block.double(), seed=4)
    parity.transfer_weights(torch_block, keras_block)
    kernel = keras_block.sa.conv.kernel.numpy()
    keras_block.sa.conv.kernel.assign(kernel.transpose(1, 0, 2, 3))  # kh <-> kw
    result = parity.compare(torch_block, keras_block, X, randomize=False, transfer=False)
    assert not result.passed
    assert result.first_divergence.startswith("sa.conv (Conv2d -> Conv2D)")
    # The channel branch, computed before, is untouched.
    assert next(r for r in result.localization if r.path == "ca").passed


def test_wrong_epsilon_is_localised_to_the_norm_layer():
    torch_module = ToyTorch().double()
    keras_layer = ToyKeras(dtype="float64", bn_epsilon=1e-3)
    keras_layer(np.zeros((2, 5, 4, 3)))
    x = np.random.default_rng(1).standard_normal((2, 3, 5, 4))
    result = parity.compare(torch_module, keras_layer, x, output_layout="plain")
    assert result.first_divergence.startswith("bn (BatchNorm2d -> BatchNormalization)")
    conv = next(r for r in result.localization if r.path == "conv")
    assert conv.passed  # upstream of the bug


def test_glue_code_between_sub_layers_is_reported_as_such():
    """A flatten without the NHWC->NCHW transpose happens in the parent: `fc` is named, and
    the message says that `fc` itself is correct when fed torch's input."""
    torch_module = ToyTorch().double()
    keras_layer = ToyKeras(dtype="float64", transpose_before_flatten=False)
    keras_layer(np.zeros((2, 5, 4, 3)))
    x = np.random.default_rng(1).standard_normal((2, 3, 5, 4))
    result = parity.compare(torch_module, keras_layer, x, output_layout="plain")
    assert result.first_divergence.startswith("fc (Linear -> Dense)")
    assert "code just before it" in result.first_divergence


def test_localisation_restores_the_keras_layer():
    torch_block, keras_block = _cbam_pair()
    keras_block.sa.conv.bias.assign(np.ones(1))
    parity.transfer_weights(torch_block.double(), keras_block)
    keras_block.sa.conv.bias.assign(keras_block.sa.conv.bias.numpy() + 1.0)
    parity.compare(torch_block, keras_block, X, randomize=False, transfer=False)
    assert "call" not in vars(keras_block.sa.conv)  # the instance wrapper is gone
    with torch.no_grad():
        assert not torch_block.sa.conv._forward_hooks  # and so are the torch hooks


@pytest.mark.parametrize(
    ("torch_shape", "keras_shape", "channels_last", "expected_axes"),
    [
        ((2, 3, 4, 5), (2, 4, 5, 3), True, (0, 2, 3, 1)),
        ((2, 3, 1, 1), (2, 3), True, None),
        ((2, 7, 6), (2, 7, 6), False, (0, 1, 2)),
    ],
)
def test_activation_layout_matching(torch_shape, keras_shape, channels_last, expected_axes):
    array = np.arange(np.prod(torch_shape), dtype=float).reshape(torch_shape)
    converted = to_keras_like(array, keras_shape, channels_last)
    assert converted.shape == keras_shape
    if expected_axes is not None:
        np.testing.assert_array_equal(converted, array.transpose(expected_axes))
    assert to_keras_like(array, (9, 9), channels_last) is None
