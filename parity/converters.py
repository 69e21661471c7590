"""Per-layer-type weight converters: which torch tensor goes to which Keras variable, converted
how, and which hyper-parameters must agree.

Layer types match by `isinstance` on both sides, so subclasses convert too (a timm-style
`Conv2dSame(nn.Conv2d)`, a `BatchNormAct2d(nn.BatchNorm2d)`, a user's `MyLinear(nn.Linear)`);
when several converters match, the most specific wins (the nearest class in each side's MRO),
and a user's converter beats a built-in one of the same specificity.

A user brings a converter for a layer type of their own:

    parity.Converter(
        torch_type=MyTorchLayer, keras_type=MyKerasLayer,
        tensors=[parity.TensorMap("scale", "gamma", to_keras=lambda a: a, to_torch=lambda a: a)],
        audit=lambda torch_layer, keras_layer: [] if torch_layer.eps == keras_layer.epsilon
              else [f"eps: torch {torch_layer.eps} vs Keras {keras_layer.epsilon}"],
    )

and passes it as `converters=[...]` (API, plugin) or `--converters package.module:NAME` (CLI).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
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
    """One torch tensor (its local name) <-> one Keras variable (its attribute name), with the
    conversion each way (numpy arrays in, numpy arrays out)."""

    torch_name: str
    keras_attr: str
    to_keras: Callable[[np.ndarray], np.ndarray]
    to_torch: Callable[[np.ndarray], np.ndarray]


def _no_audit(torch_module, keras_layer) -> list[str]:
    return []


def _resolve_type(value: type | str) -> type:
    if isinstance(value, type):
        return value
    module_name, _, attribute = str(value).partition(":")
    target: Any = importlib.import_module(module_name)
    for part in attribute.split("."):
        target = getattr(target, part)
    return target


@dataclass(frozen=True)
class Converter:
    """How a torch layer type maps onto a Keras layer type (subclasses included), plus the audit
    of its numerically relevant hyper-parameters.

    `torch_type` / `keras_type`: classes, or `"package.module:Class"` (imported when first used).
    `tensors`: the `TensorMap`s, or a function `(torch_layer, keras_layer) -> [TensorMap]` when they
    depend on the layer (a bias that may be absent). `audit`: `(torch_layer, keras_layer) -> [str]`,
    one line per hyper-parameter that differs (reported by name before any number is compared).
    """

    torch_type: type | str
    keras_type: type | str
    tensors: Sequence[TensorMap] | Callable[[Any, Any], list[TensorMap]]
    audit: Callable[[Any, Any], list[str]] = _no_audit
    name: str = ""

    def types(self) -> tuple[type, type]:
        """The (torch class, Keras class) this converter applies to."""
        return _resolve_type(self.torch_type), _resolve_type(self.keras_type)

    def tensor_maps(self, torch_module, keras_layer) -> list[TensorMap]:
        """The tensor maps for this pair of layers."""
        if callable(self.tensors):
            return list(self.tensors(torch_module, keras_layer))
        return list(self.tensors)

    def describe(self) -> str:
        """`Conv2d->Conv2D` (or the converter's own name)."""
        torch_type, keras_type = self.types()
        return self.name or f"{torch_type.__name__}->{keras_type.__name__}"


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
    # A subclass that overrides forward (timm's Conv2dSame pads dynamically there) is not judged
    # by its `padding` attribute: the numbers decide.
    base = "Conv1d" if rank == 1 else "Conv2d"
    padding = tuple(torch_module.padding) if not isinstance(torch_module.padding, str) else None
    if _forward_overridden(torch_module, base):
        padding = None
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


def _forward_overridden(torch_module, base_name: str) -> bool:
    import torch

    return type(torch_module).forward is not getattr(torch.nn, base_name).forward


BUILTIN_CONVERTERS: tuple[Converter, ...] = (
    Converter("torch.nn:Conv2d", "keras.layers:Conv2D", _conv2d_maps, _conv_audit),
    Converter(
        "torch.nn:Conv2d",
        "keras.layers:DepthwiseConv2D",
        _depthwise_maps,
        lambda t, k: _conv_audit(t, k, depthwise=True),
    ),
    Converter("torch.nn:Conv2d", "keras.layers:Dense", _pointwise_dense_maps, _dense_audit),
    Converter("torch.nn:Conv1d", "keras.layers:Conv1D", _conv1d_maps, _conv_audit),
    Converter("torch.nn:Linear", "keras.layers:Dense", _linear_maps, _dense_audit),
    Converter(
        "torch.nn:BatchNorm1d",
        "keras.layers:BatchNormalization",
        _batch_norm_maps,
        _batch_norm_audit,
    ),
    Converter(
        "torch.nn:BatchNorm2d",
        "keras.layers:BatchNormalization",
        _batch_norm_maps,
        _batch_norm_audit,
    ),
    Converter(
        "torch.nn:LayerNorm", "keras.layers:LayerNormalization", _affine_norm_maps, _norm_eps_audit
    ),
    Converter(
        "torch.nn:GroupNorm",
        "keras.layers:GroupNormalization",
        _affine_norm_maps,
        _group_norm_audit,
    ),
)


def _distance(obj, cls: type) -> int | None:
    """How far `cls` is up the MRO of `obj`'s class (0: its own class), None if not an instance."""
    try:
        return type(obj).__mro__.index(cls)
    except ValueError:
        return None


def all_converters(extra: Sequence[Converter] = ()) -> list[Converter]:
    """The user's converters (first: they win ties) followed by the built-in ones."""
    for converter in extra:
        if not isinstance(converter, Converter):
            raise WeightTransferError(
                f"Expected parity.Converter objects in `converters`. Received: "
                f"{type(converter).__name__}"
            )
    return [*extra, *BUILTIN_CONVERTERS]


def converts_torch_layer(torch_module, converters: Sequence[Converter]) -> bool:
    """Whether some converter applies to this torch module's type (then only a converter may
    consume its tensors, never the raw-parameter rule)."""
    return any(_distance(torch_module, c.types()[0]) is not None for c in converters)


def find_converter(
    torch_module, keras_object, converters: Sequence[Converter] = BUILTIN_CONVERTERS
) -> Converter | None:
    """The most specific converter for this pair of layers (by `isinstance`), or None."""
    best, best_rank = None, None
    for order, converter in enumerate(converters):
        torch_type, keras_type = converter.types()
        torch_distance = _distance(torch_module, torch_type)
        keras_distance = _distance(keras_object, keras_type)
        if torch_distance is None or keras_distance is None:
            continue
        rank = (torch_distance + keras_distance, order)
        if best_rank is None or rank < best_rank:
            best, best_rank = converter, rank
    return best
