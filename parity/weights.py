"""The name-aligned, fail-closed weight transfer walk (both directions).

A Keras port names its sub-layers after the torch attribute paths, so the torch tensor
`ca.se.0.weight` lives on the Keras object reached by `layer.ca.se[0]` (or wherever a name map
sends `ca.se.0`; see `parity.name_map`). The walk visits every torch module that owns tensors,
finds the Keras object for its path and converts by layer type (`parity.converters`). Every torch
tensor is consumed once, every Keras variable filled once; any violation is collected and raised
as one `WeightTransferError`, like `load_state_dict(strict=True)`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from parity.converters import (
    Converter,
    all_converters,
    converts_torch_layer,
    find_converter,
)
from parity.errors import WeightTransferError
from parity.name_map import Split, map_path, parse_name_map

# ---------------------------------------------------------------------------------------------
# Path resolution on the Keras side.


def resolve_keras_path(root, path: str):
    """Follow an attribute path (`ca.se.0`, `_blocks.1.fc`) on a Keras layer: attributes, list
    indices and `keras.Sequential.layers[i]`. Returns None when any step is missing."""
    current = root
    if not path:
        return current
    for part in path.split("."):
        if isinstance(current, list | tuple) and part.isdigit():
            index = int(part)
            current = current[index] if index < len(current) else None
        elif hasattr(current, part) and not part.isdigit():
            current = getattr(current, part)
        elif part.isdigit() and hasattr(current, "layers") and isinstance(current.layers, list):
            index = int(part)
            current = current.layers[index] if index < len(current.layers) else None
        else:
            return None
        if current is None:
            return None
    return current


def resolve_mapped(keras_layer, torch_path: str, name_map: Mapping[str, Any]):
    """The Keras object for a torch module path under `name_map`: one object (or None), or for a
    `Split` the list of the objects of its parts (None where one is missing)."""
    target = map_path(name_map, torch_path)
    if isinstance(target, Split):
        return [resolve_keras_path(keras_layer, path) for path in target.paths]
    return resolve_keras_path(keras_layer, target)


def _is_keras_variable(obj) -> bool:
    import keras

    return isinstance(obj, keras.Variable)


@functools.cache
def _keras_internals() -> frozenset[str]:
    """The attribute names every Keras layer carries for Keras' own bookkeeping."""
    import keras

    return frozenset(vars(keras.layers.Layer()))


def keras_attribute_paths(keras_layer) -> dict[int, str]:
    """Map `id(variable)` to its attribute path on `keras_layer` (`extra.kernel`, `fc.0.bias`),
    the names a user wrote, rather than Keras' auto-generated variable paths. Public attributes
    name a variable first; private ones (`_blocks.0.kernel`) only what no public one reaches."""
    import keras

    paths: dict[int, str] = {}
    seen: set[int] = set()

    def visit(obj, prefix: str) -> None:
        if id(obj) in seen:
            return
        seen.add(id(obj))
        if isinstance(obj, keras.Variable):
            paths.setdefault(id(obj), prefix)
            return
        if isinstance(obj, list | tuple):
            for index, item in enumerate(obj):
                visit(item, f"{prefix}.{index}" if prefix else str(index))
            return
        if not isinstance(obj, keras.layers.Layer):
            return
        # Public attributes first; then the user's own private ones (`self._blocks`), never
        # Keras' internals (`_trainable_variables`, Dense's `_kernel`).
        builtin = type(obj).__module__.startswith("keras.")
        attributes = sorted(vars(obj).items(), key=lambda item: item[0].startswith("_"))
        for name, value in attributes:
            if name.startswith("_") and (builtin or name in _keras_internals()):
                continue
            visit(value, f"{prefix}.{name}" if prefix else name)
        for index, sublayer in enumerate(
            getattr(obj, "layers", []) if isinstance(obj, keras.Sequential) else []
        ):
            visit(sublayer, f"{prefix}.{index}" if prefix else str(index))
        for variable in obj.weights:  # variables held only privately (e.g. Dense.kernel)
            if id(variable) not in paths:
                name = variable.path.rsplit("/", 1)[-1]
                paths[id(variable)] = f"{prefix}.{name}" if prefix else name

    visit(keras_layer, "")
    return paths


def _keras_variables(keras_layer) -> list:
    """Every variable a transfer must fill (RNG seed states excluded: they are not weights)."""
    return [v for v in keras_layer.weights if "seed_generator" not in v.path]


# ---------------------------------------------------------------------------------------------
# The plan: every torch tensor paired with its Keras variable.


@dataclass(frozen=True)
class Part:
    """This planned tensor is part `index` of `count` of its torch tensor, `[start, stop)` along
    `axis` (a `Split` in the name map)."""

    index: int
    count: int
    axis: int
    start: int
    stop: int


@dataclass
class PlannedTensor:
    """A torch tensor key, its Keras variable and the conversions between them."""

    torch_key: str
    keras_variable: Any
    to_keras: Callable[[np.ndarray], np.ndarray]
    to_torch: Callable[[np.ndarray], np.ndarray]
    layer_pair: str
    part: Part | None = None


@dataclass
class TransferPlan:
    """The result of aligning a torch module with a Keras layer, before any value moves."""

    tensors: list[PlannedTensor] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # torch key: why no Keras variable
    unexpected: list[str] = field(default_factory=list)  # Keras variables nobody fills
    mismatched: list[str] = field(default_factory=list)  # shape problems
    audit: list[str] = field(default_factory=list)  # hyper-parameter differences by path
    skipped: list[str] = field(default_factory=list)
    aliases: list[str] = field(default_factory=list)  # keys naming an already planned tensor


@dataclass(frozen=True)
class TransferReport:
    """What `transfer_weights` did: direction, tensors copied, skipped keys, audit findings."""

    direction: str
    copied: tuple[str, ...]
    skipped: tuple[str, ...]
    audit: tuple[str, ...]

    def __str__(self) -> str:
        return (
            f"{self.direction}: {len(self.copied)} tensors copied, "
            f"{len(self.skipped)} skipped ({', '.join(self.skipped) or 'none'}), "
            f"{len(self.audit)} hyper-parameter differences"
        )


def _shape(array) -> tuple[int, ...]:
    return tuple(int(d) for d in array.shape)


def _local(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


def raw_converters(
    torch_shape: tuple[int, ...], keras_shape: tuple[int, ...]
) -> tuple[Callable[[np.ndarray], np.ndarray], Callable[[np.ndarray], np.ndarray]] | None:
    """(to_keras, to_torch) for a raw tensor, or None when no reshape keeps the elements' meaning.

    A reshape is safe only when the two shapes differ by size-1 axes alone, with the other axes in
    the same order: torch `(1, C, 1, 1)` <-> Keras `(1, 1, 1, C)` or `(C,)`. `(2, 3)` -> `(3, 2)`
    has the same element count but needs a transpose, which is a layout decision, not ours.
    """
    if tuple(d for d in torch_shape if d != 1) != tuple(d for d in keras_shape if d != 1):
        return None
    return (lambda array: array.reshape(keras_shape)), (lambda array: array.reshape(torch_shape))


def _sliced(to_keras, axis: int, start: int, stop: int):
    def convert(array: np.ndarray) -> np.ndarray:
        index = [slice(None)] * array.ndim
        index[axis] = slice(start, stop)
        return to_keras(array[tuple(index)])

    return convert


class _Planner:
    """Builds a `TransferPlan` (one instance per call of `plan_transfer`)."""

    def __init__(self, torch_module, keras_layer, overrides, converters, name_map):
        self.torch_module, self.keras_layer = torch_module, keras_layer
        self.overrides = dict(overrides or {})
        self.converters = all_converters(converters or ())
        self.name_map = parse_name_map(name_map)
        self.plan = TransferPlan()
        self.state = torch_module.state_dict(keep_vars=True)
        self.consumed: set[str] = set()

    def missing(self, key: str, why: str) -> None:
        self.plan.missing.append(f'"{key}" {_shape(self.state[key])}: {why}')
        self.consumed.add(key)

    def where(self, torch_path: str) -> str:
        target = map_path(self.name_map, torch_path)
        if isinstance(target, Split):
            return "[" + ", ".join(f"`{p}`" for p in target.paths) + "]"
        mapped = "" if target == torch_path else f" (mapped from torch `{torch_path}`)"
        return f"`{target}`{mapped}" if target else "the root layer"

    def run(self) -> TransferPlan:
        for key in list(self.overrides):
            if key not in self.state:
                self.plan.missing.append(
                    f'"{key}": declared in a transfer override but absent from the torch state_dict'
                )
                self.overrides.pop(key)
        first_path: dict[int, str] = {}
        keras_at: dict[str, Any] = {}
        for module_path, module in self.torch_module.named_modules(remove_duplicate=False):
            keras_object = resolve_mapped(self.keras_layer, module_path, self.name_map)
            keras_at[module_path] = keras_object
            if id(module) in first_path:
                original = first_path[id(module)]
                if keras_object is not None and _same(keras_object, keras_at.get(original)):
                    self._alias(module, module_path, original)
                    continue
            else:
                first_path[id(module)] = module_path
            self._module(module_path, module, keras_object)
        for key in self.state:
            if key not in self.consumed:
                self.missing(key, "not visited by the transfer walk")
        self._deduplicate()
        self._unexpected()
        return self.plan

    def _alias(self, module, module_path: str, original: str) -> None:
        """One module under two names on both sides (`self.b = self.a`): its tensors were planned
        under the first name; these keys are the same tensors."""
        for name, tensor in [*module.named_parameters(recurse=False),
                             *module.named_buffers(recurse=False)]:  # fmt: skip
            key = _local(module_path, name)
            if tensor is not None and key in self.state:
                self.consumed.add(key)
                self.plan.aliases.append(f"{key} = {_local(original, name)}")

    def _own(self, module_path: str, module) -> list[tuple[str, Any]]:
        own = [
            (n, t)
            for n, t in [
                *module.named_parameters(recurse=False),
                *module.named_buffers(recurse=False),
            ]
            if t is not None and _local(module_path, n) in self.state
        ]
        for key in sorted({_local(module_path, n) for n, _ in own} & self.overrides.keys()):
            self._override(key)
        own = [(n, t) for n, t in own if _local(module_path, n) not in self.overrides]
        # num_batches_tracked is the one tensor with no Keras counterpart.
        for name, _ in own:
            if name == "num_batches_tracked":
                self.plan.skipped.append(_local(module_path, name))
                self.consumed.add(_local(module_path, name))
        return [(n, t) for n, t in own if n != "num_batches_tracked"]

    def _override(self, key: str) -> None:
        override = self.overrides[key]
        variable = resolve_keras_path(self.keras_layer, override.keras_path)
        if variable is None or not _is_keras_variable(variable):
            self.missing(key, f"override points at Keras `{override.keras_path}`, not a variable")
            return
        self.plan.tensors.append(
            PlannedTensor(key, variable, override.to_keras, override.to_torch, "override")
        )
        self.consumed.add(key)

    def _module(self, module_path: str, module, keras_object) -> None:
        own = self._own(module_path, module)
        if not own:
            return
        torch_type = type(module).__name__
        if not converts_torch_layer(module, self.converters):
            self._raw(module_path, module, keras_object, own)
            return
        if isinstance(keras_object, list):
            self._split(module_path, module, keras_object, own)
            return
        if keras_object is None:
            for name, _ in own:
                self.missing(
                    _local(module_path, name),
                    f"no Keras sub-layer at {self.where(module_path)} (torch {torch_type}); name "
                    "the Keras sub-layer after the torch attribute path, or map the name "
                    "(name_map / --name-map)",
                )
            return
        converter = find_converter(module, keras_object, self.converters)
        if converter is None:
            supported = ", ".join(c.describe() for c in self.converters)
            for name, _ in own:
                self.missing(
                    _local(module_path, name),
                    f"no converter from torch {torch_type} to Keras "
                    f"{type(keras_object).__name__} at {self.where(module_path)}; supported "
                    f"(subclasses included): {supported}; or pass your own parity.Converter",
                )
            return
        self._convert(module_path, module, keras_object, own, converter)

    def _convert(self, module_path, module, keras_object, own, converter, part=None) -> bool:
        try:
            maps = converter.tensor_maps(module, keras_object)
        except WeightTransferError as error:
            self.plan.mismatched.append(f"`{module_path}`: {error}")
            self.consumed.update(_local(module_path, n) for n, _ in own)
            return False
        label = module_path or "<root>"
        if part is not None:
            label = f"{label} part {part.index + 1}/{part.count}"
        for finding in converter.audit(module, keras_object):
            self.plan.audit.append(f"{label} ({type(module).__name__}): {finding}")
        for tensor_map in maps:
            key = _local(module_path, tensor_map.torch_name)
            if key not in self.state:
                continue
            self.consumed.add(key)
            variable = getattr(keras_object, tensor_map.keras_attr, None)
            if variable is None or not _is_keras_variable(variable):
                self.missing(
                    key,
                    f"Keras {type(keras_object).__name__} at {self.where(module_path)} has no "
                    f"`{tensor_map.keras_attr}` variable"
                    + (" (build it with use_bias=True)" if tensor_map.keras_attr == "bias" else ""),
                )
                continue
            to_keras = tensor_map.to_keras
            if part is not None:
                to_keras = _sliced(to_keras, part.axis, part.start, part.stop)
            self.plan.tensors.append(
                PlannedTensor(
                    key, variable, to_keras, tensor_map.to_torch, converter.describe(), part
                )
            )
        return True

    def _split(self, module_path, module, keras_objects, own) -> None:
        split = map_path(self.name_map, module_path)
        if any(obj is None for obj in keras_objects):
            absent = [p for p, obj in zip(split.paths, keras_objects, strict=True) if obj is None]
            for name, _ in own:
                self.missing(
                    _local(module_path, name),
                    f"the name map splits torch `{module_path}` into {list(split.paths)}, but "
                    f"{absent} are not Keras sub-layers",
                )
            return
        lengths = {int(t.shape[split.axis]) if t.dim() > split.axis else 0 for _, t in own}
        try:
            if len(lengths) != 1:
                raise ValueError(f"its tensors have different lengths {sorted(lengths)}")
            bounds = split.bounds(lengths.pop())
        except ValueError as error:
            self.plan.mismatched.append(
                f"`{module_path}`: cannot split its tensors "
                f"{[_local(module_path, n) for n, _ in own]} along axis {split.axis}: {error}"
            )
            self.consumed.update(_local(module_path, n) for n, _ in own)
            return
        for index, keras_object in enumerate(keras_objects):
            converter = find_converter(module, keras_object, self.converters)
            if converter is None:
                for name, _ in own:
                    self.missing(
                        _local(module_path, name),
                        f"no converter from torch {type(module).__name__} to Keras "
                        f"{type(keras_object).__name__} at `{split.paths[index]}`",
                    )
                return
            start, stop = bounds[index]
            part = Part(index, len(keras_objects), split.axis, start, stop)
            self._convert(module_path, module, keras_object, own, converter, part)

    def _raw(self, module_path: str, module, keras_object, own) -> None:
        """A module that is not a known layer type: its own tensors are raw Parameters/buffers,
        matched to a Keras variable attribute of the same name on the mirrored object."""
        torch_type = type(module).__name__
        for name, tensor in own:
            key = _local(module_path, name)
            self.consumed.add(key)
            variable = None
            if keras_object is not None and not isinstance(keras_object, list):
                variable = getattr(keras_object, name, None)
            if variable is None or not _is_keras_variable(variable):
                self.missing(
                    key,
                    f"raw tensor of torch {torch_type}; expected a Keras variable `{name}` on "
                    f"{self.where(module_path)} (create it with add_weight(name={name!r}))",
                )
                continue
            converters = raw_converters(_shape(tensor), _shape(variable))
            if converters is None:
                where = _local(map_path(self.name_map, module_path) or "", name)
                self.plan.mismatched.append(
                    f'"{key}" {_shape(tensor)}: raw tensor of torch {torch_type} vs Keras '
                    f"variable `{where}` {_shape(variable)}: "
                    + (
                        "the same elements in a different arrangement; a reshape would "
                        "scramble them and the harness will not guess a transpose. Give the "
                        "Keras variable the torch shape, or declare the mapping (a "
                        "TransferOverride with to_keras/to_torch, passed as overrides=, or a "
                        "parity.Converter for the module type)"
                        if int(np.prod(_shape(tensor))) == int(np.prod(_shape(variable)))
                        else "different element counts"
                    )
                )
                continue
            self.plan.tensors.append(PlannedTensor(key, variable, *converters, "raw"))

    def _deduplicate(self) -> None:
        seen: dict[int, str] = {}
        unique: list[PlannedTensor] = []
        for planned in self.plan.tensors:
            earlier = seen.get(id(planned.keras_variable))
            if earlier is None:
                seen[id(planned.keras_variable)] = planned.torch_key
                unique.append(planned)
            elif self.state[earlier] is self.state[planned.torch_key]:
                # Tied in torch (one Parameter under two keys) and in Keras (one variable).
                self.plan.aliases.append(f"{planned.torch_key} = {earlier}")
            else:
                self.plan.mismatched.append(
                    f"Keras variable `{planned.keras_variable.path}` would be filled twice: from "
                    f'"{earlier}" and "{planned.torch_key}"'
                )
        self.plan.tensors = unique

    def _unexpected(self) -> None:
        used = {id(t.keras_variable) for t in self.plan.tensors}
        attribute_paths = keras_attribute_paths(self.keras_layer)
        transient = {
            _local(path, name)
            for path, module in self.torch_module.named_modules()
            for name in module._non_persistent_buffers_set
        }
        for variable in _keras_variables(self.keras_layer):
            if id(variable) in used:
                continue
            where = attribute_paths.get(id(variable), variable.path)
            hint = (
                " (torch keeps this as a non-persistent buffer, outside the state_dict: compute "
                "it as a constant in Keras, not a variable)"
                if where in transient
                else ""
            )
            self.plan.unexpected.append(
                f"`{where}` {_shape(variable)} (variable {variable.path}){hint}"
            )


def _same(first, second) -> bool:
    if isinstance(first, list) and isinstance(second, list):
        return len(first) == len(second) and all(a is b for a, b in zip(first, second, strict=True))
    return first is second


def plan_transfer(
    torch_module,
    keras_layer,
    overrides: Mapping[str, Any] | None = None,
    *,
    converters: Sequence[Converter] = (),
    name_map: Mapping[str, Any] | None = None,
) -> TransferPlan:
    """Align every torch parameter/buffer with a Keras variable; never raises, collects problems
    (a malformed name map or converter list raises `ValueError` naming it)."""
    return _Planner(torch_module, keras_layer, overrides, converters, name_map).run()


def _raise_if_incomplete(plan: TransferPlan, direction: str, name: str, extra: list[str]) -> None:
    problems = plan.missing or plan.unexpected or plan.mismatched or extra
    if not problems:
        return
    lines = [f"{direction} transfer for {name} is incomplete."]
    if plan.missing:
        lines.append("  torch tensors with no Keras variable:")
        lines += [f"    {item}" for item in plan.missing]
    if plan.unexpected:
        lines.append("  Keras variables with no torch tensor:")
        lines += [f"    {item}" for item in plan.unexpected]
    if plan.mismatched or extra:
        lines.append("  shape mismatches:")
        lines += [f"    {item}" for item in [*plan.mismatched, *extra]]
    lines.append(
        "  Fix: name each Keras sub-layer after its torch attribute path (torch `fc.0` is "
        "Keras `self.fc[0]`) or map the names (name_map= / --name-map), give it the same "
        "bias/affine settings, or declare a parity.Converter or a TransferOverride with a reason."
    )
    raise WeightTransferError("\n".join(lines))


def _require_built(keras_layer) -> None:
    if not keras_layer.built:
        raise WeightTransferError(
            f"The Keras layer {keras_layer.name!r} is not built, so it has no variables yet. "
            "Call it once on an input of the right shape (or call `layer.build(shape)`) before "
            "transferring weights."
        )


def _assemble(
    torch_module, converted: list[tuple[PlannedTensor, np.ndarray]], problems: list[str]
) -> list[tuple[PlannedTensor, np.ndarray]]:
    """Keras -> torch: join the parts of each split torch tensor back into one array."""
    whole: list[tuple[PlannedTensor, np.ndarray]] = []
    parts: dict[str, list[tuple[PlannedTensor, np.ndarray]]] = {}
    for planned, value in converted:
        if planned.part is None:
            whole.append((planned, value))
        else:
            parts.setdefault(planned.torch_key, []).append((planned, value))
    state = torch_module.state_dict()
    for key, members in parts.items():
        members.sort(key=lambda item: item[0].part.index)
        first = members[0][0]
        if len(members) != first.part.count:
            problems.append(f'"{key}": only {len(members)} of {first.part.count} split parts')
            continue
        try:
            value = np.concatenate([v for _, v in members], axis=first.part.axis)
        except ValueError as error:
            problems.append(f'"{key}": the split parts do not join: {error}')
            continue
        if _shape(value) != _shape(state[key]):
            problems.append(
                f'"{key}": the split parts join to {_shape(value)}, torch is {_shape(state[key])}'
            )
            continue
        whole.append((first, value))
    return whole


def transfer_weights(
    source,
    target,
    *,
    overrides: Mapping[str, Any] | None = None,
    converters: Sequence[Converter] = (),
    name_map: Mapping[str, Any] | None = None,
) -> TransferReport:
    """Copy weights torch -> Keras or Keras -> torch (direction from the argument types).

    Strict: every torch tensor consumed exactly once, every Keras variable filled, shapes equal
    after conversion; `num_batches_tracked` is the only key skipped. Raises `WeightTransferError`
    listing every missing key, unexpected variable and shape mismatch at once. `converters` adds
    `parity.Converter`s for the user's own layer types; `name_map` maps torch module paths to Keras
    attribute paths where the names differ (`parity.name_map`).
    """
    import torch

    if isinstance(source, torch.nn.Module):
        torch_module, keras_layer, to_keras = source, target, True
    elif isinstance(target, torch.nn.Module):
        torch_module, keras_layer, to_keras = target, source, False
    else:
        raise WeightTransferError(
            "Expected one torch.nn.Module and one built Keras layer. "
            f"Received: source={type(source).__name__}, target={type(target).__name__}"
        )
    import keras

    if not isinstance(keras_layer, keras.layers.Layer):
        raise WeightTransferError(
            f"Expected a Keras layer opposite the torch module. Received: {type(keras_layer).__name__}"
        )
    _require_built(keras_layer)
    direction = "torch -> Keras" if to_keras else "Keras -> torch"
    name = type(torch_module).__name__
    try:
        plan = plan_transfer(
            torch_module, keras_layer, overrides, converters=converters, name_map=name_map
        )
    except ValueError as error:
        if isinstance(error, WeightTransferError):
            raise
        raise WeightTransferError(f"{direction} transfer for {name}: {error}") from None
    state = torch_module.state_dict()

    converted: list[tuple[PlannedTensor, np.ndarray]] = []
    shape_problems: list[str] = []
    for planned in plan.tensors:
        torch_shape = _shape(state[planned.torch_key])
        keras_shape = _shape(planned.keras_variable)
        try:
            if to_keras:
                value = planned.to_keras(state[planned.torch_key].detach().cpu().numpy())
                expected_shape = keras_shape
            else:
                value = planned.to_torch(np.asarray(planned.keras_variable.numpy()))
                expected_shape = None if planned.part is not None else torch_shape
        except ValueError as error:
            shape_problems.append(
                f'"{planned.torch_key}": torch {torch_shape} vs Keras `{planned.keras_variable.path}` '
                f"{keras_shape} ({planned.layer_pair}): {error}"
            )
            continue
        if expected_shape is not None and _shape(value) != expected_shape:
            shape_problems.append(
                f'"{planned.torch_key}": torch {torch_shape} converts to {_shape(value)} but Keras '
                f"`{planned.keras_variable.path}` is {keras_shape} ({planned.layer_pair})"
            )
            continue
        torch_dtype = str(state[planned.torch_key].dtype).removeprefix("torch.")
        if torch_dtype != str(planned.keras_variable.dtype):
            plan.audit.append(
                f'"{planned.torch_key}": dtype differs, torch {torch_dtype} vs Keras '
                f"`{planned.keras_variable.path}` {planned.keras_variable.dtype} (values are rounded; "
                "pass dtype=self.dtype_policy to every Keras sub-layer)"
            )
        converted.append((planned, value))

    if not to_keras:
        converted = _assemble(torch_module, converted, shape_problems)
        shape_problems += _tie_conflicts(torch_module, converted)
    _raise_if_incomplete(plan, direction, name, shape_problems)

    # All checks passed: only now write anything (fail closed, never half a transfer).
    if to_keras:
        for planned, value in converted:
            planned.keras_variable.assign(value.astype(planned.keras_variable.dtype))
    else:
        with torch.no_grad():
            tensors = torch_module.state_dict(keep_vars=True)
            for planned, value in converted:
                tensor = tensors[planned.torch_key]
                tensor.copy_(torch.from_numpy(np.ascontiguousarray(value)).to(tensor.dtype))
    return TransferReport(
        direction=direction,
        copied=tuple(dict.fromkeys(p.torch_key for p, _ in converted)),
        skipped=tuple(plan.skipped),
        audit=tuple(plan.audit),
    )


def _tie_conflicts(torch_module, converted: list[tuple[PlannedTensor, np.ndarray]]) -> list[str]:
    """Keras -> torch: a torch tensor reached by several keys (tied weights) can take only one
    value; refuse when the Keras variables that would fill it differ."""
    tensors = torch_module.state_dict(keep_vars=True)
    groups: dict[int, list[tuple[PlannedTensor, np.ndarray]]] = {}
    for planned, value in converted:
        groups.setdefault(id(tensors[planned.torch_key]), []).append((planned, value))
    problems = []
    for members in groups.values():
        (first, first_value), *others = members
        for planned, value in others:
            if planned.keras_variable is first.keras_variable or np.array_equal(value, first_value):
                continue
            problems.append(
                f'"{first.torch_key}" and "{planned.torch_key}" are one tied torch tensor, but '
                f"Keras `{first.keras_variable.path}` and `{planned.keras_variable.path}` differ "
                f"(max |difference| {float(np.max(np.abs(value - first_value))):.3g}); tie them "
                "in Keras (one variable) or make them equal before transferring"
            )
    return problems


def audit_hyperparameters(
    torch_module,
    keras_layer,
    overrides=None,
    *,
    converters: Sequence[Converter] = (),
    name_map: Mapping[str, Any] | None = None,
) -> list[str]:
    """Numerically relevant hyper-parameter differences between aligned layers, by path."""
    return plan_transfer(
        torch_module, keras_layer, overrides, converters=converters, name_map=name_map
    ).audit
