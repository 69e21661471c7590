"""Check a torch/Keras pair the way `parity check` and the pytest plugin do: the given shape and
its derived variants, or symbolic shapes and configuration ranges fuzzed by hypothesis.

`check_pair` builds each pair once per configuration (the Keras layer under the requested dtype
policy, so a port that does not pass `dtype` to its sub-layers works), runs every case, and
returns report rows (`parity.report.CaseOutcome`): passes, mismatches, variants torch itself
rejects (`not applicable`), and the shrunk failure of a fuzz run with its repro file.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from parity.errors import ModuleCallError
from parity.fuzz import derived_variants, fuzz, symbols
from parity.report import CaseOutcome, outcome_from_result
from parity.runner import case_comparison, dtype_policy, run_comparison
from parity.spec import Case, ExtraInput
from parity.tolerance import resolve_tolerance


@dataclass
class PairSource:
    """How to build the pair: classes and constructor arguments (shared, then per side)."""

    torch_class: type
    keras_class: type
    init: Mapping[str, Any] = field(default_factory=dict)
    torch_init: Mapping[str, Any] = field(default_factory=dict)
    keras_init: Mapping[str, Any] = field(default_factory=dict)
    name: str = ""
    state: Mapping[str, Any] | None = None  # torch weights to load instead of randomising

    def configs(self, changes: Mapping[str, Any]) -> tuple[dict, dict]:
        """(torch config, Keras config) with `changes` applied to both."""
        return (
            {**self.init, **self.torch_init, **changes},
            {**self.init, **self.keras_init, **changes},
        )

    def build(self, changes: Mapping[str, Any], dtype: str):
        """Construct the pair (Keras under the `dtype` policy); raise `ConstructionError`."""
        import torch

        torch_config, keras_config = self.configs(changes)
        label = self.name or self.torch_class.__name__
        try:
            torch_module = self.torch_class(**torch_config)
        except Exception as error:
            raise ConstructionError(label, torch_config, error) from error
        try:
            with dtype_policy(dtype):
                keras_layer = self.keras_class(**keras_config, dtype=dtype)
        except Exception as error:
            raise ConstructionError(label, keras_config, error) from error
        if self.state is not None:
            from parity.checkpoint import load_into

            load_into(torch_module, {k: v.to(getattr(torch, dtype)) for k, v in self.state.items()})
        return torch_module, keras_layer


class ConstructionError(ValueError):
    """A constructor rejected its arguments (names the class, the arguments and the cause)."""

    def __init__(self, name: str, config: Mapping[str, Any], error: BaseException):
        from parity.runner import informative_line

        super().__init__(
            f"{name}(**{dict(config)}) rejected: {type(error).__name__}: {informative_line(error)}"
        )


@dataclass
class CheckOptions:
    """Everything about a check but the pair itself."""

    input_shapes: Sequence[Sequence[int | str]]
    layout: Any = "image"
    output_layout: Any = None
    extras: Mapping[str, ExtraInput] = field(default_factory=dict)
    shared_input: bool = False
    dtypes: Sequence[str] = ("float32", "float64")
    examples: int = 1
    seed: int = 0
    variants: bool = True
    dims: Mapping[str, tuple[int, int]] = field(default_factory=dict)
    init_ranges: Mapping[str, Sequence[Any]] = field(default_factory=dict)
    rtol: float | None = None
    atol: float | None = None
    comparison: Mapping[str, Any] = field(default_factory=dict)  # overrides, converters, ...
    repro_dir: Any = None
    reproduce: Callable[[Case, int, str], str | None] | None = None
    database: Any = "default"
    spec: Any = None  # a registered block's ModuleSpec: its known deviations apply
    checks: Sequence[str] = ("forward",)  # parity.checks names (on the given case only)
    case_layout: str | None = None  # one --layout for every input, kept in reproduce commands
    input_scale: float = 1.0  # the given case's inputs are multiplied by it (replays a variant)

    @property
    def fuzzing(self) -> bool:
        """Whether shapes or configurations are drawn by hypothesis."""
        return bool(symbols(self.input_shapes) or self.init_ranges)


def _layout_names(options: CheckOptions, count: int) -> list[str]:
    layout = options.layout
    if isinstance(layout, str):
        return [layout] * count
    return [getattr(item, "name", item) for item in layout]


def _run(source: PairSource, options: CheckOptions, pairs: dict, case: Case, seed: int, dtype: str):
    key = (json.dumps(dict(case.config), sort_keys=True, default=repr), dtype)
    if key not in pairs:
        pairs[key] = source.build(case.config, dtype)
    torch_module, keras_layer = pairs[key]
    tolerance, tolerance_source, allowances = None, None, ()
    torch_config, keras_config = source.configs(case.config)
    if options.rtol is not None or options.atol is not None:
        tolerance = resolve_tolerance(dtype, options.rtol, options.atol)
        tolerance_source = "given"
    elif options.spec is not None:  # as `run_case` applies them, so reproduce lines replay
        full = replace(case, config=torch_config)
        tolerance, reason = options.spec.tolerance_for(full, dtype)
        tolerance_source = f"{options.spec.name} override: {reason}" if tolerance else None
        allowances = options.spec.allowances_for(full, dtype)
    comparison = case_comparison(
        torch_module,
        keras_layer,
        replace(case, config=torch_config),
        dtype=dtype,
        seed=seed,
        layout=options.layout,
        output_layout=options.output_layout or options.layout,
        name=source.name or source.torch_class.__name__,
        randomize=source.state is None,
        tolerance=tolerance,
        tolerance_source=tolerance_source,
        allowances=allowances,
        # The whole torch config: `case.config` holds only the changes to `source.init`.
        reproduce=(
            options.reproduce(replace(case, config=torch_config), seed, dtype)
            if options.reproduce
            else None
        ),
        # The checks beyond forward run on the given case (and the shrunk failure), not on
        # every variant or draw: they cost several forwards each.
        checks=options.checks if case.label in ("", "shrunk failure") else ("forward",),
        factory=lambda changes, dtype_: source.build({**case.config, **changes}, dtype_),
        training_config=options.spec.training_config if options.spec is not None else {},
        static_axes=options.spec.static_axes if options.spec is not None else {},
        not_applicable=options.spec.checks_not_applicable if options.spec is not None else {},
        repro_dir=options.repro_dir,
        keras_init=keras_config if keras_config != torch_config else None,
        **options.comparison,
    )
    return run_comparison(comparison)


def keras_failure(error: ModuleCallError, name: str, case: Case, dtype: str, seed: int):
    """A `ParityResult` for an input torch accepts and the Keras layer fails on: a mismatch."""
    from parity.compare import ParityResult

    result = ParityResult(passed=False, dtype=dtype, rtol=0.0, atol=0.0)
    result.problem = f"torch accepts this input, but the Keras layer fails on it: {error}"
    result.context.name, result.context.case, result.context.seed = name, case.describe(), seed
    return result


def _not_applicable(error: BaseException) -> str:
    if isinstance(error, ModuleCallError) and error.side == "torch":
        return f"torch rejects it: {error}"
    return ""


def _outcome(name: str, kind: str, case: Case, result, began: float) -> CaseOutcome:
    return outcome_from_result(name, kind, case.describe(), result, time.perf_counter() - began)


def _skipped(name: str, kind: str, case: Case, dtype: str, seed: int, why: str) -> CaseOutcome:
    return CaseOutcome(
        name,
        kind,
        case.describe(),
        dtype,
        False,
        None,
        None,
        0.0,
        why,
        seed=seed,
        verdict="not applicable",
    )


def check_pair(source: PairSource, options: CheckOptions) -> list[CaseOutcome]:
    """Run the check; raise `ConstructionError`, `ModuleCallError` (the given case itself fails
    to run), `WeightTransferError` or `ValueError` for problems a user must fix first."""
    if options.fuzzing:
        return _fuzz(source, options)
    name = source.name or source.torch_class.__name__
    base = Case(
        config={},
        input_shapes=tuple(tuple(s) for s in options.input_shapes),
        extra_inputs=dict(options.extras),
        shared_input=options.shared_input,
        layout=options.case_layout,
        input_scale=options.input_scale,
    )
    cases = [("check", base)]
    if options.variants:
        layouts = _layout_names(options, len(base.input_shapes))
        for variant in derived_variants(
            base.input_shapes, layouts, with_extras=bool(options.extras)
        ):
            cases.append(
                (
                    f"variant: {variant.label}",
                    replace(
                        base,
                        input_shapes=variant.shapes,
                        input_scale=base.input_scale * variant.scale,
                        label=variant.label,
                    ),
                )
            )
    pairs: dict = {}
    outcomes = []
    for dtype in options.dtypes:
        for kind, case in cases:
            # Large inputs saturate softmaxes; float32 noise there is not a port's fault, so the
            # scale variant runs where the comparison is exact (float64) when it is asked for.
            if case.input_scale != 1.0 and dtype != "float64" and "float64" in options.dtypes:
                continue
            for seed in range(options.seed, options.seed + options.examples):
                began = time.perf_counter()
                try:
                    result = _run(source, options, pairs, case, seed, dtype)
                except ModuleCallError as error:
                    if error.side == "torch" and kind == "check":
                        raise  # the given input is wrong for the reference itself
                    if error.side == "torch":
                        outcomes.append(
                            _skipped(
                                name,
                                kind,
                                case,
                                dtype,
                                seed,
                                f"not applicable: torch rejects it: {error}",
                            )
                        )
                        continue
                    described = replace(case, config=source.configs(case.config)[0])
                    result = keras_failure(error, name, described, dtype, seed)
                outcomes.append(_outcome(name, kind, case, result, began))
    return outcomes


def _fuzz(source: PairSource, options: CheckOptions) -> list[CaseOutcome]:
    name = source.name or source.torch_class.__name__
    outcomes: list[CaseOutcome] = []
    pairs: dict = {}
    for dtype in options.dtypes:

        def run_one(changes, shapes, seed, dtype=dtype, repro=False):
            case = Case(
                config=changes,
                input_shapes=tuple(shapes),
                extra_inputs=dict(options.extras),
                shared_input=options.shared_input,
            )
            if repro:
                case = replace(case, label="shrunk failure")
            run_options = options if repro else replace(options, repro_dir=None)
            try:
                return _run(source, run_options, pairs, case, seed, dtype)
            except ModuleCallError as error:
                if error.side == "torch":
                    raise
                described = replace(case, config=source.configs(case.config)[0])
                return keras_failure(error, name, described, dtype, seed)

        identity = json.dumps(
            [
                f"{source.torch_class.__module__}:{source.torch_class.__qualname__}",
                f"{source.keras_class.__module__}:{source.keras_class.__qualname__}",
                [list(s) for s in options.input_shapes],
                {k: list(v) for k, v in options.dims.items()},
                {k: list(map(repr, v)) for k, v in options.init_ranges.items()},
                dtype,
            ],
            sort_keys=True,
        )
        began = time.perf_counter()
        try:
            found = fuzz(
                run_one,
                shapes=options.input_shapes,
                dims=options.dims,
                init_ranges=options.init_ranges,
                examples=options.examples,
                seed=options.seed,
                identity=identity,
                database=options.database,
                is_not_applicable=_not_applicable,
            )
        except Exception as error:  # hypothesis gave up: every draw was rejected by torch
            from hypothesis.errors import Unsatisfiable

            if not isinstance(error, Unsatisfiable):
                raise
            case = Case({}, tuple(tuple(map(str, s)) for s in options.input_shapes))
            outcomes.append(
                _skipped(
                    name,
                    "fuzz",
                    case,
                    dtype,
                    options.seed,
                    "not applicable: torch rejected every drawn example",
                )
            )
            continue
        seconds = (time.perf_counter() - began) / max(len(found.results), 1)
        # Failing runs are the first failure and hypothesis' shrinking steps: the shrunk one
        # below stands for them all.
        for config, shapes, seed, result in found.results:
            if not result.passed:
                continue
            case = Case(config, tuple(shapes))
            outcomes.append(
                outcome_from_result(name, "fuzz", case.describe(), result, seconds, seed)
            )
        if found.failure is not None:
            config, shapes, seed, _ = found.failure
            began = time.perf_counter()
            result = run_one(config, shapes, seed, repro=True)  # localised, with a repro file
            case = Case(config, tuple(shapes), label="shrunk failure")
            outcomes.append(_outcome(name, "fuzz (shrunk)", case, result, began))
    return outcomes
