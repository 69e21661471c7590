"""The only code that runs both frameworks, in typed stages.

    comparison = build_comparison(torch_module, keras_layer, inputs, ...)   # validate, once
    result = run_comparison(comparison)
        with isolated(torch_module, keras_layer):       # the caller's things come back as they were
            prepared = prepare(comparison)               # modes, weights, audit, converted inputs
            outputs = execute(prepared)                  # both forwards
            result = judge(prepared, outputs)            # compare every output: the verdict
            explain(prepared, outputs, result)           # localise a mismatch to a sub-layer
            record(comparison, result)                   # a repro file for a failure or a crash

`run_case` builds a registered spec's pair for one `Case` and runs it the same way.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from parity.compare import ParityResult, compare_arrays
from parity.converters import Converter
from parity.deviations import excuse, normalize_allow
from parity.errors import LayoutError, ModuleCallError
from parity.isolation import Isolation, isolated
from parity.layout import Layout, get_layout, resolve_layouts
from parity.name_map import parse_name_map
from parity.randomize import randomize_torch, seeded_array, seeded_mask
from parity.repro import reproduce_command
from parity.spec import Case, KnownDeviation, ModuleSpec
from parity.tolerance import Tolerance, resolve_tolerance
from parity.weights import audit_hyperparameters, transfer_weights

SUPPORTED_DTYPES = ("float32", "float64")


# ---------------------------------------------------------------------------------------------
# Stage 0: what the caller asked for, validated once.


@dataclass(frozen=True)
class Comparison:
    """One comparison of a torch module with its Keras port, validated (the input of every stage).

    `inputs` are numpy arrays in the torch layout, already in `dtype`; `input_layouts` has one
    layout per input; `output_layout` is one layout for all outputs or one per output.
    """

    torch_module: Any
    keras_layer: Any
    inputs: tuple[np.ndarray, ...]
    input_layouts: tuple[Layout, ...]
    output_layout: Any
    dtype: str
    tolerance: Tolerance
    call_kwargs: Mapping[str, Any] = field(default_factory=dict)
    seed: int = 0
    randomize: bool = True
    transfer: bool = True
    training: bool = False
    audit: bool = True
    localize: bool = True
    tolerance_source: str | None = None
    overrides: Mapping[str, Any] | None = None
    name: str = "module pair"
    case: str | None = None  # a description of the case, for reports
    init: Mapping[str, Any] | None = None  # constructor arguments: needed for a repro file
    keras_init: Mapping[str, Any] | None = None  # the Keras side's, where they differ from init
    reproduce: str | None = None  # the command that replays this case
    repro_dir: str | os.PathLike | None = None
    localization_layout: str = "image"
    converters: tuple[Converter, ...] = ()  # the user's converters for their own layer types
    name_map: Mapping[str, Any] | None = None  # torch path -> Keras path where names differ
    allowances: tuple[KnownDeviation, ...] = ()  # per-sub-layer known deviations
    checks: tuple[str, ...] = ("forward",)  # parity.checks.CHECK_NAMES to run
    # Builds a fresh pair (config changes, dtype) -> (torch, keras), for checks that need one
    # (training with dropout off, half precision); None when the caller built the pair.
    factory: Callable[[Mapping[str, Any], str], tuple[Any, Any]] | None = None
    training_config: Mapping[str, Any] = field(default_factory=dict)  # e.g. {"dropout": 0.0}
    static_axes: Mapping[int, str] = field(default_factory=dict)  # Keras axes kept known, why
    not_applicable: Mapping[str, str] = field(default_factory=dict)  # check -> why it cannot apply


def _dtype_name(dtype) -> str:
    try:
        name = str(np.dtype(dtype))
    except TypeError:
        name = str(dtype)
    if name not in SUPPORTED_DTYPES:
        raise ValueError(
            f"Expected floating inputs of dtype 'float32' or 'float64' (the dtype of the "
            f"comparison). Received: dtype={name!r}; cast the arrays, e.g. x.astype('float32')"
        )
    return name


def _as_input_array(value, index: int) -> np.ndarray:
    try:
        array = np.asarray(value)
    except Exception as error:  # an object numpy cannot hold (a ragged list, a generator...)
        raise ValueError(
            f"Input #{index} cannot be read as a numpy array: {error}. "
            f"Received: {type(value).__name__}"
        ) from None
    if array.dtype == object or not (
        np.issubdtype(array.dtype, np.number) or np.issubdtype(array.dtype, np.bool_)
    ):
        raise ValueError(
            f"Input #{index} must be a numeric array. Received: dtype={array.dtype}, "
            f"type={type(value).__name__}"
        )
    if np.issubdtype(array.dtype, np.complexfloating):
        raise ValueError(f"Input #{index} is complex; the harness compares real arrays.")
    return array


def build_comparison(
    torch_module,
    keras_layer,
    inputs: Sequence[Any],
    *,
    layout: str | Layout | Sequence[str | Layout] = "image",
    output_layout: str | Layout | Sequence[str | Layout] | None = None,
    call_kwargs: Mapping[str, Any] | None = None,
    dtype: str | None = None,
    tolerance: Tolerance | None = None,
    converters: Sequence[Converter] = (),
    name_map: Mapping[str, Any] | None = None,
    allow: Any = None,
    **options: Any,
) -> Comparison:
    """Validate the arguments of a comparison and return the typed `Comparison`.

    Raises `ValueError` (or `LayoutError`) naming the argument that is wrong. `allow` takes the
    forms of `parity.deviations.normalize_allow`; `options` are the remaining `Comparison`
    fields (seed, randomize, transfer, training, name, ...).
    """
    import keras
    import torch

    if not isinstance(torch_module, torch.nn.Module):
        raise ValueError(
            "Expected a torch.nn.Module as the first argument. "
            f"Received: {type(torch_module).__name__}"
        )
    if not isinstance(keras_layer, keras.layers.Layer):
        raise ValueError(
            f"Expected a Keras layer as the second argument. Received: {type(keras_layer).__name__}"
        )
    if not inputs:
        raise ValueError("Expected at least one input array. Received: no inputs")
    arrays = [_as_input_array(x, i) for i, x in enumerate(inputs)]
    floating = [x for x in arrays if np.issubdtype(x.dtype, np.floating)]
    if dtype is None:
        if not floating:
            raise ValueError(
                "Expected at least one floating input array: its dtype (float32 or float64) is "
                f"the dtype of the comparison. Received dtypes: {[str(x.dtype) for x in arrays]}"
            )
        kinds = sorted({str(x.dtype) for x in floating})
        if len(kinds) > 1:
            raise ValueError(
                f"The floating inputs have different dtypes {kinds}; give them all the dtype of "
                "the comparison (float32 or float64)."
            )
        dtype = kinds[0]
    dtype = _dtype_name(dtype)
    arrays = [x.astype(dtype) if np.issubdtype(x.dtype, np.floating) else x for x in arrays]
    input_layouts = resolve_layouts(layout, len(arrays))
    if output_layout is None:
        if not isinstance(layout, str | Layout):
            raise LayoutError(
                "With one layout per input, also declare `output_layout` (one name, or one per "
                f"output). Received: layout={list(layout)!r}, output_layout=None"
            )
        output_layout = layout
    if isinstance(output_layout, str | Layout):
        get_layout(output_layout)
    else:
        [get_layout(item) for item in output_layout]
    for lay, array in zip(input_layouts, arrays, strict=True):
        lay.torch_to_keras(array)  # rank check: raises LayoutError naming the layout
    if keras_layer.compute_dtype != dtype:
        raise ValueError(
            f"The Keras layer computes in {keras_layer.compute_dtype} but the inputs are {dtype}. "
            f"Build the layer with dtype={dtype!r} (or pass {keras_layer.compute_dtype} inputs). "
            f"Received: layer dtype={keras_layer.compute_dtype}, input dtype={dtype}"
        )
    check_sub_layer_dtypes(keras_layer, dtype)
    converters = tuple(converters or ())
    for converter in converters:
        if not isinstance(converter, Converter):
            raise ValueError(
                "Expected `converters` to hold parity.Converter objects. "
                f"Received: {type(converter).__name__}"
            )
    name_map = parse_name_map(name_map)
    allowances = (*options.pop("allowances", ()), *normalize_allow(allow))
    if "checks" in options:
        from parity.checks import parse_checks

        options["checks"] = parse_checks(options["checks"])
    if call_kwargs is not None and not isinstance(call_kwargs, Mapping):
        raise ValueError(
            f"Expected `call_kwargs` to be a mapping of keyword inputs. Received: "
            f"{type(call_kwargs).__name__}"
        )
    return Comparison(
        torch_module=torch_module,
        keras_layer=keras_layer,
        inputs=tuple(arrays),
        input_layouts=tuple(input_layouts),
        output_layout=output_layout,
        dtype=dtype,
        tolerance=tolerance or resolve_tolerance(dtype),
        call_kwargs=dict(call_kwargs or {}),
        localization_layout=layout if isinstance(layout, str) else "image",
        converters=converters,
        name_map=name_map or None,
        allowances=tuple(allowances),
        **options,
    )


def _sub_layer_paths(keras_layer) -> list[tuple[str, Any]]:
    """(attribute path, layer) of every Keras sub-layer, the user's names first."""
    import keras

    found: list[tuple[str, Any]] = []
    seen: set[int] = {id(keras_layer)}

    def visit(obj, prefix: str) -> None:
        if isinstance(obj, list | tuple):
            for index, item in enumerate(obj):
                visit(item, f"{prefix}.{index}")
            return
        if not isinstance(obj, keras.layers.Layer) or id(obj) in seen:
            return
        seen.add(id(obj))
        found.append((prefix, obj))
        for name, value in vars(obj).items():
            if not name.startswith("_"):
                visit(value, f"{prefix}.{name}")

    for name, value in vars(keras_layer).items():
        if not name.startswith("_"):
            visit(value, name)
    for layer in keras_layer._flatten_layers(include_self=False, recursive=True):
        if id(layer) not in seen:
            seen.add(id(layer))
            found.append((layer.name, layer))
    return found


def check_sub_layer_dtypes(keras_layer, dtype: str) -> None:
    """Refuse a Keras layer whose sub-layers compute in another float dtype than the comparison
    (Keras 3 does not pass `dtype` on to sub-layers; most existing Keras code does not either),
    naming each one and the fix."""
    wrong = [
        f"{path} ({type(layer).__name__}, {layer.dtype_policy.name})"
        for path, layer in _sub_layer_paths(keras_layer)
        if layer.compute_dtype != dtype and "float" in str(layer.compute_dtype)
    ]
    if wrong:
        shown = ", ".join(wrong[:8]) + (f" and {len(wrong) - 8} more" if len(wrong) > 8 else "")
        raise ValueError(
            f"The Keras layer computes in {dtype} but these sub-layers do not: {shown}. Keras 3 "
            "does not pass `dtype` on to sub-layers. Fix: pass dtype=self.dtype_policy to each "
            f"sub-layer in the port, or construct the layer under that policy: "
            f"`with parity.dtype_policy({dtype!r}): layer = MyLayer(...)` (parity check and "
            "init= construct it that way for you)"
        )


@contextmanager
def dtype_policy(dtype: str) -> Iterator[None]:
    """Construct Keras layers under the `dtype` policy (so sub-layers that are not passed `dtype`
    get it too), then restore the caller's global policy."""
    import keras

    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(dtype)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)


# ---------------------------------------------------------------------------------------------
# Calling a module under test: every exception becomes a `ModuleCallError` naming the side.

_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_BOILERPLATE = ("Exception encountered when calling", "Arguments received by", "•")


def informative_line(error: BaseException) -> str:
    """The line of an exception's message that says what went wrong.

    Keras wraps op errors as "Exception encountered when calling X.call()." followed by the op's
    message and the arguments; the op's message ("Incompatible shapes: [2,5,3,3] vs. [2,5,3,4]")
    is the informative line.
    """
    text = _ANSI.sub("", str(error))
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith(_BOILERPLATE):
            continue
        line = re.sub(r"^\{\{function_node [^}]*\}\}\s*", "", line)
        line = re.sub(r"\s*name:\s*$", "", line)
        return line
    return type(error).__name__


def _shapes(values: Sequence) -> str:
    return ", ".join(str(tuple(np.shape(x))) for x in values)


def call_module(side: str, module, inputs: Sequence, kwargs: Mapping[str, Any], **extra):
    """Call a module under test; re-raise anything it raises as a `ModuleCallError` that names the
    side, the class, the input shapes and the informative line (the original stays chained)."""
    try:
        return module(*inputs, **kwargs, **extra)
    except Exception as error:
        raise ModuleCallError(
            f"The {side} {type(module).__name__} raised {type(error).__name__} on inputs of shape "
            f"{_shapes(inputs)}: {informative_line(error)}",
            side=side,
        ) from error


def _layout_hint(comparison: Comparison) -> str:
    """When torch rejects an image input, try it channels-first: if that runs, the user most
    likely passed an NHWC array where the harness expects the torch layout."""
    import torch

    if not all(lay.channels_first_to_last for lay in comparison.input_layouts):
        return ""
    if any(x.ndim < 3 or x.shape[1] == x.shape[-1] for x in comparison.inputs):
        return ""
    moved = [
        torch.from_numpy(np.ascontiguousarray(np.moveaxis(x, -1, 1))) for x in comparison.inputs
    ]
    try:
        with torch.no_grad():
            comparison.torch_module(*moved, **_torch_extras(comparison))
    except Exception:
        return ""
    return (
        "; the input looks channels-last (NHWC): the harness takes inputs in the torch layout "
        "(NCHW) and converts them for Keras itself"
    )


# ---------------------------------------------------------------------------------------------
# Stage 1: prepare both sides.


@dataclass
class Prepared:
    """Both sides ready to run: modes set, weights in place, inputs converted."""

    comparison: Comparison
    torch_inputs: list
    keras_inputs: list[np.ndarray]
    torch_extras: dict[str, Any]
    keras_extras: dict[str, Any]
    audit: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    torch_outputs: list[np.ndarray] = field(default_factory=list)


def _torch_extras(comparison: Comparison) -> dict[str, Any]:
    import torch

    torch_dtype = getattr(torch, comparison.dtype)
    extras = {}
    for key, value in comparison.call_kwargs.items():
        if isinstance(value, np.ndarray):
            tensor = torch.from_numpy(np.ascontiguousarray(value))
            extras[key] = tensor.to(torch_dtype) if tensor.is_floating_point() else tensor
        else:
            extras[key] = value
    return extras


def _keras_extras(comparison: Comparison) -> dict[str, Any]:
    import keras

    extras = {}
    for key, value in comparison.call_kwargs.items():
        if isinstance(value, np.ndarray):
            if np.issubdtype(value.dtype, np.floating):
                value = value.astype(comparison.dtype)
            extras[key] = keras.ops.convert_to_tensor(value)
        else:
            extras[key] = value
    return extras


def _non_finite_notes(comparison: Comparison) -> list[str]:
    notes = []
    bad_inputs = [
        f"#{i} ({int(np.sum(~np.isfinite(x)))} elements)"
        for i, x in enumerate(comparison.inputs)
        if np.issubdtype(x.dtype, np.floating) and not np.isfinite(x).all()
    ]
    if bad_inputs:
        notes.append(f"inputs with NaN/inf values: {', '.join(bad_inputs)}")
    bad_weights = [
        key
        for key, tensor in comparison.torch_module.state_dict().items()
        if tensor.is_floating_point() and not bool(tensor.isfinite().all())
    ]
    if bad_weights:
        shown = ", ".join(bad_weights[:5]) + (" ..." if len(bad_weights) > 5 else "")
        notes.append(f"torch weights with NaN/inf values: {shown}")
    return notes


def prepare(comparison: Comparison, isolation: Isolation | None = None) -> Prepared:
    """Set modes and dtype, randomise torch, run it (the reference outputs), build and fill the
    Keras layer, convert inputs."""
    import torch

    module = comparison.torch_module
    module.to(getattr(torch, comparison.dtype))
    module.train(comparison.training)
    if comparison.randomize:
        randomize_torch(module, comparison.seed)
    keras_inputs = [
        lay.torch_to_keras(x)
        for lay, x in zip(comparison.input_layouts, comparison.inputs, strict=True)
    ]
    prepared = Prepared(
        comparison=comparison,
        torch_inputs=[torch.from_numpy(np.ascontiguousarray(x)) for x in comparison.inputs],
        keras_inputs=keras_inputs,
        torch_extras=_torch_extras(comparison),
        keras_extras=_keras_extras(comparison),
    )
    # The reference runs first: an input torch rejects is the caller's mistake (and its message,
    # with the layout hint, is the one that helps), whatever the port would say.
    prepared.torch_outputs = _run_torch(prepared)
    layer = comparison.keras_layer
    if not layer.built:
        call_module(
            "Keras", layer, keras_inputs, prepared.keras_extras, training=comparison.training
        )
        if isolation is not None:
            isolation.remember_keras()  # give the caller back the layer as freshly built
    alignment = {"converters": comparison.converters, "name_map": comparison.name_map}
    if comparison.transfer:
        report = transfer_weights(module, layer, overrides=comparison.overrides, **alignment)
        prepared.audit = list(report.audit)
    elif comparison.audit:
        prepared.audit = audit_hyperparameters(module, layer, comparison.overrides, **alignment)
    prepared.notes = _non_finite_notes(comparison)
    return prepared


# ---------------------------------------------------------------------------------------------
# Stage 2: run both forwards.


@dataclass
class Outputs:
    """The raw outputs of both sides (each in its own framework's layout), as numpy copies."""

    torch: list[np.ndarray]
    keras: list[np.ndarray]
    notes: list[str] = field(default_factory=list)
    stochastic: str = ""  # why the outputs cannot be compared (random layers in training mode)


def _as_list(outputs) -> list:
    if isinstance(outputs, list | tuple):
        return list(outputs)
    return [outputs]


def _torch_numpy(outputs) -> list[np.ndarray]:
    import torch

    arrays = []
    for value in _as_list(outputs):
        if not isinstance(value, torch.Tensor):
            raise ModuleCallError(
                f"The torch module returned a {type(value).__name__}, not a tensor (or a "
                "list/tuple of tensors): the harness compares tensors",
                side="torch",
            )
        arrays.append(value.detach().cpu().numpy().copy())
    return arrays


def _keras_numpy(outputs) -> list[np.ndarray]:
    import keras

    arrays = []
    for value in _as_list(outputs):
        try:
            array = np.array(keras.ops.convert_to_numpy(value), copy=True)
        except Exception:
            array = None
        if array is None or array.dtype == object or isinstance(value, dict | str):
            raise ModuleCallError(
                f"The Keras layer returned a {type(value).__name__}, not a tensor (or a "
                "list/tuple of tensors): the harness compares tensors",
                side="Keras",
            )
        arrays.append(array)
    return arrays


def _run_torch(prepared: Prepared) -> list[np.ndarray]:
    import torch

    comparison = prepared.comparison
    try:
        with torch.no_grad():
            return _torch_numpy(
                call_module(
                    "torch", comparison.torch_module, prepared.torch_inputs, prepared.torch_extras
                )
            )
    except ModuleCallError as error:
        hint = _layout_hint(comparison)
        if hint:
            raise ModuleCallError(f"{error}{hint}", side="torch") from error.__cause__
        raise


def _run_keras(prepared: Prepared) -> list[np.ndarray]:
    comparison = prepared.comparison
    return _keras_numpy(
        call_module(
            "Keras",
            comparison.keras_layer,
            prepared.keras_inputs,
            prepared.keras_extras,
            training=comparison.training,
        )
    )


def _stochastic_layers(comparison: Comparison) -> list[str]:
    """Random layers of either side that are active in training mode, by path and rate."""
    import torch

    found = []
    for path, module in comparison.torch_module.named_modules():
        rate = getattr(module, "p", None)
        if isinstance(module, torch.nn.modules.dropout._DropoutNd) and rate:
            found.append(f"torch {type(module).__name__} `{path or '<root>'}` (p={rate:g})")
    for layer in comparison.keras_layer._flatten_layers(include_self=True, recursive=True):
        rate = getattr(layer, "rate", None) or getattr(layer, "stddev", None)
        if rate and type(layer).__module__.startswith("keras.src.layers.regularization"):
            found.append(f"Keras {type(layer).__name__} {layer.name!r} (rate={rate:g})")
    return found


def execute(prepared: Prepared) -> Outputs:
    """Run Keras on the prepared inputs (torch ran in `prepare`). In training mode, run each side
    again: a side whose two outputs differ is random, and random outputs cannot be compared."""
    outputs = Outputs(torch=prepared.torch_outputs, keras=_run_keras(prepared))
    if not prepared.comparison.training:
        return outputs
    torch_again, keras_again = _run_torch(prepared), _run_keras(prepared)
    torch_random = not all(
        np.array_equal(a, b, equal_nan=True)
        for a, b in zip(outputs.torch, torch_again, strict=True)
    )
    keras_random = not all(
        np.array_equal(a, b, equal_nan=True)
        for a, b in zip(outputs.keras, keras_again, strict=True)
    )
    layers = _stochastic_layers(prepared.comparison)
    named = f" ({'; '.join(layers)})" if layers else ""
    if torch_random:
        outputs.stochastic = (
            "the torch module gives different outputs for the same input in training mode: it "
            f"draws random numbers{named}. Random layers cannot match across frameworks. Check "
            "training mode with their rates set to 0 (construct both sides with dropout=0), or "
            "compare in eval mode (training=False)"
        )
    elif keras_random:
        outputs.notes.append(
            "the Keras layer gives different outputs for the same input in training mode but "
            f"torch does not{named}: the port applies randomness torch does not"
        )
    return outputs


# ---------------------------------------------------------------------------------------------
# Stage 3: judge.


def _rank(result: ParityResult) -> tuple[int, float]:
    order = {"mismatch": 2, "inconclusive": 1, "pass": 0}
    return order[result.verdict], result.max_rel


def judge(prepared: Prepared, outputs: Outputs) -> ParityResult:
    """Compare every output; return the result of the worst one (mismatch > inconclusive > pass,
    then the largest error)."""
    comparison = prepared.comparison
    tolerance = comparison.tolerance
    if len(outputs.torch) != len(outputs.keras):
        result = ParityResult(
            passed=False, dtype=comparison.dtype, rtol=tolerance.rtol, atol=tolerance.atol
        )
        result.problem = (
            f"output count differs: torch returned {len(outputs.torch)}, Keras {len(outputs.keras)}"
        )
    else:
        output_layouts = resolve_layouts(comparison.output_layout, len(outputs.torch))
        result = None
        for index, (expected, actual, lay) in enumerate(
            zip(outputs.torch, outputs.keras, output_layouts, strict=True)
        ):
            candidate = compare_arrays(expected, actual, lay, tolerance, comparison.dtype)
            candidate.output_index = index
            if result is None or _rank(candidate) > _rank(result):
                result = candidate
    result.context.name = comparison.name
    result.context.output_count = len(outputs.torch)
    result.context.seed = comparison.seed
    result.context.case = comparison.case or ""
    result.context.tolerance_source = comparison.tolerance_source or ""
    result.context.reproduce = comparison.reproduce or ""
    result.notes = [*prepared.notes, *outputs.notes]
    if outputs.stochastic:
        result.passed = False
        result.inconclusive = outputs.stochastic
    elif outputs.notes and result.passed:
        result.passed = False
        result.problem = outputs.notes[0]
    if comparison.audit and prepared.audit:
        result.audit = list(prepared.audit)
        result.passed = False
        if result.inconclusive:  # a configuration difference is a definite failure
            result.notes.append(result.inconclusive)
            result.inconclusive = ""
        if not result.problem:
            result.problem = "numerically relevant hyper-parameters differ (see above)"
    return result


# ---------------------------------------------------------------------------------------------
# Stage 4: explain a mismatch.


def _flushing_subnormals() -> bool:
    """Whether torch flushes subnormal results to zero now (torch has a setter, no getter)."""
    import torch

    return float(torch.tensor([1e-300], dtype=torch.float64).mul(1e-10)[0]) == 0.0


def undecidable_subnormals(prepared: Prepared, outputs: Outputs, result: ParityResult) -> None:
    """Turn a mismatch inconclusive when torch's output rests on subnormal numbers.

    TensorFlow's CPU kernels flush subnormal results to zero (`tf.exp(-740.)` is 0 in float64,
    torch's is 4.2e-322), so where torch renormalises subnormals (a softmax whose every weight
    underflows) Keras gets 0/0. The experiment: run torch again with subnormals flushed; if it
    then agrees with Keras, the mismatch is the frameworks' arithmetic, not the port's.
    """
    import torch

    if result.verdict != "mismatch" or result.audit or not outputs.torch:
        return
    comparison = prepared.comparison
    if _flushing_subnormals():
        return  # the caller flushes them already: torch's output was computed that way
    if not torch.set_flush_denormal(True):
        return  # this CPU cannot flush subnormals
    try:
        flushed = _run_torch(prepared)
    except ModuleCallError:
        return
    finally:
        torch.set_flush_denormal(False)  # the caller's setting (checked above)
    if len(flushed) != len(outputs.keras):
        return
    layouts = resolve_layouts(comparison.output_layout, len(flushed))
    agree = [
        compare_arrays(expected, actual, lay, comparison.tolerance, comparison.dtype)
        for expected, actual, lay in zip(flushed, outputs.keras, layouts, strict=True)
    ]
    if all(item.passed for item in agree):
        result.passed = False
        result.inconclusive = (
            "torch's output rests on subnormal numbers, which TensorFlow's CPU kernels flush to "
            "zero: run again with subnormals flushed, torch agrees with Keras (max rel "
            f"{max(item.max_rel for item in agree):.1e}). Neither side is wrong at this input "
            "scale; check the port at a smaller one"
        )


def explain(prepared: Prepared, outputs: Outputs, result: ParityResult) -> None:
    """Localise a value mismatch to the first diverging name-aligned sub-layer (eval mode)."""
    comparison = prepared.comparison
    if (
        result.verdict != "mismatch"
        or not comparison.localize
        or comparison.training
        or result.worst_torch_index is None
    ):
        return
    from parity.localize import localize

    outcome = localize(
        comparison.torch_module,
        comparison.keras_layer,
        prepared.torch_inputs,
        prepared.keras_inputs,
        prepared.torch_extras,
        prepared.keras_extras,
        comparison.tolerance,
        comparison.dtype,
        comparison.localization_layout,
        reference_outputs=(outputs.torch, outputs.keras),
        name_map=comparison.name_map,
    )
    result.localization = outcome.rows
    if outcome.note:
        result.notes.append(outcome.note)
    first = next((row for row in outcome.rows if row.first), None)
    if first is not None:
        at = f" at Keras `{first.keras_path}`" if first.keras_path else ""
        result.first_divergence = f"{first.path} ({first.torch_type} -> {first.keras_type}{at})"
        if first.local_passed:
            result.first_divergence += (
                "; it is correct when fed torch's input, so the code just before it (in its "
                "parent's call) differs"
            )


# ---------------------------------------------------------------------------------------------
# Stage 5: record a failure.


def record(comparison: Comparison, result: ParityResult | None, error: str = "") -> str | None:
    """Write the repro file of a failed (or crashed) comparison into `repro_dir`.

    Returns the replay command, or None when no file was asked for or none can be written (the
    reason goes into the result's notes: a report is never lost to an unwritable directory).
    """
    if comparison.repro_dir is None or comparison.init is None:
        return None
    from parity.repro import write_repro

    try:
        path = write_repro(
            comparison.repro_dir,
            torch_module=comparison.torch_module,
            keras_layer=comparison.keras_layer,
            init=comparison.init,
            keras_init=comparison.keras_init,
            inputs=comparison.inputs,
            extras=comparison.call_kwargs,
            layout=[lay.name for lay in comparison.input_layouts],
            output_layout=comparison.output_layout,
            dtype=comparison.dtype,
            seed=comparison.seed,
            tolerance=comparison.tolerance,
            training=comparison.training,
            name=comparison.name,
            message=result.message if result is not None else error,
        )
    except OSError as problem:
        reason = problem.strerror or str(problem)
        note = (
            f"no repro file written: cannot write into {str(comparison.repro_dir)!r} ({reason}); "
            "pass a writable --repro-dir"
        )
        if result is not None:
            result.notes.append(note)
            result.context.repro_error = note
        return None
    from parity.repro import replay_command

    command = replay_command(path, comparison.torch_module, comparison.keras_layer)
    if result is not None:
        result.context.repro_file = str(path)
        result.context.reproduce = command
    return command


# ---------------------------------------------------------------------------------------------
# All stages.


def run_comparison(comparison: Comparison) -> ParityResult:
    """Run every stage on `comparison`, with the caller's modules and flags restored afterwards.

    Raises `ModuleCallError` when a module under test raises (with a repro file when asked for),
    `WeightTransferError` when the weights cannot be aligned.
    """
    with isolated(comparison.torch_module, comparison.keras_layer) as isolation:
        try:
            prepared = prepare(comparison, isolation)
            outputs = execute(prepared)
        except ModuleCallError as error:
            # A crash of a module under test is replayable too (weights as they were).
            command = record(comparison, None, error=str(error))
            if command:
                raise ModuleCallError(f"{error} (reproduce: {command})", side=error.side) from (
                    error.__cause__
                )
            raise
        result = judge(prepared, outputs)
        undecidable_subnormals(prepared, outputs, result)
        explain(prepared, outputs, result)
        excuse(result, comparison.allowances)
        if len(comparison.checks) > 1:
            from parity.checks import run_checks

            run_checks(prepared, outputs, result)
        if not result.passed:
            record(comparison, result)
    return result


def run_pair(torch_module, keras_layer, inputs: Sequence[Any], **options: Any) -> ParityResult:
    """`build_comparison` + `run_comparison` in one call (see both for the options)."""
    return run_comparison(build_comparison(torch_module, keras_layer, inputs, **options))


# ---------------------------------------------------------------------------------------------
# Registered specs.


def case_inputs(
    case: Case, seed: int, dtype: str
) -> tuple[list[np.ndarray], dict[str, np.ndarray]]:
    """The seeded input arrays (torch layout) and keyword inputs of `case`."""
    if case.shared_input:
        shared = seeded_array(case.input_shapes[0], seed, dtype)
        arrays = [shared for _ in case.input_shapes]
    else:
        arrays = [seeded_array(s, seed + i, dtype) for i, s in enumerate(case.input_shapes)]
    if case.input_scale != 1.0:
        arrays = [(x * case.input_scale).astype(dtype) for x in arrays]
    extras: dict[str, Any] = {}
    for offset, (name, extra) in enumerate(case.extra_inputs.items(), start=1000):
        if extra.kind == "mask":
            extras[name] = seeded_mask(extra.shape, seed + offset)
        elif extra.kind == "value":
            extras[name] = extra.value  # a constant: both sides get it unchanged
        else:
            extras[name] = seeded_array(extra.shape, seed + offset, dtype)
    return arrays, extras


def build_pair(spec: ModuleSpec, case: Case, dtype: str):
    """Construct the torch module and the Keras layer of `spec` for `case.config`."""
    torch_module = spec.torch_class(**case.config)
    with dtype_policy(dtype):
        keras_layer = spec.keras_class(**case.config, dtype=dtype)
    return torch_module, keras_layer


def case_comparison(
    torch_module,
    keras_layer,
    case: Case,
    *,
    dtype: str,
    seed: int,
    layout: Any,
    output_layout: Any,
    name: str,
    **options: Any,
) -> Comparison:
    """The `Comparison` of an already-built pair on `case`'s seeded inputs."""
    arrays, extras = case_inputs(case, seed, dtype)
    return build_comparison(
        torch_module,
        keras_layer,
        arrays,
        layout=layout,
        output_layout=output_layout,
        call_kwargs=extras,
        dtype=dtype,
        seed=seed,
        name=name,
        case=case.describe(),
        init=dict(case.config),
        **options,
    )


def spec_factory(spec: ModuleSpec, case: Case):
    """`(changes, dtype) -> (torch, keras)` building `spec`'s pair for `case` with `changes`."""

    def build(changes: Mapping[str, Any], dtype: str):
        return build_pair(spec, replace(case, config={**case.config, **changes}), dtype)

    return build


def run_case(
    spec: ModuleSpec,
    case: Case,
    *,
    dtype: str = "float32",
    seed: int = 0,
    repro_dir: str | os.PathLike | None = None,
    checks: Any = ("forward",),
) -> ParityResult:
    """Build `spec`'s pair for `case`, draw seeded inputs and weights, and compare (and run the
    other `checks`)."""
    dtype = _dtype_name(dtype)
    torch_module, keras_layer = build_pair(spec, case, dtype)
    tolerance, reason = spec.tolerance_for(case, dtype)
    comparison = case_comparison(
        torch_module,
        keras_layer,
        case,
        dtype=dtype,
        seed=seed,
        layout=spec.layout_for(case),
        output_layout=spec.output_layout_for(case),
        name=spec.name,
        tolerance=tolerance,
        tolerance_source=f"{spec.name} override: {reason}" if tolerance else None,
        overrides=spec.transfer_overrides,
        allowances=spec.allowances_for(case, dtype),
        reproduce=reproduce_command(spec.name, case, seed, dtype),
        repro_dir=repro_dir,
        checks=checks,
        factory=spec_factory(spec, case),
        training_config=spec.training_config,
        static_axes=spec.static_axes,
        not_applicable=spec.checks_not_applicable,
    )
    return run_comparison(comparison)
