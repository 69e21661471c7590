"""attention-parity: prove a Keras port equal to its PyTorch original.

    import parity
    parity.transfer_weights(torch_module, keras_layer)     # strict, both directions
    parity.compare(torch_module, keras_layer, x)           # -> ParityResult, never raises
    parity.assert_parity(torch_module, keras_layer, x)     # raises ParityError
    parity.SPECS                                           # our registered block pairs

TensorFlow and torch are imported lazily, when a function that needs them runs. Importing parity
changes no global setting (environment, logging, hypothesis profiles, framework flags).
"""

from __future__ import annotations

from parity.api import assert_parity, compare
from parity.compare import ParityResult
from parity.converters import Converter, TensorMap
from parity.errors import LayoutError, ModuleCallError, ParityError, WeightTransferError
from parity.name_map import Split
from parity.runner import dtype_policy, run_case
from parity.spec import (
    CallSignature,
    Case,
    ExtraInput,
    InvalidConfig,
    KnownDeviation,
    ModuleSpec,
    Quirk,
    TiedAxes,
)
from parity.tolerance import DEFAULT_TOLERANCES, Tolerance
from parity.weights import TransferReport, transfer_weights

__all__ = [
    "DEFAULT_TOLERANCES",
    "SPECS",
    "CallSignature",
    "Case",
    "Converter",
    "ExtraInput",
    "InvalidConfig",
    "KnownDeviation",
    "LayoutError",
    "ModuleCallError",
    "ModuleSpec",
    "ParityError",
    "ParityResult",
    "Quirk",
    "Split",
    "TensorMap",
    "TiedAxes",
    "Tolerance",
    "TransferReport",
    "WeightTransferError",
    "assert_parity",
    "compare",
    "dtype_policy",
    "run_case",
    "transfer_weights",
]


def __getattr__(name: str):
    # The registry imports both frameworks and every block: load it only when asked for.
    if name == "SPECS":
        from parity.specs import SPECS

        return SPECS
    raise AttributeError(f"module 'parity' has no attribute {name!r}")
