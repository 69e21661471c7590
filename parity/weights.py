"""Per-layer-type weight converters and the name-aligned, fail-closed transfer walk.

A Keras port names its sub-layers after the torch attribute paths, so the torch tensor
`ca.se.0.weight` lives on the Keras object reached by `layer.ca.se[0]`. The walk visits every torch
module that owns tensors, finds the Keras object at the same path and converts by layer type.
Every torch tensor is consumed once, every Keras variable filled once; any violation is collected
and raised as one `WeightTransferError`, like `load_state_dict(strict=True)`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from parity.errors import WeightTransferError

# ---------------------------------------------------------------------------------------------
# Named layout changes. Each is defined once; its docstring gives both shapes.


def conv2d_kernel_to_keras(weight: np.ndarray) -> np.ndarray:
    """torch Conv2d `(out, in/groups, kh, kw)` -> Keras Conv2D `(kh, kw, in/groups, out)`."""
    return weight.transpose(2, 3, 1, 0)


def conv2d_kernel_to_torch(kernel: np.ndarray) -> np.ndarray:
    """Keras Conv2D `(kh, kw, in/groups, out)` -> torch Conv2d `(out, in/groups, kh, kw)`."""
    return kernel.transpose(3, 2, 0, 1)


def conv1d_kernel_to_keras(weight: np.ndarray) -> np.ndarray:
    """torch Conv1d `(out, in/groups, k)` -> Keras Conv1D `(k, in/groups, out)`."""
    return weight.transpose(2, 1, 0)


def conv1d_kernel_to_torch(kernel: np.ndarray) -> np.ndarray:
    """Keras Conv1D `(k, in/groups, out)` -> torch Conv1d `(out, in/groups, k)`."""
    return kernel.transpose(2, 1, 0)


def depthwise_kernel_to_keras(weight: np.ndarray, in_channels: int) -> np.ndarray:
    """torch depthwise Conv2d `(C*m, 1, kh, kw)` -> Keras DepthwiseConv2D `(kh, kw, C, m)`.

    torch output channel `c*m + j` is Keras `kernel[:, :, c, j]`.
    """
    out_channels, _, kh, kw = weight.shape
    return weight.reshape(in_channels, out_channels // in_channels, kh, kw).transpose(2, 3, 0, 1)


def depthwise_kernel_to_torch(kernel: np.ndarray) -> np.ndarray:
    """Keras DepthwiseConv2D `(kh, kw, C, m)` -> torch depthwise Conv2d `(C*m, 1, kh, kw)`."""
    kh, kw, channels, multiplier = kernel.shape
    return kernel.transpose(2, 3, 0, 1).reshape(channels * multiplier, 1, kh, kw)


def linear_weight_to_keras(weight: np.ndarray) -> np.ndarray:
    """torch Linear `(out, in)` -> Keras Dense `(in, out)`."""
    return weight.T


def linear_weight_to_torch(kernel: np.ndarray) -> np.ndarray:
    """Keras Dense `(in, out)` -> torch Linear `(out, in)`."""
    return kernel.T


def pointwise_conv_to_dense(weight: np.ndarray) -> np.ndarray:
    """torch 1x1 Conv2d `(out, in, 1, 1)` used as a dense map -> Keras Dense `(in, out)`."""
    return weight[:, :, 0, 0].T


def dense_to_pointwise_conv(kernel: np.ndarray) -> np.ndarray:
    """Keras Dense `(in, out)` -> torch 1x1 Conv2d `(out, in, 1, 1)`."""
    return kernel.T[:, :, None, None]


def _copy(array: np.ndarray) -> np.ndarray:
    return array


# ---------------------------------------------------------------------------------------------
# Converters: which torch tensor goes to which Keras variable, by layer-type pair.


@dataclass(frozen=True)
class TensorMap:
    """One torch tensor (local name) <-> one Keras variable (attribute name) with both converters."""

    torch_name: str
    keras_attr: str
    to_keras: Callable[[np.ndarray], np.ndarray]
    to_torch: Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class Converter:
    """How a torch layer type maps onto a Keras layer type, plus its hyper-parameter audit."""

    torch_type: str
    keras_type: str
    maps: Callable[[Any, Any], list[TensorMap]]
    audit: Callable[[Any, Any], list[str]] = lambda torch_module, keras_layer: []


def _bias_map(torch_module) -> list[TensorMap]:
    if getattr(torch_module, "bias", None) is None:
        return []
    return [TensorMap("bias", "bias", _copy, _copy)]


def _has_keras_bias(keras_layer) -> bool:
    return bool(getattr(keras_layer, "use_bias", False)) or (
        getattr(keras_layer, "bias", None) is not None
    )


def _bias_audit(torch_module, keras_layer) -> list[str]:
    """Bias presence, and the fused activation torch's Linear/Conv never apply."""
    problems = []
    torch_bias = getattr(torch_module, "bias", None) is not None
    keras_bias = _has_keras_bias(keras_layer)
    if torch_bias != keras_bias:
        problems.append(f"bias: torch has bias={torch_bias}, Keras has use_bias={keras_bias}")
    activation = getattr(keras_layer, "activation", None)
    name = getattr(activation, "__name__", "linear") if activation is not None else "linear"
    if name != "linear":
        problems.append(
            f"activation: Keras {type(keras_layer).__name__} applies activation={name!r}; torch "
            f"{type(torch_module).__name__} applies none (apply it as its own layer, as torch does)"
        )
    return problems


def _pair(value) -> tuple[int, ...]:
    return tuple(value) if isinstance(value, list | tuple) else (value, value)


def _conv_audit(torch_module, keras_layer, *, depthwise: bool = False) -> list[str]:
    problems = _bias_audit(torch_module, keras_layer)
    rank = len(torch_module.kernel_size)
    pairs = [
        ("kernel_size", tuple(torch_module.kernel_size), tuple(keras_layer.kernel_size)),
        ("stride", tuple(torch_module.stride), tuple(keras_layer.strides)),
        ("dilation", tuple(torch_module.dilation), tuple(keras_layer.dilation_rate)),
    ]
    if not depthwise:
        pairs.append(("groups", torch_module.groups, getattr(keras_layer, "groups", 1)))
    elif torch_module.groups != torch_module.in_channels:
        problems.append(
            f"groups: torch groups={torch_module.groups} but Keras DepthwiseConv2D needs "
            f"groups == in_channels ({torch_module.in_channels})"
        )
    for attribute, torch_value, keras_value in pairs:
        if torch_value != keras_value:
            problems.append(f"{attribute}: torch {torch_value} vs Keras {keras_value}")
    # torch pads explicitly; Keras 'same' equals torch padding k//2 only for odd k and stride 1.
    padding = tuple(torch_module.padding) if not isinstance(torch_module.padding, str) else None
    keras_padding = keras_layer.padding
    if padding is not None and len(padding) == rank:
        if keras_padding == "same":
            expected = tuple(
                d * (k - 1) // 2
                for k, d in zip(torch_module.kernel_size, torch_module.dilation, strict=True)
            )
            odd = all(
                (d * (k - 1)) % 2 == 0
                for k, d in zip(torch_module.kernel_size, torch_module.dilation, strict=True)
            )
            if padding != expected or not odd or any(s != 1 for s in torch_module.stride):
                problems.append(
                    f"padding: torch padding={padding} (stride {tuple(torch_module.stride)}) is not "
                    f"what Keras padding='same' does (symmetric {expected} only for odd kernels, stride 1)"
                )
        elif keras_padding == "valid" and any(padding):
            # A port may pad explicitly before a 'valid' conv (ZeroPadding2D); only note it.
            pass
    return problems


def _norm_eps_audit(torch_module, keras_layer) -> list[str]:
    torch_eps = float(torch_module.eps)
    keras_eps = float(keras_layer.epsilon)
    if not np.isclose(torch_eps, keras_eps, rtol=1e-6, atol=0):
        return [f"epsilon: torch eps={torch_eps:g}, Keras epsilon={keras_eps:g}"]
    return []


def _batch_norm_audit(torch_module, keras_layer) -> list[str]:
    problems = _norm_eps_audit(torch_module, keras_layer)
    if torch_module.momentum is not None:
        expected = 1.0 - float(torch_module.momentum)
        if not np.isclose(float(keras_layer.momentum), expected, rtol=1e-6, atol=1e-12):
            problems.append(
                f"momentum: torch momentum={torch_module.momentum:g} means Keras "
                f"momentum={expected:g}; Keras has {float(keras_layer.momentum):g}"
            )
    if torch_module.affine != (keras_layer.scale and keras_layer.center):
        problems.append(
            f"affine: torch affine={torch_module.affine}, Keras scale={keras_layer.scale}, "
            f"center={keras_layer.center}"
        )
    return problems


def _group_norm_audit(torch_module, keras_layer) -> list[str]:
    problems = _norm_eps_audit(torch_module, keras_layer)
    if torch_module.num_groups != keras_layer.groups:
        problems.append(f"groups: torch {torch_module.num_groups} vs Keras {keras_layer.groups}")
    return problems


def _conv2d_maps(torch_module, keras_layer) -> list[TensorMap]:
    return [
        TensorMap("weight", "kernel", conv2d_kernel_to_keras, conv2d_kernel_to_torch),
        *_bias_map(torch_module),
    ]


def _depthwise_maps(torch_module, keras_layer) -> list[TensorMap]:
    channels = torch_module.in_channels
    return [
        TensorMap(
            "weight",
            "kernel",
            lambda w: depthwise_kernel_to_keras(w, channels),
            depthwise_kernel_to_torch,
        ),
        *_bias_map(torch_module),
    ]


def _pointwise_dense_maps(torch_module, keras_layer) -> list[TensorMap]:
    if tuple(torch_module.kernel_size) != (1, 1) or torch_module.groups != 1:
        raise WeightTransferError(
            "A torch Conv2d maps to a Keras Dense only when it is 1x1 and ungrouped. "
            f"Received: kernel_size={tuple(torch_module.kernel_size)}, groups={torch_module.groups}"
        )
    return [
        TensorMap("weight", "kernel", pointwise_conv_to_dense, dense_to_pointwise_conv),
        *_bias_map(torch_module),
    ]


def _conv1d_maps(torch_module, keras_layer) -> list[TensorMap]:
    return [
        TensorMap("weight", "kernel", conv1d_kernel_to_keras, conv1d_kernel_to_torch),
        *_bias_map(torch_module),
    ]


def _linear_maps(torch_module, keras_layer) -> list[TensorMap]:
    return [
        TensorMap("weight", "kernel", linear_weight_to_keras, linear_weight_to_torch),
        *_bias_map(torch_module),
    ]


def _batch_norm_maps(torch_module, keras_layer) -> list[TensorMap]:
    maps = []
    if torch_module.affine:
        maps += [
            TensorMap("weight", "gamma", _copy, _copy),
            TensorMap("bias", "beta", _copy, _copy),
        ]
    if torch_module.track_running_stats:
        maps += [
            TensorMap("running_mean", "moving_mean", _copy, _copy),
            TensorMap("running_var", "moving_variance", _copy, _copy),
        ]
    return maps


def _affine_norm_maps(torch_module, keras_layer) -> list[TensorMap]:
    maps = []
    if getattr(torch_module, "weight", None) is not None:
        maps.append(TensorMap("weight", "gamma", _copy, _copy))
    if getattr(torch_module, "bias", None) is not None:
        maps.append(TensorMap("bias", "beta", _copy, _copy))
    return maps


def _dense_audit(torch_module, keras_layer) -> list[str]:
    return _bias_audit(torch_module, keras_layer)


CONVERTERS: tuple[Converter, ...] = (
    Converter("Conv2d", "Conv2D", _conv2d_maps, _conv_audit),
    Converter(
        "Conv2d",
        "DepthwiseConv2D",
        _depthwise_maps,
        lambda t, k: _conv_audit(t, k, depthwise=True),
    ),
    Converter("Conv2d", "Dense", _pointwise_dense_maps, _dense_audit),
    Converter("Conv1d", "Conv1D", _conv1d_maps, _conv_audit),
    Converter("Linear", "Dense", _linear_maps, _dense_audit),
    Converter("BatchNorm1d", "BatchNormalization", _batch_norm_maps, _batch_norm_audit),
    Converter("BatchNorm2d", "BatchNormalization", _batch_norm_maps, _batch_norm_audit),
    Converter("LayerNorm", "LayerNormalization", _affine_norm_maps, _norm_eps_audit),
    Converter("GroupNorm", "GroupNormalization", _affine_norm_maps, _group_norm_audit),
)
_CONVERTER_INDEX = {(c.torch_type, c.keras_type): c for c in CONVERTERS}
# torch layer types whose tensors only a converter may consume (never as raw parameters).
_KNOWN_TORCH_TYPES = {c.torch_type for c in CONVERTERS}


def find_converter(torch_module, keras_object) -> Converter | None:
    """The converter for this (torch type, Keras type) pair, by class name along the Keras MRO."""
    torch_type = type(torch_module).__name__
    for klass in type(keras_object).__mro__:
        converter = _CONVERTER_INDEX.get((torch_type, klass.__name__))
        if converter is not None:
            return converter
    return None


# ---------------------------------------------------------------------------------------------
# Path resolution on the Keras side.


def resolve_keras_path(root, path: str):
    """Follow a torch attribute path (`ca.se.0`) on a Keras layer: attributes, list indices and
    `keras.Sequential.layers[i]`. Returns None when any step is missing."""
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


def _is_keras_variable(obj) -> bool:
    import keras

    return isinstance(obj, keras.Variable)


def keras_attribute_paths(keras_layer) -> dict[int, str]:
    """Map `id(variable)` to its attribute path on `keras_layer` (`extra.kernel`, `fc.0.bias`),
    the names a user wrote, rather than Keras' auto-generated variable paths."""
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
        for name, value in vars(obj).items():
            if name.startswith("_"):
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


@dataclass
class PlannedTensor:
    """A torch tensor key, its Keras variable and the conversions between them."""

    torch_key: str
    keras_variable: Any
    to_keras: Callable[[np.ndarray], np.ndarray]
    to_torch: Callable[[np.ndarray], np.ndarray]
    layer_pair: str


@dataclass
class TransferPlan:
    """The result of aligning a torch module with a Keras layer, before any value moves."""

    tensors: list[PlannedTensor] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # torch key: why no Keras variable
    unexpected: list[str] = field(default_factory=list)  # Keras variables nobody fills
    mismatched: list[str] = field(default_factory=list)  # shape problems
    audit: list[str] = field(default_factory=list)  # hyper-parameter differences by path
    skipped: list[str] = field(default_factory=list)
    aliases: list[str] = field(
        default_factory=list
    )  # torch keys that name an already planned tensor


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


def plan_transfer(
    torch_module, keras_layer, overrides: Mapping[str, Any] | None = None
) -> TransferPlan:
    """Align every torch parameter/buffer with a Keras variable; never raises, collects problems."""
    overrides = dict(overrides or {})
    plan = TransferPlan()
    state = torch_module.state_dict(keep_vars=True)
    consumed: set[str] = set()

    def local(prefix: str, name: str) -> str:
        return f"{prefix}.{name}" if prefix else name

    for key in list(overrides):
        if key not in state:
            plan.missing.append(
                f'"{key}": declared in a transfer override but absent from the torch state_dict'
            )
            overrides.pop(key)

    first_path: dict[int, str] = {}  # id(torch module) -> the first path it was reached by
    keras_at: dict[str, Any] = {}
    for module_path, module in torch_module.named_modules(remove_duplicate=False):
        keras_object = resolve_keras_path(keras_layer, module_path)
        keras_at[module_path] = keras_object
        if id(module) in first_path:
            original = first_path[id(module)]
            if keras_object is not None and keras_object is keras_at.get(original):
                # One module under two names on both sides (`self.b = self.a`): its tensors were
                # planned under the first name; these keys are the same tensors.
                for name, tensor in [*module.named_parameters(recurse=False),
                                     *module.named_buffers(recurse=False)]:  # fmt: skip
                    key = local(module_path, name)
                    if tensor is not None and key in state:
                        consumed.add(key)
                        plan.aliases.append(f"{key} = {local(original, name)}")
                continue
        else:
            first_path[id(module)] = module_path
        own = [
            (n, t)
            for n, t in [
                *module.named_parameters(recurse=False),
                *module.named_buffers(recurse=False),
            ]
            if t is not None
        ]
        own = [(n, t) for n, t in own if local(module_path, n) in state]
        if not own:
            continue
        keys = {local(module_path, n) for n, _ in own}
        for key in sorted(keys & overrides.keys()):
            override = overrides[key]
            variable = resolve_keras_path(keras_layer, override.keras_path)
            if variable is None or not _is_keras_variable(variable):
                plan.missing.append(
                    f'"{key}" {_shape(state[key])}: override points at Keras '
                    f"`{override.keras_path}`, which is not a variable"
                )
            else:
                plan.tensors.append(
                    PlannedTensor(key, variable, override.to_keras, override.to_torch, "override")
                )
            consumed.add(key)
        own = [(n, t) for n, t in own if local(module_path, n) not in overrides]
        # num_batches_tracked is the one tensor with no Keras counterpart.
        for name, _ in own:
            if name == "num_batches_tracked":
                plan.skipped.append(local(module_path, name))
                consumed.add(local(module_path, name))
        own = [(n, t) for n, t in own if n != "num_batches_tracked"]
        if not own:
            continue
        torch_type = type(module).__name__
        if torch_type in _KNOWN_TORCH_TYPES:
            if keras_object is None:
                for name, tensor in own:
                    key = local(module_path, name)
                    plan.missing.append(
                        f'"{key}" {_shape(tensor)}: no Keras sub-layer at path '
                        f"`{module_path}` (torch {torch_type}); name the Keras sub-layer after the "
                        "torch attribute path"
                    )
                    consumed.add(key)
                continue
            converter = find_converter(module, keras_object)
            if converter is None:
                for name, tensor in own:
                    key = local(module_path, name)
                    plan.missing.append(
                        f'"{key}" {_shape(tensor)}: no converter from torch {torch_type} to Keras '
                        f"{type(keras_object).__name__} at `{module_path}`; supported: "
                        + ", ".join(f"{c.torch_type}->{c.keras_type}" for c in CONVERTERS)
                    )
                    consumed.add(key)
                continue
            try:
                maps = converter.maps(module, keras_object)
            except WeightTransferError as error:
                plan.mismatched.append(f"`{module_path}`: {error}")
                consumed.update(local(module_path, n) for n, _ in own)
                continue
            for finding in converter.audit(module, keras_object):
                plan.audit.append(f"{module_path or '<root>'} ({torch_type}): {finding}")
            pair = f"{torch_type}->{converter.keras_type}"
            for tensor_map in maps:
                key = local(module_path, tensor_map.torch_name)
                variable = getattr(keras_object, tensor_map.keras_attr, None)
                consumed.add(key)
                if variable is None or not _is_keras_variable(variable):
                    plan.missing.append(
                        f'"{key}" {_shape(state[key])}: Keras {type(keras_object).__name__} at '
                        f"`{module_path}` has no `{tensor_map.keras_attr}` variable"
                        + (
                            " (build it with use_bias=True)"
                            if tensor_map.keras_attr == "bias"
                            else ""
                        )
                    )
                    continue
                plan.tensors.append(
                    PlannedTensor(key, variable, tensor_map.to_keras, tensor_map.to_torch, pair)
                )
        else:
            # A module that is not a known layer type: its own tensors are raw Parameters/buffers,
            # matched to a Keras variable attribute of the same name on the mirrored object.
            for name, tensor in own:
                key = local(module_path, name)
                consumed.add(key)
                variable = None if keras_object is None else getattr(keras_object, name, None)
                if variable is None or not _is_keras_variable(variable):
                    where = f"`{module_path}`" if module_path else "the root layer"
                    plan.missing.append(
                        f'"{key}" {_shape(tensor)}: raw tensor of torch {torch_type}; expected a '
                        f"Keras variable `{name}` on {where} (create it with add_weight(name={name!r}))"
                    )
                    continue
                converters = raw_converters(_shape(tensor), _shape(variable))
                if converters is None:
                    where = f"`{module_path}.{name}`" if module_path else f"`{name}`"
                    plan.mismatched.append(
                        f'"{key}" {_shape(tensor)}: raw tensor of torch {torch_type} vs Keras '
                        f"variable {where} {_shape(variable)}: "
                        + (
                            "the same elements in a different arrangement; a reshape would "
                            "scramble them and the harness will not guess a transpose. Give the "
                            "Keras variable the torch shape, or declare the mapping (a "
                            "TransferOverride with to_keras/to_torch, passed as overrides=)"
                            if int(np.prod(_shape(tensor))) == int(np.prod(_shape(variable)))
                            else "different element counts"
                        )
                    )
                    continue
                plan.tensors.append(PlannedTensor(key, variable, *converters, "raw"))

    for key in state:
        if key not in consumed:
            plan.missing.append(f'"{key}" {_shape(state[key])}: not visited by the transfer walk')

    used = {id(t.keras_variable) for t in plan.tensors}
    seen: dict[int, str] = {}
    unique: list[PlannedTensor] = []
    for planned in plan.tensors:
        earlier = seen.get(id(planned.keras_variable))
        if earlier is None:
            seen[id(planned.keras_variable)] = planned.torch_key
            unique.append(planned)
        elif state[earlier] is state[planned.torch_key]:
            # Tied in torch (one Parameter under two keys) and in Keras (one variable): one copy.
            plan.aliases.append(f"{planned.torch_key} = {earlier}")
        else:
            plan.mismatched.append(
                f"Keras variable `{planned.keras_variable.path}` would be filled twice: from "
                f'"{earlier}" and "{planned.torch_key}"'
            )
    plan.tensors = unique
    attribute_paths = keras_attribute_paths(keras_layer)
    transient = {
        local(path, name)
        for path, module in torch_module.named_modules()
        for name in module._non_persistent_buffers_set
    }
    for variable in _keras_variables(keras_layer):
        if id(variable) not in used:
            where = attribute_paths.get(id(variable), variable.path)
            hint = (
                " (torch keeps this as a non-persistent buffer, outside the state_dict: compute "
                "it as a constant in Keras, not a variable)"
                if where in transient
                else ""
            )
            plan.unexpected.append(f"`{where}` {_shape(variable)} (variable {variable.path}){hint}")
    return plan


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
        "Keras `self.fc[0]`), give it the same bias/affine settings, or declare a "
        "TransferOverride with a reason in the spec."
    )
    raise WeightTransferError("\n".join(lines))


def _require_built(keras_layer) -> None:
    if not keras_layer.built:
        raise WeightTransferError(
            f"The Keras layer {keras_layer.name!r} is not built, so it has no variables yet. "
            "Call it once on an input of the right shape (or call `layer.build(shape)`) before "
            "transferring weights."
        )


def transfer_weights(
    source, target, *, overrides: Mapping[str, Any] | None = None
) -> TransferReport:
    """Copy weights torch -> Keras or Keras -> torch (direction from the argument types).

    Strict: every torch tensor consumed exactly once, every Keras variable filled, shapes equal
    after conversion; `num_batches_tracked` is the only key skipped. Raises `WeightTransferError`
    listing every missing key, unexpected variable and shape mismatch at once.
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
    plan = plan_transfer(torch_module, keras_layer, overrides)
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
                expected_shape = torch_shape
        except ValueError as error:
            shape_problems.append(
                f'"{planned.torch_key}": torch {torch_shape} vs Keras `{planned.keras_variable.path}` '
                f"{keras_shape} ({planned.layer_pair}): {error}"
            )
            continue
        if _shape(value) != expected_shape:
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
        copied=tuple(p.torch_key for p, _ in converted),
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


def audit_hyperparameters(torch_module, keras_layer, overrides=None) -> list[str]:
    """Numerically relevant hyper-parameter differences between aligned layers, by path."""
    return plan_transfer(torch_module, keras_layer, overrides).audit
