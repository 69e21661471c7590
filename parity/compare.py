"""Compare outputs under the tolerance policy and build the mismatch report.

Order of checks: shape (after the layout change), then non-finite positions (NaN where torch has
NaN is agreement), then values. See `tolerance.py` for the rule.

Every verdict is earned. A comparison with no elements, or with no finite element pair (both sides
NaN/inf at the same places everywhere), compared nothing: its verdict is `inconclusive`, never a
pass.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from parity.layout import Layout
from parity.tolerance import Tolerance


@dataclass
class RunInfo:
    """What was run and how to run it again (a `ParityResult`'s context, typed)."""

    name: str = "module pair"
    case: str = ""  # the case's description, for reports
    seed: int | None = None
    output_count: int = 1
    tolerance_source: str = ""  # "given", or the spec override and its reason
    reproduce: str = ""  # the command that replays this case
    repro_file: str = ""
    repro_error: str = ""  # why a failing case has no repro file
    torch_layout: str = "torch"
    keras_layout: str = "keras"


@dataclass
class ParityResult:
    """The outcome of one comparison; `compare` returns it and never raises on a mismatch."""

    passed: bool
    dtype: str
    rtol: float
    atol: float
    max_abs: float = 0.0
    max_rel: float = 0.0
    scale: float = 0.0
    mismatched: int = 0
    total: int = 0
    worst_torch_index: tuple[int, ...] | None = None
    worst_keras_index: tuple[int, ...] | None = None
    worst_expected: float | None = None
    worst_actual: float | None = None
    problem: str = ""  # shape / non-finite / audit / error: a mismatch that is not about values
    inconclusive: str = ""  # why nothing could be decided (then `passed` is False too)
    notes: list[str] = field(default_factory=list)  # facts that qualify the verdict
    nonfinite_agreed: int = 0  # elements non-finite on both sides at the same place
    allowed: list[str] = field(default_factory=list)  # declared deviations that excused it
    checks: dict = field(default_factory=dict)  # name -> parity.checks.CheckResult, when run
    audit: list[str] = field(default_factory=list)
    first_divergence: str | None = None
    localization: list = field(default_factory=list)  # parity.localize.LocalizationRow, in order
    context: RunInfo = field(default_factory=RunInfo)
    output_index: int = 0

    @property
    def verdict(self) -> str:
        """`"pass"`, `"mismatch"`, or `"inconclusive"` (nothing could be compared)."""
        if self.passed:
            return "pass"
        return "inconclusive" if self.inconclusive else "mismatch"

    @property
    def mismatched_fraction(self) -> float:
        """Fraction of output elements over tolerance."""
        return self.mismatched / self.total if self.total else 0.0

    @property
    def message(self) -> str:
        """The full human-readable report (also the `ParityError` text)."""
        return format_report(self)


def _to_float64(array) -> np.ndarray:
    return np.asarray(array, dtype=np.float64)


def compare_arrays(
    expected_torch: np.ndarray,
    actual_keras: np.ndarray,
    layout: Layout,
    tolerance: Tolerance,
    dtype: str,
    min_scale: float = 0.0,
) -> ParityResult:
    """Compare a torch output with a Keras output (each in its own framework's layout).

    `min_scale` is a floor under the output RMS that atol is relative to: for a tensor that is
    one of many judged together (a parameter's gradient among all gradients), a gradient that is
    zero in exact arithmetic and rounding noise on both sides is judged against the set's scale.
    """
    result = ParityResult(passed=False, dtype=dtype, rtol=tolerance.rtol, atol=tolerance.atol)
    result.context.torch_layout = layout.describe("torch")
    result.context.keras_layout = layout.describe("keras")
    expected = _to_float64(expected_torch)
    try:
        actual = _to_float64(layout.keras_to_torch(np.asarray(actual_keras)))
    except ValueError as error:
        result.problem = f"Keras output does not fit layout {layout.name!r}: {error}"
        return result
    result.total = int(expected.size)
    if expected.shape != actual.shape:
        result.problem = (
            f"shape mismatch: torch {expected.shape} vs Keras {tuple(np.shape(actual_keras))} "
            f"({layout.describe('keras')}) -> {actual.shape} ({layout.describe('torch')})"
        )
        return result

    finite = np.isfinite(expected)
    finite &= np.isfinite(actual)
    all_finite = finite.size > 0 and bool(finite.all())
    if all_finite:
        # The usual case, in as few full-size passes as possible (the harness's own cost is
        # measured by `parity bench --harness`): no masks, no copies of the finite elements.
        bad_nonfinite = np.zeros((), dtype=bool)
        flat = expected.reshape(-1)
        scale = float(np.sqrt(np.dot(flat, flat) / flat.size)) if flat.size else 0.0
        magnitude = np.abs(expected)
        difference = np.subtract(actual, expected)
        np.abs(difference, out=difference)
    else:
        expected_nan, actual_nan = np.isnan(expected), np.isnan(actual)
        expected_inf, actual_inf = np.isinf(expected), np.isinf(actual)
        bad_nonfinite = (expected_nan != actual_nan) | (expected_inf != actual_inf)
        bad_nonfinite |= expected_inf & actual_inf & (np.sign(expected) != np.sign(actual))
        scale = float(np.sqrt(np.mean(np.square(expected[finite])))) if finite.any() else 0.0
        # Only finite pairs are subtracted: inf - inf is not a difference (and would warn).
        magnitude = np.where(finite, np.abs(expected), 0.0)
        difference = np.zeros_like(expected)
        difference[finite] = np.abs(actual[finite] - expected[finite])
    scale = max(scale, min_scale)
    result.scale = scale
    reference = scale if scale > 0 else 1.0
    allowed = magnitude * tolerance.rtol
    allowed += tolerance.atol * reference
    over = difference > allowed
    if all_finite:
        result.mismatched = int(np.count_nonzero(over))
    else:
        over &= finite
        result.mismatched = int(np.count_nonzero(over) + np.count_nonzero(bad_nonfinite))
        result.nonfinite_agreed = int(np.count_nonzero(~finite & ~bad_nonfinite))
    if all_finite or finite.any():
        result.max_abs = float(difference.max())
        np.maximum(magnitude, reference, out=magnitude)  # magnitude is not needed after this
        result.max_rel = float(np.divide(difference, magnitude, out=magnitude).max())
        # The worst element is the one furthest over its allowance.
        allowed -= difference
        worst = np.unravel_index(int(np.argmin(allowed)), expected.shape)
        result.worst_torch_index = tuple(int(i) for i in worst)
        result.worst_keras_index = layout.torch_index_to_keras(worst)
        result.worst_expected = float(expected[worst])
        result.worst_actual = float(actual[worst])
    if bad_nonfinite.any():
        position = tuple(int(i) for i in np.argwhere(bad_nonfinite)[0])
        result.problem = (
            f"non-finite mismatch at {int(bad_nonfinite.sum())} elements, first at torch "
            f"{position}: torch {expected[position]!r} vs Keras {actual[position]!r}"
        )
        result.worst_torch_index = position
        result.worst_keras_index = layout.torch_index_to_keras(position)
        result.worst_expected = float(expected[position])
        result.worst_actual = float(actual[position])
    result.passed = result.mismatched == 0
    if result.passed and result.total == 0:
        result.passed = False
        result.inconclusive = (
            f"no elements to compare: both outputs have shape {expected.shape} (an empty batch "
            "or axis); nothing was checked"
        )
    elif result.passed and not finite.any():
        result.passed = False
        result.inconclusive = (
            f"no finite element pair to compare: torch and Keras are both NaN/inf at the same "
            f"{result.nonfinite_agreed} of {result.total} positions; nothing was checked (look for "
            "NaN in the inputs or weights, or a configuration whose math is undefined)"
        )
    return result


def format_report(result: ParityResult) -> str:
    """Render a `ParityResult` as the torch.testing-style multi-line report."""
    context = result.context
    name = context.name
    verdict = {
        "pass": "Parity passed",
        "mismatch": "Parity failure",
        "inconclusive": "Parity inconclusive",
    }[result.verdict]
    lines = [f"{verdict}: {name} (Keras vs torch)"]
    if context.case:
        lines.append(f"  case:       {context.case}, {result.dtype}, seed {context.seed}")
    else:
        lines.append(f"  dtype:      {result.dtype}, seed {context.seed}")
    if context.output_count > 1:
        lines.append(f"  output:     #{result.output_index} of {context.output_count}")
    if result.audit:
        lines.append("  configuration differences (before any numbers):")
        lines += [f"    {item}" for item in result.audit]
    if result.problem:
        lines.append(f"  problem:    {result.problem}")
    if result.inconclusive:
        lines.append(f"  undecided:  {result.inconclusive}")
    lines += [f"  note:       {note}" for note in result.notes]
    if result.total:
        percent = 100.0 * result.mismatched_fraction
        agreed = (
            f"; {result.nonfinite_agreed} non-finite on both sides, not compared"
            if result.nonfinite_agreed
            else ""
        )
        lines.append(
            f"  mismatched: {result.mismatched} / {result.total} elements ({percent:.1f}%){agreed}"
        )
    if result.worst_torch_index is not None:
        torch_layout, keras_layout = context.torch_layout, context.keras_layout
        lines.append(
            f"  greatest absolute difference: {result.max_abs:.3e}; worst element at torch "
            f"{torch_layout} {result.worst_torch_index} = Keras {keras_layout} "
            f"{result.worst_keras_index}: torch {result.worst_expected!r}, Keras {result.worst_actual!r}"
        )
        lines.append(
            f"  greatest relative difference (to max(|expected|, output RMS {result.scale:.3e})): "
            f"{result.max_rel:.3e}"
        )
    source = context.tolerance_source or f"{result.dtype} default"
    lines.append(
        f"  tolerance:  {source} (rtol={result.rtol:g}, atol={result.atol:g} x output RMS)"
    )
    if len(result.checks) > 1:
        lines.append("  checks:")
        for check in result.checks.values():
            lines += [f"    {line}" for line in check.lines()]
    if result.first_divergence:
        lines.append(f"  first diverging sub-layer: {result.first_divergence}")
    if result.localization:
        from parity.localize import format_tree

        lines.append("  sub-layers in execution order (max rel, propagated / local):")
        lines += [f"    {line}" for line in format_tree(result.localization)]
    if context.reproduce:
        lines.append(f"  reproduce:  {context.reproduce}")
    return "\n".join(lines)
