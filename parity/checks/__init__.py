"""Checks beyond the eval-mode forward: gradients, training, compiled, saved, float16, bfloat16.

Each check is one function `(prepared, outputs) -> CheckResult`, run by `run_checks` after the
forward comparison on the same prepared pair (weights randomised and transferred), each inside its
own isolation so no check sees another's side effects. A check that cannot apply to a pair says
why (`not applicable`) instead of passing. Select them with `checks=("forward", "gradients")`
(API, plugin), `--checks forward,gradients` or `--checks all` (CLI).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

CHECK_NAMES = ("forward", "gradients", "training", "compiled", "saved", "float16", "bfloat16")
NOT_APPLICABLE = "not applicable"


@dataclass
class CheckResult:
    """One check's verdict: `pass`, `mismatch`, `inconclusive` or `not applicable` (with why)."""

    name: str
    verdict: str
    max_rel: float | None = None
    summary: str = ""  # one line: what was compared, or why it does not apply
    details: list[str] = field(default_factory=list)  # the report lines of a failure

    @property
    def passed(self) -> bool:
        """True for a pass; a check that does not apply neither passes nor fails."""
        return self.verdict == "pass"

    def lines(self) -> list[str]:
        """The check's report lines."""
        rel = f" (max rel {self.max_rel:.1e})" if self.max_rel is not None else ""
        head = f"{self.name}: {self.verdict}{rel}" + (f": {self.summary}" if self.summary else "")
        return [head, *(f"  {line}" for line in self.details)]


def parse_checks(value: str | Sequence[str] | None) -> tuple[str, ...]:
    """`"all"`, `"forward,gradients"` or a sequence -> the check names, `forward` always first."""
    if value is None:
        return ("forward",)
    names = [n.strip() for n in value.split(",")] if isinstance(value, str) else list(value)
    if "all" in names:
        return CHECK_NAMES
    unknown = [n for n in names if n not in CHECK_NAMES]
    if unknown or not names:
        raise ValueError(
            f"Unknown check {unknown[0] if unknown else ''!r}; expected some of "
            f"{', '.join(CHECK_NAMES)} or 'all'. Received: {value!r}"
        )
    return ("forward", *[n for n in CHECK_NAMES[1:] if n in names])


def _registry() -> dict[str, Callable]:
    from parity.checks.compiled import check_compiled
    from parity.checks.gradients import check_gradients
    from parity.checks.low_precision import check_bfloat16, check_float16
    from parity.checks.saved import check_saved
    from parity.checks.training import check_training

    return {
        "gradients": check_gradients,
        "compiled": check_compiled,
        "saved": check_saved,
        "float16": check_float16,
        "bfloat16": check_bfloat16,
        "training": check_training,  # last: it steps BN statistics (restored afterwards anyway)
    }


def run_checks(prepared, outputs, result) -> None:
    """Run the comparison's extra checks and fold their verdicts into `result`."""
    from parity.errors import ModuleCallError
    from parity.isolation import isolated

    comparison = prepared.comparison
    result.checks["forward"] = CheckResult(
        "forward", result.verdict, result.max_rel, "eval-mode outputs" if not comparison.training
        else "training-mode outputs",
    )  # fmt: skip
    for name, check in _registry().items():
        if name not in comparison.checks:
            continue
        if name in comparison.not_applicable:
            result.checks[name] = CheckResult(name, NOT_APPLICABLE, None,
                                              comparison.not_applicable[name])  # fmt: skip
            continue
        with isolated(comparison.torch_module, comparison.keras_layer):
            try:
                outcome = check(prepared, outputs)
            except ModuleCallError as error:
                verdict = "mismatch" if error.side == "Keras" else "inconclusive"
                outcome = CheckResult(name, verdict, summary=str(error))
            except Exception as error:  # the harness cannot decide: say so, never crash a report
                from parity.runner import informative_line

                outcome = CheckResult(
                    name, "inconclusive",
                    summary=f"the check raised {type(error).__name__}: {informative_line(error)}",
                )  # fmt: skip
        result.checks[name] = outcome
    failed = [c for c in result.checks.values() if c.verdict == "mismatch"]
    undecided = [c for c in result.checks.values() if c.verdict == "inconclusive"]
    if result.passed and (failed or undecided):
        result.passed = False
        if failed:
            result.problem = "check(s) failed: " + ", ".join(c.name for c in failed)
        else:
            result.inconclusive = "check(s) undecided: " + ", ".join(c.name for c in undecided)
