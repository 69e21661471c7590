"""Leave the caller's things as they were: their modules, their framework flags.

A comparison re-randomises torch weights, casts the module to the compared dtype, switches modes,
copies weights into the Keras layer and switches TF32 off. `isolated` records everything it is
about to change and puts it back on every path out (pass, mismatch, exception), so a user's loaded
model is byte-for-byte the same afterwards:

* torch: every parameter and buffer (the same objects, with their values, dtypes and devices),
  `requires_grad`, and the `training` flag of every sub-module;
* Keras: the value of every variable the layer had on entry; a layer built by the harness is
  restored to the values it was built with (see `Isolation.remember_keras`);
* flags: torch's TF32 switches and TensorFlow's TF32 execution.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any


@dataclass
class _TorchSlot:
    """One parameter or buffer slot: where it lives, the object that was there, its saved data."""

    owner: Any
    table: str  # "_parameters" or "_buffers"
    name: str
    tensor: Any
    data: Any
    requires_grad: bool
    grad: Any = None


@dataclass
class Isolation:
    """What `isolated` saved; `remember_keras` re-snapshots a layer the harness had to build."""

    torch_slots: list[_TorchSlot] = field(default_factory=list)
    torch_modes: list[tuple[Any, bool]] = field(default_factory=list)
    keras_values: list[tuple[Any, Any]] = field(default_factory=list)
    keras_layer: Any = None

    def remember_keras(self) -> None:
        """Snapshot the Keras variables now (after the harness built the layer)."""
        if self.keras_layer is None:
            return
        known = {id(variable) for variable, _ in self.keras_values}
        for variable in self.keras_layer.variables:
            if id(variable) not in known:
                self.keras_values.append((variable, _keras_value(variable)))


def _keras_value(variable):
    import numpy as np

    return np.array(variable.numpy(), copy=True)


def _saved_grad(tensor):
    if not tensor.is_leaf or tensor.grad is None:
        return None
    return tensor.grad.detach().clone()


def _snapshot_torch(module, isolation: Isolation) -> None:
    seen: set[int] = set()
    for submodule in module.modules():
        if id(submodule) in seen:
            continue
        seen.add(id(submodule))
        isolation.torch_modes.append((submodule, submodule.training))
        for table in ("_parameters", "_buffers"):
            for name, tensor in getattr(submodule, table).items():
                if tensor is None:
                    continue
                isolation.torch_slots.append(
                    _TorchSlot(
                        owner=submodule,
                        table=table,
                        name=name,
                        tensor=tensor,
                        data=tensor.detach().clone(),
                        requires_grad=bool(tensor.requires_grad),
                        grad=_saved_grad(tensor),
                    )
                )


def _restore_torch(isolation: Isolation) -> None:
    import torch

    with torch.no_grad():
        for slot in isolation.torch_slots:
            getattr(slot.owner, slot.table)[slot.name] = slot.tensor
            # `.data =` restores dtype and device too (`module.to()` swapped them the same way).
            slot.tensor.data = slot.data
            if slot.tensor.is_leaf:
                slot.tensor.requires_grad_(slot.requires_grad)
                slot.tensor.grad = slot.grad
    for submodule, training in isolation.torch_modes:
        submodule.training = training


def _restore_keras(isolation: Isolation) -> None:
    for variable, value in isolation.keras_values:
        variable.assign(value)


@contextmanager
def framework_flags() -> Iterator[None]:
    """Switch TF32 off on both sides for the duration (it changes float32 results), then put
    the caller's settings back."""
    import tensorflow as tf
    import torch

    saved = (
        torch.backends.cuda.matmul.allow_tf32,
        torch.backends.cudnn.allow_tf32,
        tf.config.experimental.tensor_float_32_execution_enabled(),
    )
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    tf.config.experimental.enable_tensor_float_32_execution(False)
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32 = saved[0]
        torch.backends.cudnn.allow_tf32 = saved[1]
        tf.config.experimental.enable_tensor_float_32_execution(saved[2])


@contextmanager
def isolated(torch_module=None, keras_layer=None) -> Iterator[Isolation]:
    """Run the body with the caller's modules and flags restored afterwards, whatever happens
    (parameter values, dtypes, `requires_grad` and `.grad` included)."""
    isolation = Isolation(keras_layer=keras_layer)
    if torch_module is not None:
        _snapshot_torch(torch_module, isolation)
    if keras_layer is not None:
        isolation.keras_values = [(v, _keras_value(v)) for v in keras_layer.variables]
    try:
        with framework_flags():
            yield isolation
    finally:
        _restore_torch(isolation)
        _restore_keras(isolation)
