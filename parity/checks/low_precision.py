"""The `float16` and `bfloat16` checks: both sides run with inputs and weights in the low precision;
the referee is float64 (the same rounded weights and inputs, computed in float64). The port's
error against it may be at most `K` times torch's own error plus a floor:

    error(Keras) <= K * error(torch) + FLOOR * eps(dtype)

where an error is `max |output - float64 result| / RMS(float64 result)`. Both errors are reported.

`K` and `FLOOR` are measured. Over 638 low-precision checks (every registered block: its
upstream and asymmetric cases and 8 generated ones, both dtypes), the correct ports' error, less
the floor, reaches at most 3.9x torch's in float16 (DoubleAttention, upstream case: 8.6e-3 vs
2.2e-3) and 4.9x in bfloat16 (AxialAttention, a generated case: 4.4e-2 vs 5.8e-3). The causes
are TensorFlow's, not the ports': TF's CPU bfloat16 matmul is 1.6 to 2.0x less accurate than
torch's (max error of one (256, K) @ (K, 64) product, K = 12 to 512: 2.2e-2 vs 1.1e-2 of the
RMS), which compounds over a chain of projections; float16 matmuls match. K = 8 leaves a 1.6x
margin over the worst. What the check exists for stays far outside it: a float16 softmax without
the maximum subtraction overflows to inf (`examples/beyond_forward`), an L2 norm summed in
float16 overflowed (UFOAttention before its fix: 1.1 against torch's 1.8e-3, 611x), a variance
summed in float16 lost 22x (SpatialGroupEnhance before its fix). FLOOR covers outputs torch
computes exactly.
"""

from __future__ import annotations

import copy

import numpy as np

from parity.checks import NOT_APPLICABLE, CheckResult
from parity.layout import resolve_layouts

K = 8.0  # how many times torch's own low-precision error the port may reach
FLOOR = 2.0  # in units of the dtype's machine epsilon, for outputs torch gets exactly right
EPSILON = {"float16": float(np.finfo(np.float16).eps), "bfloat16": 2.0**-7}


def _keras_layer(prepared, dtype: str):
    """A copy of the comparison's Keras layer computing in `dtype` (rebuilt from its config)."""
    from parity.runner import dtype_policy

    comparison = prepared.comparison
    if comparison.factory is not None:
        return comparison.factory({}, dtype)[1]
    config = comparison.keras_layer.get_config()
    config["dtype"] = dtype
    with dtype_policy(dtype):
        return type(comparison.keras_layer).from_config(config)


def _relative(values: list[np.ndarray], reference: list[np.ndarray]) -> float:
    worst = 0.0
    for value, ref in zip(values, reference, strict=True):
        ref = ref.astype(np.float64)
        if value.shape != ref.shape:
            return float("inf")
        finite = np.isfinite(ref)
        if not np.array_equal(np.isfinite(value), finite):
            return float("inf")
        scale = float(np.sqrt(np.mean(np.square(ref[finite])))) if finite.any() else 0.0
        difference = np.abs(value.astype(np.float64)[finite] - ref[finite])
        worst = max(worst, float(difference.max(initial=0.0)) / (scale or 1.0))
    return worst


def _outputs(value) -> list:
    return list(value) if isinstance(value, list | tuple) else [value]


def check_low_precision(prepared, outputs, dtype: str) -> CheckResult:
    """See the module docstring."""
    import keras
    import torch

    from parity.runner import informative_line
    from parity.weights import transfer_weights

    comparison = prepared.comparison
    low = getattr(torch, dtype)
    module = comparison.torch_module
    # The weights and inputs rounded to the low precision, then the float64 referee on them.
    low_module = copy.deepcopy(module).to(low).eval()
    rounded = copy.deepcopy(low_module).to(torch.float32)  # exact: carries the rounded values
    reference_module = copy.deepcopy(low_module).to(torch.float64)
    torch_inputs = [x.to(low) if x.is_floating_point() else x for x in prepared.torch_inputs]

    def extras(target):
        return {
            k: (v.to(target) if isinstance(v, torch.Tensor) and v.is_floating_point() else v)
            for k, v in prepared.torch_extras.items()
        }

    try:
        with torch.no_grad():
            torch_low = [
                o.to(torch.float64).numpy()
                for o in _outputs(low_module(*torch_inputs, **extras(low)))
            ]
            reference = [
                o.numpy()
                for o in _outputs(
                    reference_module(
                        *[
                            x.to(torch.float64) if x.is_floating_point() else x
                            for x in torch_inputs
                        ],
                        **extras(torch.float64),
                    )
                )
            ]
    except Exception as error:
        return CheckResult(
            dtype, NOT_APPLICABLE,
            summary=f"torch cannot run the module in {dtype} on this machine: "
            f"{type(error).__name__}: {informative_line(error)}",
        )  # fmt: skip
    layouts = resolve_layouts(comparison.output_layout, len(reference))
    try:
        layer = _keras_layer(prepared, dtype)
        keras_inputs = [
            keras.ops.cast(keras.ops.convert_to_tensor(lay.torch_to_keras(x.to(torch.float32).numpy())), dtype)
            if x.is_floating_point() else x.numpy()
            for lay, x in zip(comparison.input_layouts, torch_inputs, strict=True)
        ]  # fmt: skip
        keras_extras = {
            k: keras.ops.cast(v, dtype) if hasattr(v, "dtype") and "float" in str(v.dtype) else v
            for k, v in prepared.keras_extras.items()
        }
        layer(*keras_inputs, **keras_extras)
        transfer_weights(rounded, layer, overrides=comparison.overrides,
                         converters=comparison.converters, name_map=comparison.name_map)  # fmt: skip
        keras_low = [
            lay.keras_to_torch(np.asarray(keras.ops.cast(o, "float64")))
            for lay, o in zip(layouts, _outputs(layer(*keras_inputs, **keras_extras, training=False)), strict=True)
        ]  # fmt: skip
    except Exception as error:
        return CheckResult(
            dtype, "mismatch",
            summary=f"torch runs in {dtype} but the Keras port fails: {type(error).__name__}: "
            f"{informative_line(error)}",
        )  # fmt: skip
    torch_error = _relative(torch_low, reference)
    keras_error = _relative(keras_low, reference)
    bound = K * torch_error + FLOOR * EPSILON[dtype]
    summary = (
        f"error vs float64: Keras {keras_error:.1e}, torch {torch_error:.1e}; allowed "
        f"{K:g} x torch + {FLOOR:g} eps = {bound:.1e}"
    )
    if not np.isfinite(torch_error):
        return CheckResult(dtype, "inconclusive", None,
                           f"torch's own {dtype} output is not finite where float64's is")  # fmt: skip
    verdict = "pass" if keras_error <= bound else "mismatch"
    details = (
        []
        if verdict == "pass"
        else [
            f"the port loses more precision in {dtype} than torch: a reduction, softmax or norm "
            "computed in the low precision where torch's kernels upcast (compute it in float32 and "
            "cast back). Correct ports stay within 4.9x torch's error here; TF's own bfloat16 "
            "matmuls account for up to 2x per product"
        ]
    )
    return CheckResult(dtype, verdict, keras_error, summary, details)


def check_float16(prepared, outputs) -> CheckResult:
    """float16 on both sides, judged against float64."""
    return check_low_precision(prepared, outputs, "float16")


def check_bfloat16(prepared, outputs) -> CheckResult:
    """bfloat16 on both sides, judged against float64."""
    return check_low_precision(prepared, outputs, "bfloat16")
