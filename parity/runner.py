"""The only code that runs both frameworks: `run_pair` for any module pair, `run_case` for a spec."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from parity.compare import ParityResult, compare_arrays
from parity.errors import LayoutError, ModuleCallError
from parity.layout import Layout, resolve_layouts
from parity.randomize import randomize_torch, seeded_array, seeded_mask
from parity.spec import Case, ModuleSpec
from parity.tolerance import Tolerance, resolve_tolerance
from parity.weights import audit_hyperparameters, transfer_weights

_TORCH_DTYPES = {"float32": "float32", "float64": "float64"}
_FRAMEWORKS_READY = False


def prepare_frameworks() -> None:
    """Quiet TF's logs and switch TF32 off on both sides (it would change float32 results)."""
    global _FRAMEWORKS_READY
    if _FRAMEWORKS_READY:
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf
    import torch

    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    tf.config.experimental.enable_tensor_float_32_execution(False)
    _FRAMEWORKS_READY = True


def _as_list(outputs) -> list:
    if isinstance(outputs, list | tuple):
        return list(outputs)
    return [outputs]


def _dtype_name(dtype) -> str:
    name = str(np.dtype(dtype)) if not isinstance(dtype, str) else dtype
    if name not in _TORCH_DTYPES:
        raise ValueError(f"Expected dtype 'float32' or 'float64'. Received: dtype={dtype!r}")
    return name


def _call_module(side: str, module, inputs, kwargs, **extra):
    """Call a module under test; re-raise anything it raises as a `ModuleCallError` that names
    the side, the class and the input shapes (the original stays chained as the cause)."""
    try:
        return module(*inputs, **kwargs, **extra)
    except Exception as error:
        shapes = ", ".join(str(tuple(np.shape(x))) for x in inputs)
        text = str(error).strip()
        first = next((line for line in text.splitlines() if line.strip()), type(error).__name__)
        raise ModuleCallError(
            f"The {side} {type(module).__name__} raised {type(error).__name__} on inputs of shape "
            f"{shapes}: {first.strip()}"
        ) from error


def run_pair(
    torch_module,
    keras_layer,
    inputs: Sequence[np.ndarray],
    *,
    layout: str | Layout | Sequence[str | Layout] = "image",
    output_layout: str | Layout | Sequence[str | Layout] | None = None,
    call_kwargs: Mapping[str, Any] | None = None,
    dtype: str | None = None,
    randomize: bool = True,
    seed: int = 0,
    tolerance: Tolerance | None = None,
    tolerance_source: str | None = None,
    transfer: bool = True,
    overrides: Mapping[str, Any] | None = None,
    training: bool = False,
    audit: bool = True,
    localize: bool = True,
    context: Mapping[str, Any] | None = None,
) -> ParityResult:
    """Randomise torch, transfer its weights to Keras, run both on `inputs`, compare.

    `inputs` are numpy arrays in the torch layout; `layout` converts them for Keras (one name for
    all, or one per input); `output_layout` (default: `layout` when it is one name) converts the
    Keras outputs back. `call_kwargs` are passed to both calls unconverted (masks, weights).
    Returns the result of the first failing output, else of the output with the largest error.
    On a value mismatch (and `localize`), every name-aligned sub-layer is compared too and the
    first diverging one is named.
    """
    import keras
    import torch

    prepare_frameworks()
    if not inputs:
        raise ValueError("Expected at least one input array. Received: no inputs")
    arrays = [np.asarray(x) for x in inputs]
    dtype = _dtype_name(dtype or arrays[0].dtype)
    arrays = [x.astype(dtype) if np.issubdtype(x.dtype, np.floating) else x for x in arrays]
    input_layouts = resolve_layouts(layout, len(arrays))
    if output_layout is None:
        if not isinstance(layout, str | Layout):
            raise LayoutError(
                "With one layout per input, also declare `output_layout` (one name, or one per "
                f"output). Received: layout={list(layout)!r}, output_layout=None"
            )
        output_layout = layout
    if not isinstance(keras_layer, keras.layers.Layer):
        raise ValueError(
            f"Expected a Keras layer as the second argument. Received: {type(keras_layer).__name__}"
        )
    if not isinstance(torch_module, torch.nn.Module):
        raise ValueError(
            f"Expected a torch.nn.Module as the first argument. Received: {type(torch_module).__name__}"
        )
    if keras_layer.compute_dtype != dtype:
        raise ValueError(
            f"The Keras layer computes in {keras_layer.compute_dtype} but the inputs are {dtype}. "
            f"Build the layer with dtype={dtype!r} (or pass {keras_layer.compute_dtype} inputs). "
            f"Received: layer dtype={keras_layer.compute_dtype}, input dtype={dtype}"
        )
    torch_dtype = getattr(torch, dtype)
    torch_module.to(torch_dtype)
    torch_module.train(training)
    if randomize:
        randomize_torch(torch_module, seed)

    keras_inputs = [lay.torch_to_keras(x) for lay, x in zip(input_layouts, arrays, strict=True)]
    extras = dict(call_kwargs or {})
    torch_extras = {
        k: torch.from_numpy(np.ascontiguousarray(v)).to(torch_dtype)
        if isinstance(v, np.ndarray) and np.issubdtype(v.dtype, np.floating)
        else (torch.from_numpy(np.ascontiguousarray(v)) if isinstance(v, np.ndarray) else v)
        for k, v in extras.items()
    }
    keras_extras = {
        k: keras.ops.convert_to_tensor(
            v.astype(dtype) if np.issubdtype(v.dtype, np.floating) else v
        )
        if isinstance(v, np.ndarray)
        else v
        for k, v in extras.items()
    }
    if not keras_layer.built:
        _call_module("Keras", keras_layer, keras_inputs, keras_extras, training=training)

    audit_findings: list[str] = []
    if transfer:
        report = transfer_weights(torch_module, keras_layer, overrides=overrides)
        audit_findings = list(report.audit)
    elif audit:
        audit_findings = audit_hyperparameters(torch_module, keras_layer, overrides)

    with torch.no_grad():
        torch_outputs = _as_list(
            torch_module(
                *(torch.from_numpy(np.ascontiguousarray(x)) for x in arrays), **torch_extras
            )
        )
    keras_outputs = _as_list(keras_layer(*keras_inputs, **keras_extras, training=training))
    if len(torch_outputs) != len(keras_outputs):
        result = ParityResult(passed=False, dtype=dtype, rtol=0.0, atol=0.0)
        result.problem = (
            f"output count differs: torch returned {len(torch_outputs)}, Keras {len(keras_outputs)}"
        )
        result.context.update(context or {})
        return result
    output_layouts = resolve_layouts(output_layout, len(torch_outputs))
    tolerance = tolerance or resolve_tolerance(dtype)
    chosen: ParityResult | None = None
    for index, (expected, actual, lay) in enumerate(
        zip(torch_outputs, keras_outputs, output_layouts, strict=True)
    ):
        result = compare_arrays(
            expected.detach().cpu().numpy(),
            keras.ops.convert_to_numpy(actual),
            lay,
            tolerance,
            dtype,
        )
        result.output_index = index
        if chosen is None or (
            chosen.passed and (not result.passed or result.max_rel > chosen.max_rel)
        ):
            chosen = result
    chosen.context.update(context or {})
    chosen.context["output_count"] = len(torch_outputs)
    chosen.context["seed"] = seed
    if tolerance_source:
        chosen.context["tolerance_source"] = tolerance_source
    if localize and not chosen.passed and chosen.worst_torch_index is not None and not training:
        from parity.localize import localize as localize_sub_layers

        torch_arrays = [torch.from_numpy(np.ascontiguousarray(x)) for x in arrays]
        rows = localize_sub_layers(
            torch_module, keras_layer, torch_arrays, keras_inputs, torch_extras, keras_extras,
            tolerance, dtype, layout if isinstance(layout, str) else "image",
        )  # fmt: skip
        chosen.localization = rows
        first = next((row for row in rows if row.first), None)
        if first is not None:
            chosen.first_divergence = f"{first.path} ({first.torch_type} -> {first.keras_type})"
            if first.local_passed:
                chosen.first_divergence += (
                    "; it is correct when fed torch's input, so the code just before it (in its "
                    "parent's call) differs"
                )
    if audit and audit_findings:
        chosen.audit = audit_findings
        chosen.passed = False
        if not chosen.problem:
            chosen.problem = "numerically relevant hyper-parameters differ (see above)"
    return chosen


def case_inputs(
    case: Case, seed: int, dtype: str
) -> tuple[list[np.ndarray], dict[str, np.ndarray]]:
    """The seeded input arrays (torch layout) and keyword inputs of `case`."""
    if case.shared_input:
        shared = seeded_array(case.input_shapes[0], seed, dtype)
        arrays = [shared for _ in case.input_shapes]
    else:
        arrays = [seeded_array(s, seed + i, dtype) for i, s in enumerate(case.input_shapes)]
    extras = {}
    for offset, (name, extra) in enumerate(case.extra_inputs.items(), start=1000):
        if extra.kind == "mask":
            extras[name] = seeded_mask(extra.shape, seed + offset)
        else:
            extras[name] = seeded_array(extra.shape, seed + offset, dtype)
    return arrays, extras


def reproduce_command(spec: ModuleSpec, case: Case, seed: int, dtype: str) -> str:
    """The one-line command that replays `case` without hypothesis."""
    shapes = " ".join(f"--input-shape {','.join(map(str, s))}" for s in case.input_shapes)
    extras = "".join(
        f" --extra {name}={extra.kind}:{','.join(map(str, extra.shape))}"
        for name, extra in case.extra_inputs.items()
    )
    shared = " --shared-input" if case.shared_input else ""
    config = json.dumps(dict(case.config), sort_keys=True)
    return (
        f"parity check {spec.name} --init '{config}' {shapes}{extras}{shared} "
        f"--seed {seed} --dtype {dtype}"
    )


def build_pair(spec: ModuleSpec, case: Case, dtype: str):
    """Construct the torch module and the Keras layer of `spec` for `case.config`."""
    torch_module = spec.torch_class(**case.config)
    keras_layer = spec.keras_class(**case.config, dtype=dtype)
    return torch_module, keras_layer


def run_built(
    torch_module,
    keras_layer,
    case: Case,
    *,
    dtype: str,
    seed: int,
    layout: Any,
    output_layout: Any,
    name: str,
    randomize: bool = True,
    tolerance: Tolerance | None = None,
    tolerance_source: str | None = None,
    overrides: Mapping[str, Any] | None = None,
    reproduce: str | None = None,
    repro_dir: str | os.PathLike | None = None,
) -> ParityResult:
    """Compare an already-built pair on `case`'s seeded inputs; on failure, write a repro file
    into `repro_dir` (when given) and point the reproduce line at `parity replay FILE`."""
    arrays, extras = case_inputs(case, seed, dtype)
    tolerance = tolerance or resolve_tolerance(dtype)
    context = {"name": name, "case": case.describe()}
    if reproduce:
        context["reproduce"] = reproduce
    result = run_pair(
        torch_module,
        keras_layer,
        arrays,
        layout=layout,
        output_layout=output_layout,
        call_kwargs=extras,
        dtype=dtype,
        seed=seed,
        randomize=randomize,
        tolerance=tolerance,
        tolerance_source=tolerance_source,
        overrides=overrides,
        context=context,
    )
    if not result.passed and repro_dir is not None:
        from parity.repro import write_repro

        file_name = f"{name}-{dtype}-seed{seed}-{abs(hash(case.describe())) % 10**8:08d}.npz"
        path = write_repro(
            os.path.join(repro_dir, file_name),
            torch_module=torch_module,
            keras_layer=keras_layer,
            init=case.config,
            inputs=arrays,
            extras=extras,
            layout=layout,
            output_layout=output_layout,
            dtype=dtype,
            seed=seed,
            rtol=tolerance.rtol,
            atol=tolerance.atol,
            name=name,
            message=result.message,
        )
        result.context["repro_file"] = str(path)
        result.context["reproduce"] = f"parity replay {path}"
    return result


def run_case(
    spec: ModuleSpec,
    case: Case,
    *,
    dtype: str = "float32",
    seed: int = 0,
    repro_dir: str | os.PathLike | None = None,
) -> ParityResult:
    """Build `spec`'s pair for `case`, draw seeded inputs and weights, and compare."""
    dtype = _dtype_name(dtype)
    torch_module, keras_layer = build_pair(spec, case, dtype)
    tolerance, reason = spec.tolerance_for(case, dtype)
    return run_built(
        torch_module,
        keras_layer,
        case,
        dtype=dtype,
        seed=seed,
        layout=spec.layout,
        output_layout=spec.resolved_output_layout,
        name=spec.name,
        tolerance=tolerance,
        tolerance_source=f"{spec.name} override: {reason}" if tolerance else None,
        overrides=spec.transfer_overrides,
        reproduce=reproduce_command(spec, case, seed, dtype),
        repro_dir=repro_dir,
    )
