"""The public entry points for any torch/Keras pair: `compare` and `assert_parity`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from parity.compare import ParityResult
from parity.errors import ParityError
from parity.layout import Layout
from parity.runner import run_pair
from parity.tolerance import resolve_tolerance


def compare(
    torch_module,
    keras_layer,
    *inputs: np.ndarray,
    layout: str | Layout | Sequence[str | Layout] = "image",
    output_layout: str | Layout | Sequence[str | Layout] | None = None,
    call_kwargs: Mapping[str, Any] | None = None,
    rtol: float | None = None,
    atol: float | None = None,
    randomize: bool = True,
    seed: int = 0,
    transfer: bool = True,
    training: bool = False,
    overrides: Mapping[str, Any] | None = None,
    name: str | None = None,
) -> ParityResult:
    """Compare a torch module with its Keras port on `inputs` (numpy, torch layout).

    By default every torch parameter and buffer is re-randomised from `seed` (pass
    `randomize=False` to keep loaded weights) and copied to Keras (`transfer=False` to keep the
    Keras weights). The dtype follows the inputs; the Keras layer must compute in it. Never raises
    on a mismatch: inspect `result.passed` and `result.message`.
    """
    dtype = str(np.asarray(inputs[0]).dtype) if inputs else "float32"
    tolerance = resolve_tolerance(dtype, rtol, atol) if dtype in ("float32", "float64") else None
    return run_pair(
        torch_module,
        keras_layer,
        inputs,
        layout=layout,
        output_layout=output_layout,
        call_kwargs=call_kwargs,
        randomize=randomize,
        seed=seed,
        tolerance=tolerance,
        tolerance_source=None if rtol is None else "given",
        transfer=transfer,
        training=training,
        overrides=overrides,
        context={"name": name or type(torch_module).__name__},
    )


def assert_parity(
    torch_module,
    keras_layer,
    *inputs: np.ndarray,
    layout: str | Layout | Sequence[str | Layout] = "image",
    rtol: float | None = None,
    atol: float | None = None,
    **options: Any,
) -> ParityResult:
    """Like `compare`, but raise `ParityError` (an `AssertionError`) with the report on mismatch."""
    result = compare(
        torch_module, keras_layer, *inputs, layout=layout, rtol=rtol, atol=atol, **options
    )
    if not result.passed:
        raise ParityError(result.message, result)
    return result
