"""The harness catches the classic porting bugs: break a correct pair, expect a failure."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import parity
from parity.randomize import randomize_torch
from tests.pairs import ToyKeras, ToyTorch

SHAPE = (2, 3, 5, 4)  # H != W != C
PLAIN_OUT = {"output_layout": "plain"}  # NCHW inputs, a (batch, 7) output


def _inputs(dtype: str) -> np.ndarray:
    return np.random.default_rng(11).standard_normal(SHAPE).astype(dtype)


def _transferred(dtype: str, **bugs):
    torch_module = ToyTorch().to(getattr(torch, dtype)).eval()
    randomize_torch(torch_module, seed=5)
    keras_layer = ToyKeras(dtype=dtype, **bugs)
    keras_layer(np.moveaxis(_inputs(dtype), 1, -1))
    return torch_module, keras_layer


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_correct_pair_passes(dtype):
    torch_module, keras_layer = _transferred(dtype)
    result = parity.compare(torch_module, keras_layer, _inputs(dtype), seed=3, **PLAIN_OUT)
    assert result.passed, result.message


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_kernel_with_height_and_width_swapped_is_caught(dtype):
    torch_module, keras_layer = _transferred(dtype)
    parity.transfer_weights(torch_module, keras_layer)
    kernel = keras_layer.conv.kernel.numpy()
    keras_layer.conv.kernel.assign(kernel.transpose(1, 0, 2, 3))  # (kh, kw) -> (kw, kh)
    result = parity.compare(
        torch_module, keras_layer, _inputs(dtype), randomize=False, transfer=False, **PLAIN_OUT
    )
    assert not result.passed
    assert result.mismatched > 0 and result.max_rel > 1e-3, result.message


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_dropped_bias_is_caught(dtype):
    torch_module, keras_layer = _transferred(dtype, conv_bias=False)
    # The strict transfer refuses outright, naming the tensor ...
    with pytest.raises(parity.WeightTransferError, match=r'"conv.bias" \(6,\)'):
        parity.compare(torch_module, keras_layer, _inputs(dtype), **PLAIN_OUT)
    # ... and a bias zeroed after a correct transfer is caught by the numbers.
    torch_module, keras_layer = _transferred(dtype)
    parity.transfer_weights(torch_module, keras_layer)
    keras_layer.conv.bias.assign(np.zeros(6, dtype))
    result = parity.compare(
        torch_module, keras_layer, _inputs(dtype), randomize=False, transfer=False, **PLAIN_OUT
    )
    assert not result.passed, result.message


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_keras_default_epsilon_is_caught_by_audit_and_by_numbers(dtype):
    torch_module, keras_layer = _transferred(dtype, bn_epsilon=1e-3)
    result = parity.compare(torch_module, keras_layer, _inputs(dtype), **PLAIN_OUT)
    assert not result.passed
    assert any("epsilon: torch eps=1e-05, Keras epsilon=0.001" in a for a in result.audit)
    assert "configuration differences" in result.message
    # The numbers alone fail too (audit findings aside): the value check is not blind to it.
    assert result.mismatched > 0, result.message


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_flatten_without_transposing_nhwc_is_caught(dtype):
    torch_module, keras_layer = _transferred(dtype, transpose_before_flatten=False)
    result = parity.compare(torch_module, keras_layer, _inputs(dtype), **PLAIN_OUT)
    assert not result.passed
    assert result.max_rel > 1e-2, result.message


def test_assert_parity_raises_parity_error_with_report():
    torch_module, keras_layer = _transferred("float64", transpose_before_flatten=False)
    with pytest.raises(parity.ParityError) as caught:
        parity.assert_parity(torch_module, keras_layer, _inputs("float64"), **PLAIN_OUT)
    assert isinstance(caught.value, AssertionError)
    message = str(caught.value)
    assert "Parity failure: ToyTorch" in message
    assert "mismatched:" in message and "worst element at torch" in message
    assert caught.value.result.worst_keras_index is not None


def test_worst_element_index_is_given_in_both_layouts():
    torch_module, keras_layer = _transferred("float64")
    parity.transfer_weights(torch_module, keras_layer)
    result = parity.compare(
        torch_module, keras_layer, _inputs("float64"), randomize=False, transfer=False, **PLAIN_OUT
    )
    assert result.passed, result.message
    # Index mapping for an image output: torch (b, c, h, w) is Keras (b, h, w, c).
    from parity.layout import get_layout

    assert get_layout("image").torch_index_to_keras((1, 2, 3, 4)) == (1, 3, 4, 2)


def test_rank_two_output_in_image_layout_is_a_layout_problem_not_a_pass():
    torch_module, keras_layer = _transferred("float64")
    result = parity.compare(torch_module, keras_layer, _inputs("float64"))
    assert not result.passed and "rank >= 3" in result.problem


def test_tiny_outputs_are_not_waved_through_by_atol():
    """Scale everything down by 1e6: a 10% error must still fail even though |diff| << atol."""
    from parity.compare import compare_arrays
    from parity.layout import get_layout
    from parity.tolerance import resolve_tolerance

    expected = np.random.default_rng(0).standard_normal((2, 3, 4, 5)) * 1e-6
    actual = np.moveaxis(expected * 1.1, 1, -1)
    result = compare_arrays(
        expected, actual, get_layout("image"), resolve_tolerance("float32"), "float32"
    )
    assert result.max_abs < 1e-5
    assert not result.passed


def test_rtol_and_atol_travel_together():
    torch_module, keras_layer = _transferred("float64")
    with pytest.raises(ValueError, match="together"):
        parity.compare(torch_module, keras_layer, _inputs("float64"), rtol=1e-3, **PLAIN_OUT)


def test_non_finite_values_must_sit_in_the_same_places():
    from parity.compare import compare_arrays
    from parity.layout import get_layout
    from parity.tolerance import resolve_tolerance

    plain, tolerance = get_layout("plain"), resolve_tolerance("float64")
    expected = np.array([[1.0, np.nan, np.inf, -np.inf, 2.0]])
    same = compare_arrays(expected, expected.copy(), plain, tolerance, "float64")
    assert same.passed and np.isfinite(same.max_rel), same.message  # NaN/inf agree: SGE at 1x1
    flipped = expected.copy()
    flipped[0, 3] = np.inf  # -inf became +inf
    result = compare_arrays(expected, flipped, plain, tolerance, "float64")
    assert not result.passed and "non-finite mismatch" in result.problem
    assert result.worst_torch_index == (0, 3)
    moved = np.array([[1.0, 3.0, np.inf, -np.inf, np.nan]])
    assert not compare_arrays(expected, moved, plain, tolerance, "float64").passed
