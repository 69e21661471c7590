"""`parity report`: run every spec's smoke cases and N generated cases, render the results."""

from __future__ import annotations

import json
import time
import traceback
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field

from parity.cases import draw_cases
from parity.html_report import render_html, render_junit
from parity.runner import run_case
from parity.spec import ModuleSpec

NOT_APPLICABLE = "not applicable"  # a derived variant torch itself rejects: neither pass nor fail


@dataclass
class CaseOutcome:
    """One case run in one dtype."""

    block: str
    kind: str  # "smoke" or "generated"
    case: str
    dtype: str
    passed: bool
    max_abs: float | None
    max_rel: float | None
    seconds: float
    message: str = ""
    rtol: float | None = None
    atol: float | None = None
    # When the case failed and localisation ran: one row per aligned sub-layer in execution
    # order, dicts with keys path, torch_type, keras_type, propagated_max_rel, local_max_rel,
    # passed, first (see parity.localize.LocalizationRow).
    localization: list[dict] | None = None
    seed: int | None = None
    # "pass", "mismatch", "inconclusive" (nothing could be compared), "error" (a module raised) or
    # "not applicable" (a derived variant torch itself rejects).
    verdict: str = ""
    repro_error: str = ""  # why a failing case has no repro file (an unwritable --repro-dir)
    reproduce: str = ""  # the command that replays a failing case
    # The checks beyond forward that ran on this case: name -> {verdict, max_rel, summary}.
    checks: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.verdict:
            self.verdict = "pass" if self.passed else "mismatch"


@dataclass
class BlockSummary:
    """All outcomes of one block, with per-dtype worst errors."""

    block: str
    outcomes: list[CaseOutcome] = field(default_factory=list)

    @property
    def decided(self) -> list[CaseOutcome]:
        """The outcomes that count: all but the variants torch itself rejects."""
        return [o for o in self.outcomes if o.verdict != NOT_APPLICABLE]

    @property
    def passed(self) -> bool:
        """Whether every applicable case passed in every dtype."""
        return bool(self.decided) and all(o.passed for o in self.decided)

    @property
    def verdict(self) -> str:
        """`pass`, `FAIL` (a mismatch), `ERROR` (a module raised), `inconclusive` or `no cases`."""
        verdicts = {o.verdict for o in self.decided}
        if not verdicts:
            return "no cases"
        for verdict, label in (("mismatch", "FAIL"), ("error", "ERROR"), ("inconclusive", "inconclusive")):  # fmt: skip
            if verdict in verdicts:
                return label
        return "pass"

    def cases(self) -> int:
        """Number of distinct cases (each runs once per dtype)."""
        return len({(o.kind, o.case, o.seed) for o in self.outcomes})

    def check_verdict(self, name: str) -> str:
        """The worst verdict of check `name` over this block's cases ("-" where it never ran)."""
        verdicts = {o.checks[name]["verdict"] for o in self.outcomes if name in o.checks}
        for verdict, label in (("mismatch", "FAIL"), ("inconclusive", "inconclusive"),
                               ("pass", "pass"), (NOT_APPLICABLE, "n/a")):  # fmt: skip
            if verdict in verdicts:
                return label
        return "-"

    def worst(self, dtype: str, attribute: str) -> float | None:
        """The largest `max_abs`/`max_rel` over this block's cases in `dtype` (None if none ran)."""
        values = [getattr(o, attribute) for o in self.outcomes if o.dtype == dtype]
        values = [v for v in values if v is not None]
        return max(values) if values else None


@dataclass
class Report:
    """A whole run: per-block summaries, settings and the environment fingerprint."""

    blocks: list[BlockSummary]
    dtypes: tuple[str, ...]
    examples: int
    seed: int
    seconds: float
    environment: dict[str, str]
    note: str = ""  # replaces the default description of what ran
    checks: tuple[str, ...] = ("forward",)  # the checks run (beyond forward on some cases)

    @property
    def passed(self) -> bool:
        """Whether every block passed (and at least one case ran)."""
        return bool(self.blocks) and all(b.passed for b in self.blocks)

    def exit_status(self) -> int:
        """0 every case passed; 1 a mismatch; 2 nothing decided somewhere (no case ran, a case
        was inconclusive, or a module raised) and no mismatch."""
        verdicts = {o.verdict for b in self.blocks for o in b.decided}
        if "mismatch" in verdicts:
            return 1
        if not verdicts or verdicts != {"pass"}:
            return 2
        return 0


def run_report(
    specs: Iterable[ModuleSpec],
    *,
    examples: int = 25,
    dtypes: Sequence[str] = ("float32", "float64"),
    seed: int = 0,
    smoke: bool = True,
    progress: Callable[[str], None] | None = None,
    repro_dir: str | None = None,
    checks: Sequence[str] = ("forward",),
    check_examples: int = 3,
) -> Report:
    """Run the smoke cases and `examples` generated cases of each spec in each dtype.

    The checks beyond forward (`checks`) run on the asymmetric case and the first
    `check_examples` generated cases (the forward runs on every case). A failing case writes its
    repro file into `repro_dir` when one is given."""
    from parity.checks import parse_checks
    from parity.environment import fingerprint

    checks = parse_checks(checks)
    start = time.perf_counter()
    summaries = []
    for spec in specs:
        summary = BlockSummary(spec.name)
        work = [("smoke", case, seed) for case in spec.fixed_cases] if smoke else []
        work += [("generated", case, s) for case, s in draw_cases(spec, examples, seed)]
        generated = 0
        for kind, case, case_seed in work:
            extra = (kind == "smoke" and case is spec.asymmetric_case) or (
                kind == "generated" and generated < check_examples
            )
            generated += kind == "generated"
            for dtype in dtypes:
                summary.outcomes.append(
                    _run_one(
                        spec,
                        kind,
                        case,
                        case_seed,
                        dtype,
                        repro_dir,
                        checks if extra else ("forward",),
                    )
                )
        if progress:
            verdict = "pass" if summary.passed else "FAIL"
            progress(f"{spec.name}: {summary.cases()} cases x {len(dtypes)} dtypes: {verdict}")
        summaries.append(summary)
    return Report(
        blocks=summaries,
        dtypes=tuple(dtypes),
        examples=examples,
        seed=seed,
        seconds=time.perf_counter() - start,
        environment=fingerprint(),
        note="" if smoke else f"{examples} generated cases per block (no smoke cases), seed {seed}",
        checks=checks,
    )


def _run_one(
    spec: ModuleSpec,
    kind: str,
    case,
    seed: int,
    dtype: str,
    repro_dir: str | None = None,
    checks: Sequence[str] = ("forward",),
) -> CaseOutcome:
    began = time.perf_counter()
    try:
        result = run_case(spec, case, dtype=dtype, seed=seed, repro_dir=repro_dir, checks=checks)
    except Exception as error:  # a crash is a failed case, reported with its traceback
        return CaseOutcome(
            spec.name,
            kind,
            case.describe(),
            dtype,
            False,
            None,
            None,
            time.perf_counter() - began,
            f"{type(error).__name__}: {error}\n{traceback.format_exc(limit=3)}",
            seed=seed,
            verdict="error",
        )
    return outcome_from_result(
        spec.name, kind, case.describe(), result, time.perf_counter() - began
    )


def outcome_from_result(
    block: str, kind: str, case: str, result, seconds: float, seed: int | None = None
) -> CaseOutcome:
    """A report row from a `ParityResult` (localisation rows flattened to dicts)."""
    return CaseOutcome(
        block=block,
        kind=kind,
        case=case,
        dtype=result.dtype,
        passed=result.passed,
        max_abs=result.max_abs,
        max_rel=result.max_rel,
        seconds=seconds,
        message="" if result.passed else result.message,
        rtol=result.rtol,
        atol=result.atol,
        localization=[asdict(row) for row in result.localization] or None,
        seed=result.context.seed if result.context.seed is not None else seed,
        verdict=result.verdict,
        repro_error=result.context.repro_error,
        reproduce="" if result.passed else result.context.reproduce,
        checks={
            name: {"verdict": c.verdict, "max_rel": c.max_rel, "summary": c.summary}
            for name, c in result.checks.items()
            if name != "forward"
        },
    )


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:.1e}"


def _rows(report: Report) -> tuple[list[str], list[list[str]]]:
    header = ["block", "cases"]
    for dtype in report.dtypes:
        header += [f"{dtype} max abs", f"{dtype} max rel"]
    extra = [name for name in report.checks if name != "forward"]
    header += extra
    header.append("verdict")
    rows = []
    for block in report.blocks:
        row = [block.block, str(block.cases())]
        for dtype in report.dtypes:
            row += [_number(block.worst(dtype, "max_abs")), _number(block.worst(dtype, "max_rel"))]
        row += [block.check_verdict(name) for name in extra]
        row.append(block.verdict)
        rows.append(row)
    return header, rows


def _undecided(report: Report) -> str:
    counts = {}
    for block in report.blocks:
        for outcome in block.outcomes:
            if outcome.verdict in ("inconclusive", "error"):
                counts[outcome.verdict] = counts.get(outcome.verdict, 0) + 1
    return "".join(f" ({count} {verdict} cases)" for verdict, count in sorted(counts.items()))


def _failures(report: Report) -> list[str]:
    return [o.message for b in report.blocks for o in b.decided if not o.passed]


def _check_reasons(report: Report) -> list[str]:
    """One line per (block, check) that did not pass everywhere: n/a with its reason, or the
    summary of an inconclusive check."""
    lines = []
    for block in report.blocks:
        seen = set()
        for outcome in block.outcomes:
            for name, check in outcome.checks.items():
                if check["verdict"] in (NOT_APPLICABLE, "inconclusive") and name not in seen:
                    seen.add(name)
                    lines.append(f"{block.block} {name}: {check['verdict']}: {check['summary']}")
    return lines


def _not_applicable(report: Report) -> list[str]:
    return [
        f"not applicable: {o.block} {o.kind} ({o.case}, {o.dtype}): "
        + o.message.removeprefix("not applicable: ")
        for b in report.blocks
        for o in b.outcomes
        if o.verdict == NOT_APPLICABLE
    ]


def describe_run(report: Report) -> str:
    """What ran, in words: the report's own note, or the default report description."""
    text = report.note or (
        f"{report.examples} generated cases per block plus the smoke cases, seed {report.seed}"
    )
    extra = [name for name in report.checks if name != "forward"]
    if extra and not report.note:
        text += f"; checks {', '.join(extra)} on the asymmetric case and the first generated cases"
    return text


def render_table(report: Report) -> str:
    """A plain-text table for the terminal, followed by the report of each failure."""
    header, rows = _rows(report)
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    line = lambda cells: "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True))  # noqa: E731
    out = [line(header), line(["-" * w for w in widths]), *(line(r) for r in rows)]
    passed = sum(b.passed for b in report.blocks)
    out.append(
        f"\n{passed}/{len(report.blocks)} blocks pass{_undecided(report)}; {describe_run(report)}; "
        f"{report.seconds:.0f} s. max rel = max |keras - torch| / max(|torch|, output RMS)."
    )
    env = report.environment
    out.append(
        f"torch {env.get('torch')}, tensorflow {env.get('tensorflow')}, keras {env.get('keras')}, "
        f"numpy {env.get('numpy')}, Python {env.get('python')}; oneDNN "
        f"{env.get('oneDNN (TF_ENABLE_ONEDNN_OPTS)')}; TF32 {env.get('TF32 during comparisons')} "
        f"while comparing; threads torch {env.get('torch_threads')}"
    )
    out += ["", *_check_reasons(report)] if _check_reasons(report) else []
    out += ["", *_not_applicable(report)] if _not_applicable(report) else []
    out += ["", *_failures(report)] if not report.passed else []
    return "\n".join(out)


def render_markdown(report: Report) -> str:
    """A Markdown table (used in the README's results section)."""
    header, rows = _rows(report)
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    reasons = _check_reasons(report)
    if reasons:
        out += ["", *[f"- {line}" for line in reasons]]
    env = report.environment
    out.append(
        f"\n{describe_run(report)}; torch {env.get('torch')}, tensorflow {env.get('tensorflow')}, keras {env.get('keras')}, "
        f"numpy {env.get('numpy')}, Python {env.get('python')}; {report.seconds:.0f} s."
    )
    return "\n".join(out)


def render_json(report: Report) -> str:
    """The full report, every case included, as JSON."""
    payload = {
        "passed": report.passed,
        "exit_status": report.exit_status(),
        "dtypes": list(report.dtypes),
        "examples": report.examples,
        "seed": report.seed,
        "seconds": report.seconds,
        "checks": list(report.checks),
        "environment": report.environment,
        "blocks": [
            {
                "block": b.block,
                "passed": b.passed,
                "verdict": b.verdict,
                "check_verdicts": {n: b.check_verdict(n) for n in report.checks if n != "forward"},
                "cases": b.cases(),
                "worst": {
                    d: {"max_abs": b.worst(d, "max_abs"), "max_rel": b.worst(d, "max_rel")}
                    for d in report.dtypes
                },
                "outcomes": [asdict(o) for o in b.outcomes],
            }
            for b in report.blocks
        ],
    }
    return json.dumps(payload, indent=2)


RENDERERS = {
    "table": render_table,
    "markdown": render_markdown,
    "json": render_json,
    "html": render_html,
    "junit": render_junit,
}
