"""Weight transfer: every converter in both directions, bit-exact round trip, strict errors."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import torch
from keras import layers
from torch import nn

import parity
from parity.converters import (
    conv1d_kernel_to_keras,
    conv1d_kernel_to_torch,
    conv2d_kernel_to_keras,
    conv2d_kernel_to_torch,
    dense_to_pointwise_conv,
    depthwise_kernel_to_keras,
    depthwise_kernel_to_torch,
    linear_weight_to_keras,
    linear_weight_to_torch,
    pointwise_conv_to_dense,
)
from parity.randomize import randomize_torch
from tests.pairs import AllTypesKeras, AllTypesTorch, built


def _state(module) -> dict[str, np.ndarray]:
    return {k: v.detach().numpy().copy() for k, v in module.state_dict().items()}


def test_round_trip_is_bit_exact_for_every_converter():
    torch_module = AllTypesTorch().double()
    keras_layer = built(AllTypesKeras(dtype="float64"))
    randomize_torch(torch_module, seed=1)
    original = _state(torch_module)
    report = parity.transfer_weights(torch_module, keras_layer)
    assert len(report.copied) == sum(1 for k in original if "num_batches" not in k)
    assert set(report.skipped) == {"bn1d.num_batches_tracked", "bn2d.num_batches_tracked"}

    randomize_torch(torch_module, seed=2)  # move every torch tensor away before copying back
    assert not np.array_equal(_state(torch_module)["conv.weight"], original["conv.weight"])
    back = parity.transfer_weights(keras_layer, torch_module)
    assert back.direction == "Keras -> torch"
    restored = _state(torch_module)
    for key, value in original.items():
        np.testing.assert_array_equal(restored[key], value, err_msg=key)


def test_converted_values_land_where_each_framework_reads_them():
    torch_module = AllTypesTorch().double()
    keras_layer = built(AllTypesKeras(dtype="float64"))
    randomize_torch(torch_module, seed=3)
    parity.transfer_weights(torch_module, keras_layer)
    conv = torch_module.conv.weight.detach().numpy()  # (out, in, kh, kw)
    np.testing.assert_array_equal(keras_layer.conv.kernel.numpy()[2, 4, 1, 5], conv[5, 1, 2, 4])
    depthwise = torch_module.depthwise.weight.detach().numpy()  # (C*m, 1, k, k), channel c*m + j
    np.testing.assert_array_equal(
        keras_layer.depthwise.kernel.numpy()[0, 2, 3, 1], depthwise[7, 0, 0, 2]
    )
    np.testing.assert_array_equal(
        keras_layer.bn2d.moving_variance.numpy(), torch_module.bn2d.running_var.detach().numpy()
    )
    np.testing.assert_array_equal(
        keras_layer.gate.numpy(), torch_module.gate.detach().numpy().reshape(-1)
    )


@pytest.mark.parametrize(
    ("forward", "backward", "shape"),
    [
        (conv2d_kernel_to_keras, conv2d_kernel_to_torch, (5, 2, 3, 4)),
        (conv1d_kernel_to_keras, conv1d_kernel_to_torch, (5, 2, 3)),
        (linear_weight_to_keras, linear_weight_to_torch, (5, 3)),
        (pointwise_conv_to_dense, dense_to_pointwise_conv, (5, 3, 1, 1)),
        (lambda w: depthwise_kernel_to_keras(w, 3), depthwise_kernel_to_torch, (6, 1, 3, 5)),
    ],
)
def test_named_layout_changes_invert_each_other(forward, backward, shape):
    array = np.random.default_rng(0).standard_normal(shape)
    np.testing.assert_array_equal(backward(forward(array)), array)


class _Torch(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 3)
        self.head = nn.Linear(3, 2)


class _KerasMissingHead(layers.Layer):
    def __init__(self):
        super().__init__()
        self.fc = layers.Dense(3)
        self.extra = layers.Dense(5)

    def build(self, input_shape=None):
        self.fc.build((None, 4))
        self.extra.build((None, 4))


class _KerasWrongShape(layers.Layer):
    def __init__(self):
        super().__init__()
        self.fc = layers.Dense(3)
        self.head = layers.Dense(2)

    def build(self, input_shape=None):
        self.fc.build((None, 5))  # torch fc is Linear(4, 3)
        self.head.build((None, 3))


def test_missing_and_unexpected_keys_are_listed_together():
    torch_module, keras_layer = _Torch(), built(_KerasMissingHead())
    with pytest.raises(parity.WeightTransferError) as caught:
        parity.transfer_weights(torch_module, keras_layer)
    message = str(caught.value)
    assert '"head.weight" (2, 3)' in message and '"head.bias" (2,)' in message
    assert "Keras variables with no torch tensor" in message and "extra" in message
    assert "Fix:" in message


def test_shape_mismatch_names_key_expected_and_received_shape():
    torch_module, keras_layer = _Torch(), built(_KerasWrongShape())
    before = keras_layer.head.kernel.numpy().copy()
    with pytest.raises(
        parity.WeightTransferError, match=r'"fc.weight".*\(3, 4\).*\(4, 3\).*\(5, 3\)'
    ):
        parity.transfer_weights(torch_module, keras_layer)
    # Fail closed: nothing was written, not even the tensors that did fit.
    np.testing.assert_array_equal(keras_layer.head.kernel.numpy(), before)


def test_unbuilt_keras_layer_is_refused_with_a_fix():
    with pytest.raises(parity.WeightTransferError, match=r"not built.*Call it once"):
        parity.transfer_weights(_Torch(), _KerasWrongShape())


def test_missing_bias_is_named():
    torch_module = nn.Sequential(nn.Linear(4, 3))

    class NoBias(layers.Layer):
        def __init__(self):
            super().__init__()
            self.layers_ = [layers.Dense(3, use_bias=False)]

        def build(self, input_shape=None):
            self.layers_[0].build((None, 4))

    class Aligned(keras.Sequential):
        pass

    keras_model = Aligned([keras.Input((4,)), layers.Dense(3, use_bias=False)])
    with pytest.raises(parity.WeightTransferError, match=r'"0.bias" \(3,\).*use_bias=True'):
        parity.transfer_weights(torch_module, keras_model)


def test_epsilon_and_momentum_differences_are_audited():
    torch_module = nn.Sequential(nn.BatchNorm1d(3))
    keras_model = keras.Sequential([keras.Input((3,)), layers.BatchNormalization()])
    report = parity.transfer_weights(torch_module, keras_model)
    findings = " | ".join(report.audit)
    assert "epsilon: torch eps=1e-05, Keras epsilon=0.001" in findings
    assert "momentum: torch momentum=0.1 means Keras momentum=0.9; Keras has 0.99" in findings


def test_torch_to_torch_is_refused():
    with pytest.raises(
        parity.WeightTransferError, match=r"one torch\.nn\.Module and one built Keras"
    ):
        parity.transfer_weights(object(), object())


def test_random_state_reaches_every_tensor():
    module = AllTypesTorch()
    fresh = _state(module)
    touched = randomize_torch(module, seed=0)
    after = _state(module)
    for key in fresh:
        if key.endswith("num_batches_tracked"):
            continue
        assert key in touched
        assert not np.array_equal(fresh[key], after[key]), key
    assert (after["bn2d.running_var"] > 0).all()
    assert torch.equal(module.bn1d.num_batches_tracked, torch.tensor(0))


def test_fused_keras_activation_is_audited():
    torch_module = nn.Sequential(nn.Linear(4, 3))
    keras_model = keras.Sequential([keras.Input((4,)), layers.Dense(3, activation="relu")])
    report = parity.transfer_weights(torch_module, keras_model)
    assert any("activation: Keras Dense applies activation='relu'" in a for a in report.audit)


@pytest.mark.parametrize("spec", list(parity.SPECS.values()), ids=str)
def test_every_registered_block_round_trips_bit_exactly(spec):
    """torch -> Keras -> torch restores every tensor bit for bit, raw parameters of any rank
    included (GlobalFilter's (h, w, dim, 2) filter, ChanLayerNorm's (1, C, 1, 1) gains)."""
    from parity.layout import get_layout
    from parity.runner import case_inputs

    case = spec.asymmetric_case
    torch_module = spec.torch_class(**case.config).double()
    keras_layer = spec.keras_class(**case.config, dtype="float64")
    arrays, extras = case_inputs(case, seed=0, dtype="float64")
    layout = get_layout(spec.layout_for(case))
    keras_layer(*(layout.torch_to_keras(x) for x in arrays), **extras)
    randomize_torch(torch_module, seed=1)
    original = _state(torch_module)
    parity.transfer_weights(torch_module, keras_layer)
    randomize_torch(torch_module, seed=2)
    parity.transfer_weights(keras_layer, torch_module)
    restored = _state(torch_module)
    for key, value in original.items():
        np.testing.assert_array_equal(restored[key], value, err_msg=key)
