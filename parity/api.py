"""The public entry points for any torch/Keras pair: `compare` and `assert_parity`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from parity.compare import ParityResult
from parity.converters import Converter
from parity.errors import ParityError
from parity.layout import Layout
from parity.runner import Comparison, build_comparison, run_comparison
from parity.tolerance import resolve_tolerance


def comparison_from_options(
    torch_module,
    keras_layer,
    inputs: Sequence[Any],
    *,
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
    converters: Sequence[Converter] = (),
    name_map: Mapping[str, Any] | None = None,
    allow: Any = None,
    **extra: Any,
) -> Comparison:
    """The validated `Comparison` for `compare`'s keyword arguments (`extra`: further
    `Comparison` fields such as `init`, `repro_dir`, `reproduce`)."""
    tolerance = None
    if rtol is not None or atol is not None:  # both or neither: resolve_tolerance says which
        tolerance = resolve_tolerance("float64", rtol, atol)
    return build_comparison(
        torch_module,
        keras_layer,
        inputs,
        layout=layout,
        output_layout=output_layout,
        call_kwargs=call_kwargs,
        randomize=randomize,
        seed=seed,
        tolerance=tolerance,
        tolerance_source=None if tolerance is None else "given",
        transfer=transfer,
        training=training,
        overrides=overrides,
        name=name or type(torch_module).__name__,
        converters=converters,
        name_map=name_map,
        allow=allow,
        **extra,
    )


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
    converters: Sequence[Converter] = (),
    name_map: Mapping[str, Any] | None = None,
    allow: Any = None,
    checks: Any = ("forward",),
) -> ParityResult:
    """Compare a torch module with its Keras port on `inputs` (numpy, torch layout).

    By default every torch parameter and persistent buffer is re-randomised from `seed` (pass
    `randomize=False` to keep loaded weights) and copied to Keras (`transfer=False` to keep the
    Keras weights). The dtype follows the inputs; the Keras layer must compute in it. Both modules
    are left exactly as they were (weights, dtype, mode). Never raises on a mismatch: inspect
    `result.verdict` (`"pass"`, `"mismatch"`, `"inconclusive"`) and `result.message`. Raises
    `ValueError` (`LayoutError`, `WeightTransferError`) for bad arguments, and `ModuleCallError`
    when a module under test raises.

    Third-party code: `converters=[parity.Converter(...)]` for the user's own layer types;
    `name_map={"torch.path": "keras.path" | parity.Split([...])}` where names differ;
    `allow={"act": (1e-8, "why")}` declares one sub-layer's known deviation (see
    `parity.deviations`). `checks=("forward", "gradients", ...)` or `"all"` runs the checks beyond
    the eval-mode forward (see `parity.checks`); their verdicts are in `result.checks`.
    """
    return run_comparison(
        comparison_from_options(
            torch_module,
            keras_layer,
            inputs,
            layout=layout,
            output_layout=output_layout,
            call_kwargs=call_kwargs,
            rtol=rtol,
            atol=atol,
            randomize=randomize,
            seed=seed,
            transfer=transfer,
            training=training,
            overrides=overrides,
            name=name,
            converters=converters,
            name_map=name_map,
            allow=allow,
            checks=checks,
        )
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
