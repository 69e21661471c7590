"""First-divergence localisation: capture every name-aligned sub-layer on both sides, compare.

torch sub-modules are observed with forward hooks; Keras sub-layers by wrapping `call` on that
instance only (restored afterwards). Each aligned pair is compared in two modes:

* propagated: both sides ran on their own inputs (errors accumulate downstream);
* local: the Keras sub-layer is fed the torch sub-layer's input (converted to the Keras layout),
  so an error there belongs to that sub-layer alone.

The first sub-layer in execution order whose local check fails is the culprit (hooks fire when a
module finishes, so children come before their parents: a parent fails locally only when its own
glue code is wrong). Without a local result, the first propagated failure is named.

Captures are copies, on both sides: an in-place op after a sub-layer (`nn.ReLU(inplace=True)`,
`x += ...`) would otherwise overwrite the captured tensor and put the blame on a correct layer.
The capture run must reproduce the outputs of the comparison it explains; when it does not
(a stateful or random module), no culprit is named.

A torch activation maps to the Keras layout by moving its channel axis last or keeping it as it
is. Inside a sub-stack those are both plausible (PermuteToFrom's `(rows, T, C)`, MobileViT's
`(B, P, N, C)` tokens): when both give the Keras shape (T == C), each is tried and the one that
agrees best is taken, so a correct sub-layer is never blamed for an ambiguous shape (the price:
a sub-layer that swaps exactly those two equal-sized axes is not caught there, only by its
parent or the output).
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from parity.compare import compare_arrays
from parity.layout import get_layout
from parity.tolerance import Tolerance
from parity.weights import resolve_mapped


@dataclass
class LocalizationRow:
    """One aligned sub-layer's errors in both modes (max rel as in `ParityResult`)."""

    path: str
    torch_type: str
    keras_type: str
    propagated_max_rel: float | None
    local_max_rel: float | None
    passed: bool
    first: bool = False
    note: str = ""
    propagated_passed: bool | None = None
    local_passed: bool | None = None
    keras_path: str = ""  # where the Keras sub-layer is, when a name map put it elsewhere

    @property
    def depth(self) -> int:
        """Nesting depth of the sub-layer (number of dots in its path)."""
        return self.path.count(".")


@dataclass
class _Call:
    args: tuple
    kwargs: dict
    output: Any


@dataclass
class Localization:
    """The rows of a localisation run, and why no culprit was named when none was."""

    rows: list[LocalizationRow]
    note: str = ""


def _torch_copy(value):
    """A detached copy of every tensor in `value` (nested lists/tuples/dicts kept as such)."""
    import torch

    if isinstance(value, torch.Tensor):
        return value.detach().clone()
    if isinstance(value, list | tuple):
        return type(value)(_torch_copy(item) for item in value)
    if isinstance(value, dict):
        return {key: _torch_copy(item) for key, item in value.items()}
    return value


def _keras_copy(value):
    """A numpy copy of every tensor in `value` (non-tensors kept as they are)."""
    if isinstance(value, list | tuple):
        return type(value)(_keras_copy(item) for item in value)
    if isinstance(value, dict):
        return {key: _keras_copy(item) for key, item in value.items()}
    if hasattr(value, "shape") and hasattr(value, "dtype"):
        array = _numpy(value)
        return value if array is None else np.array(array, copy=True)
    return value


def _first_tensor(value):
    if isinstance(value, list | tuple):
        return value[0] if value else None
    return value


def _numpy(value) -> np.ndarray | None:
    import keras
    import torch

    if value is None:
        return None
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().numpy()
    try:
        return np.asarray(keras.ops.convert_to_numpy(value))
    except Exception:  # not a tensor (a Python number, None...)
        return None


def keras_like_candidates(
    torch_array: np.ndarray, keras_shape: Sequence[int], channels_last: bool
) -> list[np.ndarray]:
    """Every conversion of a torch activation to a Keras activation of `keras_shape`, in order of
    preference: move the channel axis last (image blocks) or keep as is (sequence blocks), then
    the other; failing an exact shape, one that only drops size-1 axes (torch `(B, C, 1, 1)` vs
    Keras `(B, C)`). Two candidates when the shape cannot tell them apart (`(rows, T, C)` with
    T == C); none when nothing matches."""
    keras_shape = tuple(int(d) for d in keras_shape)
    moved = np.moveaxis(torch_array, 1, -1) if torch_array.ndim >= 3 else None
    order = [moved, torch_array] if channels_last else [torch_array, moved]
    order = [candidate for candidate in order if candidate is not None]
    exact = [candidate for candidate in order if candidate.shape == keras_shape]
    if exact:
        return exact
    wanted = tuple(d for d in keras_shape if d != 1)
    squeezed = [
        candidate.reshape(keras_shape)
        for candidate in order
        if tuple(d for d in candidate.shape if d != 1) == wanted
    ][:1]
    if squeezed:
        return squeezed
    # A port that flattens the pixels into tokens: (B, H, W, C) <-> (B, H*W, C), same batch and
    # channel axes, the positions in row-major order.
    return [
        candidate.reshape(keras_shape)
        for candidate in order
        if candidate.ndim != len(keras_shape)
        and candidate.size == int(np.prod(keras_shape))
        and candidate.shape[:1] == keras_shape[:1]
        and candidate.shape[-1:] == keras_shape[-1:]
    ][:1]


def to_keras_like(torch_array: np.ndarray, keras_shape: Sequence[int], channels_last: bool):
    """The preferred conversion of a torch activation to `keras_shape` (see
    `keras_like_candidates`), or None when nothing matches the Keras shape."""
    candidates = keras_like_candidates(torch_array, keras_shape, channels_last)
    return candidates[0] if candidates else None


@dataclass(frozen=True)
class AlignedPair:
    """A torch sub-module and the Keras layer it is compared with. `part` is `(start, stop,
    axis)` when the Keras layer computes only a slice of the torch output (a name-map `Split`)."""

    row: str
    torch_path: str
    module: Any
    target: Any
    part: tuple[int, int, int] | None = None
    keras_path: str = ""


def aligned_pairs(torch_module, keras_layer, name_map=None) -> list[AlignedPair]:
    """Every torch sub-module (root excluded) with a Keras layer at its (mapped) path."""
    import keras
    import torch

    from parity.name_map import Split, map_path, parse_name_map

    name_map = parse_name_map(name_map)
    pairs = []
    for path, module in torch_module.named_modules():
        if not path:
            continue
        target = resolve_mapped(keras_layer, path, name_map)
        if isinstance(target, keras.layers.Layer):
            keras_path = map_path(name_map, path)
            pairs.append(AlignedPair(path, path, module, target, keras_path=keras_path))
        elif isinstance(target, list):
            split = map_path(name_map, path)
            weight = getattr(module, "weight", None)
            if not isinstance(split, Split) or weight is None:
                continue
            try:
                bounds = split.bounds(int(weight.shape[split.axis]))
            except ValueError:
                continue
            # The split output axis: features last for a Linear, channels (axis 1) otherwise.
            axis = -1 if isinstance(module, torch.nn.Linear) else 1
            for index, (part_target, (start, stop)) in enumerate(zip(target, bounds, strict=True)):
                if isinstance(part_target, keras.layers.Layer):
                    row = f"{path}[{index}]"
                    pairs.append(
                        AlignedPair(
                            row,
                            path,
                            module,
                            part_target,
                            (start, stop, axis),
                            keras_path=split.paths[index],
                        )
                    )
    return pairs


def localize(
    torch_module,
    keras_layer,
    torch_inputs: Sequence,
    keras_inputs: Sequence,
    torch_kwargs: Mapping[str, Any],
    keras_kwargs: Mapping[str, Any],
    tolerance: Tolerance,
    dtype: str,
    layout: str = "image",
    reference_outputs: tuple[Sequence[np.ndarray], Sequence[np.ndarray]] | None = None,
    name_map: Mapping[str, Any] | None = None,
) -> Localization:
    """Run both sides once more with capture on, and compare every aligned sub-layer.

    `reference_outputs` are the (torch, Keras) outputs of the comparison being explained; if the
    capture run does not reproduce them bit for bit, the rows are kept but no culprit is named.
    """
    import torch

    channels_last = get_layout(layout).channels_first_to_last if isinstance(layout, str) else True
    pairs = aligned_pairs(torch_module, keras_layer, name_map)
    torch_calls: dict[str, list[_Call]] = {pair.torch_path: [] for pair in pairs}
    keras_calls: dict[str, list[_Call]] = {pair.row: [] for pair in pairs}
    rows_of: dict[str, list[AlignedPair]] = {}
    for pair in pairs:
        rows_of.setdefault(pair.torch_path, []).append(pair)
    order: list[AlignedPair] = []
    handles = []
    originals = []
    plain = get_layout("plain")

    def torch_hook(path):
        def hook(module, args, output):
            torch_calls[path].append(_Call(_torch_copy(tuple(args)), {}, _torch_copy(output)))
            for pair in rows_of[path]:
                if pair not in order:
                    order.append(pair)

        return hook

    capturing = {"on": True}
    for path in rows_of:
        handles.append(rows_of[path][0].module.register_forward_hook(torch_hook(path)))
    for pair in pairs:
        original = pair.target.call

        def wrapped(*args, _row=pair.row, _original=original, **kwargs):
            output = _original(*args, **kwargs)
            if capturing["on"]:
                keras_calls[_row].append(_Call(_keras_copy(args), kwargs, _keras_copy(output)))
            return output

        functools.update_wrapper(wrapped, original)
        originals.append((pair.target, "call" in vars(pair.target), vars(pair.target).get("call")))
        pair.target.call = wrapped
    try:
        with torch.no_grad():
            torch_final = torch_module(*torch_inputs, **torch_kwargs)
        keras_final = keras_layer(*keras_inputs, **keras_kwargs, training=False)
        capturing["on"] = False
        rows = [
            _compare_sub_layer(
                pair,
                torch_calls[pair.torch_path],
                keras_calls[pair.row],
                tolerance,
                dtype,
                channels_last,
                plain,
            )
            for pair in order
        ]
    finally:
        for handle in handles:
            handle.remove()
        for target, had_own, previous in reversed(originals):
            if had_own:
                target.call = previous
            else:
                target.__dict__.pop("call", None)
    if reference_outputs is not None:
        stale = [
            side
            for side, expected, actual in (
                ("torch", reference_outputs[0], torch_final),
                ("Keras", reference_outputs[1], keras_final),
            )
            if _differs(expected, actual)
        ]
        if stale:
            return Localization(
                rows,
                f"no culprit named: the capture run's {' and '.join(stale)} output differs from "
                "the compared run's (a random or stateful module), so its sub-layer values do not "
                "explain this mismatch",
            )
    # A local failure belongs to that sub-layer alone; a propagated one may be inherited.
    first = next((r for r in rows if r.local_passed is False), None)
    first = first or next((r for r in rows if r.propagated_passed is False), None)
    if first is not None:
        first.first = True
    elif rows and all(row.passed for row in rows):
        return Localization(
            rows,
            f"every aligned sub-layer matches, so the root's own code after the last of them "
            f"(`{rows[-1].path}`) differs, or code on a path that bypasses them",
        )
    elif rows:
        return Localization(rows, "no aligned sub-layer could be compared on both sides")
    else:
        return Localization(rows, "no sub-layer is aligned by name, so none could be compared")
    return Localization(rows)


def _differs(reference: Sequence[np.ndarray], outputs) -> bool:
    """Whether `outputs` (tensors of either framework) are not bit-equal to `reference`."""
    import torch

    actual = outputs if isinstance(outputs, list | tuple) else [outputs]
    if len(actual) != len(reference):
        return True
    for expected, value in zip(reference, actual, strict=True):
        array = value.detach().cpu().numpy() if isinstance(value, torch.Tensor) else _numpy(value)
        if array is None or array.shape != np.shape(expected):
            return True
        if not np.array_equal(array, expected, equal_nan=True):
            return True
    return False


def _slice_part(array: np.ndarray, part: tuple[int, int, int] | None) -> np.ndarray:
    if part is None:
        return array
    start, stop, axis = part
    index = [slice(None)] * array.ndim
    index[axis] = slice(start, stop)
    return array[tuple(index)]


def _compare_sub_layer(
    pair: AlignedPair, torch_calls, keras_calls, tolerance, dtype, channels_last, plain
) -> LocalizationRow:
    target = pair.target
    row = LocalizationRow(
        path=pair.row,
        torch_type=type(pair.module).__name__,
        keras_type=type(target).__name__,
        propagated_max_rel=None,
        local_max_rel=None,
        passed=True,
        keras_path=pair.keras_path if pair.keras_path != pair.torch_path else "",
    )
    if not keras_calls:
        row.note = "not called on the Keras side"
        return row
    if len(torch_calls) != len(keras_calls):
        row.note = (
            f"called {len(torch_calls)}x in torch, {len(keras_calls)}x in Keras: not compared"
        )
        return row
    propagated_ok, local_ok = True, True
    for torch_call, keras_call in zip(torch_calls, keras_calls, strict=True):
        expected = _numpy(_first_tensor(torch_call.output))
        actual = _numpy(_first_tensor(keras_call.output))
        if expected is not None:
            expected = _slice_part(expected, pair.part)
        if expected is None or actual is None:
            row.note = "output is not a tensor"
            return row
        candidates = keras_like_candidates(expected, actual.shape, channels_last)
        if not candidates:
            row.note = f"torch output {expected.shape} does not match Keras {actual.shape}"
            row.passed = row.propagated_passed = False
            row.propagated_max_rel = float("inf")
            return row
        result = _best(
            compare_arrays(candidate, actual, plain, tolerance, dtype) for candidate in candidates
        )
        row.propagated_max_rel = max(row.propagated_max_rel or 0.0, result.max_rel)
        propagated_ok &= result.passed
        locals_ = _local_outputs(target, torch_call, keras_call, channels_last)
        if locals_:
            local_result = _best(
                compare_arrays(candidate, local, plain, tolerance, dtype)
                for candidate in candidates
                for local in locals_
            )
            row.local_max_rel = max(row.local_max_rel or 0.0, local_result.max_rel)
            local_ok &= local_result.passed
    row.propagated_passed = propagated_ok
    row.local_passed = local_ok if row.local_max_rel is not None else None
    row.passed = propagated_ok and local_ok
    if row.local_max_rel is None:
        row.note = row.note or "local check not possible (inputs do not convert)"
    return row


def _best(results):
    """The comparison that agrees best: a pass if any, else the smallest max rel."""
    return min(results, key=lambda result: (not result.passed, result.max_rel))


# At most this many input conversions are tried per call (ambiguous shapes: see the docstring).
_MAX_LOCAL_CONVERSIONS = 4


def _local_outputs(target, torch_call: _Call, keras_call: _Call, channels_last: bool) -> list:
    """The Keras sub-layer's outputs when fed the torch sub-layer's inputs, one per plausible
    conversion of those inputs (empty when they cannot be converted or the layer cannot run)."""
    import keras

    torch_args = [a for a in torch_call.args if _numpy(a) is not None]
    keras_args = list(keras_call.args)
    if len(torch_args) != len(keras_args):
        return []
    options = []
    for torch_arg, keras_arg in zip(torch_args, keras_args, strict=True):
        keras_array = _numpy(keras_arg)
        if keras_array is None:
            return []
        candidates = keras_like_candidates(_numpy(torch_arg), keras_array.shape, channels_last)
        if not candidates:
            return []
        options.append([candidate.astype(keras_array.dtype) for candidate in candidates])
    outputs = []
    for arrays in itertools.islice(itertools.product(*options), _MAX_LOCAL_CONVERSIONS):
        try:
            output = target(*map(keras.ops.convert_to_tensor, arrays), **keras_call.kwargs)
        except Exception:  # a sub-layer that cannot run on its own (stateful, shape-bound)
            continue
        array = _numpy(_first_tensor(output))
        if array is not None:
            outputs.append(array)
    return outputs


def format_tree(rows: Sequence[LocalizationRow]) -> list[str]:
    """Indented lines, one per sub-layer, in execution order, marking the first divergence."""

    def number(value):
        return "-" if value is None else f"{value:.1e}"

    width = max((len("  " * r.depth + r.path) for r in rows), default=10)
    lines = []
    for row in rows:
        label = ("  " * row.depth + row.path).ljust(width)
        if row.first:
            verdict = "FIRST DIVERGENCE"
        elif row.passed:
            verdict = "ok"
        elif row.local_passed:
            verdict = "inherited (ok when fed torch's input)"
        else:
            verdict = "differs"
        note = f"  ({row.note})" if row.note else ""
        lines.append(
            f"{label}  {row.torch_type}->{row.keras_type}  propagated {number(row.propagated_max_rel)}"
            f"  local {number(row.local_max_rel)}  {verdict}{note}"
        )
    return lines
