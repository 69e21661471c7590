"""Bad input gets a clear ValueError naming what is wrong, on both sides, never a deep traceback."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import parity
from parity.layout import get_layout
from parity.runner import case_inputs

SPECS = list(parity.SPECS.values())
INVALID = [(spec, bad) for spec in SPECS for bad in spec.invalid_configs]


def _keras_array(layout: str, array: np.ndarray) -> np.ndarray:
    try:
        return get_layout(layout).torch_to_keras(array)
    except ValueError:
        return array  # a wrong-rank array may not fit the layout; feed it as it is


def _call_both(spec, config, torch_inputs, extras=None, layout=None):
    """Run the torch reference and the Keras port; return each side's exception (or None)."""
    raised = []
    for side in ("torch", "keras"):
        try:
            if side == "torch":
                module = spec.torch_class(**config).eval()
                with torch.no_grad():
                    module(*(torch.from_numpy(x) for x in torch_inputs), **(extras or {}))
            else:
                layer = spec.keras_class(**config)
                layer(
                    *(_keras_array(layout or spec.layout, x) for x in torch_inputs),
                    **(extras or {}),
                )
        except ValueError as error:
            raised.append(error)
        else:
            raised.append(None)
    return raised


@pytest.mark.parametrize(
    ("spec", "bad"), INVALID, ids=[f"{s.name}-{b.match}-{i}" for i, (s, b) in enumerate(INVALID)]
)
def test_both_sides_reject_the_same_invalid_configuration(spec, bad):
    if bad.input_shape is None and bad.input_shapes is None:
        with pytest.raises(ValueError, match=bad.match):
            spec.torch_class(**bad.config)
        with pytest.raises(ValueError, match=bad.match):
            spec.keras_class(**bad.config)
        return
    rng = np.random.default_rng(0)
    if bad.input_shapes is not None:
        inputs = [rng.standard_normal(shape).astype("float32") for shape in bad.input_shapes]
    else:
        x = rng.standard_normal(bad.input_shape).astype("float32")
        inputs = [x] * len(spec.signature.positional)
    torch_error, keras_error = _call_both(spec, bad.config, inputs)
    shapes = bad.input_shapes or bad.input_shape
    for side, error in (("torch", torch_error), ("keras", keras_error)):
        assert error is not None, f"{side} accepted {bad.config} on {shapes}: {bad.reason}"
        assert bad.match in str(error), f"{side}: {error}"


def _asymmetric(spec):
    return spec.asymmetric_case


@pytest.mark.parametrize("spec", SPECS, ids=str)
def test_wrong_input_rank_is_rejected_on_both_sides(spec):
    case = _asymmetric(spec)
    arrays, _extras = case_inputs(case, seed=0, dtype="float32")
    too_many_axes = [x[..., None] for x in arrays]
    layout = spec.layout_for(case)
    for side, error in zip(
        ("torch", "keras"), _call_both(spec, case.config, too_many_axes, layout=layout), strict=True
    ):
        assert error is not None, f"{side} accepted a rank-{too_many_axes[0].ndim} input"
        assert "Received" in str(error), f"{side}: {error}"
        assert str(tuple(too_many_axes[0].shape)).replace(" ", "") in str(error).replace(
            " ", ""
        ) or (
            str(_keras_array(layout, too_many_axes[0]).shape).replace(" ", "")
            in str(error).replace(" ", "")
        ), f"{side} does not name the received shape: {error}"


def _channel_key(spec) -> str | None:
    config = _asymmetric(spec).config
    return next((k for k in ("channel", "d_model") if k in config), None)


# Blocks without a channel argument (ECAAttention) accept any channel count by design.
CHANNEL_SPECS = [spec for spec in SPECS if _channel_key(spec)]


@pytest.mark.parametrize("spec", CHANNEL_SPECS, ids=str)
def test_wrong_channel_count_is_rejected_on_both_sides(spec):
    case = _asymmetric(spec)
    key = _channel_key(spec)
    arrays, _ = case_inputs(case, seed=0, dtype="float32")
    layout = spec.layout_for(case)
    axis = 1 if get_layout(layout).channels_first_to_last else -1
    wrong = [np.concatenate([x, x.take([0], axis=axis)], axis=axis) for x in arrays]
    errors = _call_both(spec, case.config, wrong, layout=layout)
    for side, error in zip(("torch", "keras"), errors, strict=True):
        assert error is not None, f"{side} accepted {wrong[0].shape} for {key}={case.config[key]}"
        assert "Received" in str(error), f"{side}: {error}"
