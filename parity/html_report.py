"""Render a parity `Report` as one self-contained HTML page, or as JUnit XML for CI.

The HTML page has no external assets and no JavaScript: it opens offline, from a CI artefact or
an e-mail attachment. It shows the environment, a summary line, a matrix (rows = blocks,
columns = dtype x case group) coloured by how much of the tolerance the worst case used, and one
section per failed case with its full message and, when localisation ran, the sub-layer table with
the first divergence highlighted.

How much of the tolerance a case used: an element passes when
    |keras - torch| <= atol * scale + rtol * |torch|          (see `parity.tolerance`)
and `max_rel` is the largest |keras - torch| / max(|torch|, scale). Every passing element
therefore has a relative difference of at most `rtol + atol`, so
    used = max_rel / (rtol + atol)
is at most 1 for a passing case, and at least 1 wherever the worst element itself failed.
"""

from __future__ import annotations

import html
import math
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # annotations only, so that parity.report can import this module at its top
    from parity.report import BlockSummary, CaseOutcome, Report

# The case groups, in column order; an unexpected kind is appended after these.
CASE_KINDS: tuple[str, ...] = ("smoke", "generated")

# Colour thresholds on the fraction of the tolerance used (see module docstring).
GOOD_BELOW = 0.1  # green under a tenth of the allowance
FAIL_AT = 1.0  # red from the full allowance up (and whenever a case failed)


@dataclass(frozen=True)
class CellVerdict:
    """What one matrix cell (one block, one dtype, one case group) shows."""

    css_class: str  # cell-good, cell-near, cell-fail, cell-unrated, cell-none
    label: str  # a word that carries the verdict without colour
    worst_max_rel: float | None
    tolerance_used: float | None
    passed: int
    total: int


_LEGEND: tuple[tuple[str, str, str], ...] = (
    ("cell-good", "good", f"passed, worst case used under {GOOD_BELOW:g} of its tolerance"),
    (
        "cell-near",
        "near",
        f"passed, worst case used {GOOD_BELOW:g} to {FAIL_AT:g} of its tolerance",
    ),
    ("cell-fail", "FAIL", "a case failed (or its error reached the tolerance)"),
    ("cell-unrated", "pass", "passed; the tolerance was not recorded, so closeness is unknown"),
    ("cell-none", "none", "no case of this group ran"),
)

_STYLE = """
:root { color-scheme: light; }
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif;
  color: #1f2328; background: #f6f8fa; margin: 0; }
main { max-width: 1180px; margin: 0 auto; padding: 24px 28px 48px; background: #fff;
  min-height: 100vh; box-sizing: border-box; }
h1 { font-size: 1.6em; margin: 0 0 4px; }
h2 { font-size: 1.2em; margin: 32px 0 10px; border-bottom: 1px solid #d0d7de; padding-bottom: 4px; }
h3 { font-size: 1.05em; margin: 24px 0 8px; }
.verdict { display: inline-block; font-weight: 600; padding: 2px 10px; border-radius: 12px;
  font-size: 0.85em; vertical-align: middle; margin-left: 8px; }
.verdict-pass { background: #dafbe1; color: #116329; border: 1px solid #4ac26b; }
.verdict-fail { background: #ffebe9; color: #a40e26; border: 1px solid #ff8182; }
.summary { font-size: 1.02em; margin: 8px 0 0; }
.note { color: #57606a; font-size: 0.88em; }
table { border-collapse: collapse; }
th, td { border: 1px solid #d0d7de; padding: 5px 10px; text-align: left; vertical-align: top; }
thead th { background: #f6f8fa; font-weight: 600; }
table.environment { font-size: 0.85em; }
table.environment th { background: #f6f8fa; font-weight: 600; width: 9em; }
table.environment td { font-family: ui-monospace, "DejaVu Sans Mono", monospace; }
table.matrix { min-width: 60%; }
table.matrix th[scope=row] { font-family: ui-monospace, "DejaVu Sans Mono", monospace;
  font-weight: 600; white-space: nowrap; }
table.matrix td { text-align: center; vertical-align: middle; min-width: 9.5em; }
table.matrix th[scope=row], table.matrix td.row-pass, table.matrix td.row-fail { vertical-align: middle; }
table.matrix td a { color: inherit; text-decoration: none; display: block; }
.max-rel { font-family: ui-monospace, "DejaVu Sans Mono", monospace; font-size: 1.05em; }
.count, .used { display: block; font-size: 0.8em; }
.tag { font-size: 0.72em; font-weight: 700; text-transform: uppercase; letter-spacing: 0.04em; }
.cell-good { background: #c9f0d3; color: #0b4d1e; }
.cell-near { background: #fbe7a1; color: #5c4400; }
.cell-fail { background: #f9c5c0; color: #86061d; }
.cell-unrated { background: #e6f4ea; color: #1f5130; }
.cell-none { background: #eaeef2; color: #57606a; }
ul.legend { list-style: none; padding: 0; margin: 10px 0 0; display: flex; flex-wrap: wrap;
  gap: 6px 18px; font-size: 0.85em; }
.swatch { display: inline-block; min-width: 3.2em; text-align: center; border: 1px solid #afb8c1;
  border-radius: 3px; margin-right: 6px; padding: 0 4px; }
section.failure { border: 1px solid #ff8182; border-left: 5px solid #cf222e; border-radius: 6px;
  padding: 4px 16px 12px; margin: 16px 0; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 2px 14px; margin: 8px 0; }
dl.facts dt { font-weight: 600; color: #57606a; }
dl.facts dd { margin: 0; font-family: ui-monospace, "DejaVu Sans Mono", monospace;
  overflow-wrap: anywhere; }
pre { background: #f6f8fa; border: 1px solid #d0d7de; border-radius: 6px; padding: 10px 12px;
  overflow-x: auto; font-size: 0.82em; line-height: 1.4; white-space: pre-wrap;
  overflow-wrap: anywhere; }
table.localization { font-size: 0.85em; width: 100%; }
table.localization td { font-family: ui-monospace, "DejaVu Sans Mono", monospace; }
table.localization td.path { white-space: nowrap; }
tr.first-divergence td { background: #ffebe9; font-weight: 700; border-top: 2px solid #cf222e;
  border-bottom: 2px solid #cf222e; }
.first-label { display: inline-block; background: #cf222e; color: #fff; border-radius: 10px;
  padding: 0 8px; margin-left: 8px; font-size: 0.8em; font-family: system-ui, sans-serif; }
.row-note { display: block; color: #57606a; font-weight: 400; font-size: 0.9em; }
td.path .parent { color: #8c959f; font-weight: 400; }
.row-pass { color: #116329; }
.row-fail { color: #a40e26; font-weight: 600; }
"""


def tolerance_used(outcome: CaseOutcome) -> float | None:
    """The fraction of its tolerance an outcome used: `max_rel / (rtol + atol)`.

    At most 1 for any passing case (see the module docstring). None when `max_rel` or both
    tolerances are missing (a crash, or a run that did not record its tolerance).
    """
    if outcome.max_rel is None or not math.isfinite(outcome.max_rel):
        return None
    allowance = (outcome.rtol or 0.0) + (outcome.atol or 0.0)
    if outcome.rtol is None and outcome.atol is None:
        return None
    if allowance <= 0.0:
        return 0.0 if outcome.max_rel == 0.0 else math.inf
    return outcome.max_rel / allowance


def cell_verdict(outcomes: Iterable[CaseOutcome]) -> CellVerdict:
    """Summarise the outcomes of one block, dtype and case group into one matrix cell."""
    outcomes = [o for o in outcomes if o.verdict != "not applicable"]
    passed = sum(o.passed for o in outcomes)
    relatives = [o.max_rel for o in outcomes if o.max_rel is not None]
    worst = max(relatives) if relatives else None
    used_values = [u for u in (tolerance_used(o) for o in outcomes) if u is not None]
    used = max(used_values) if used_values else None
    unrated = any(tolerance_used(o) is None for o in outcomes)
    if not outcomes:
        css_class, label = "cell-none", "none"
    elif passed < len(outcomes) or (used is not None and used >= FAIL_AT):
        css_class, label = "cell-fail", "FAIL"
    elif used is not None and used >= GOOD_BELOW:
        css_class, label = "cell-near", "near"
    elif unrated:
        css_class, label = "cell-unrated", "pass"
    else:
        css_class, label = "cell-good", "good"
    return CellVerdict(css_class, label, worst, used, passed, len(outcomes))


def _columns(report: Report) -> list[tuple[str, str]]:
    """(dtype, kind) columns: smoke and generated for a registry report (a grey column shows a
    group that did not run), then any other kind that ran (`check`, `replay`), each once."""
    seen = {o.kind for block in report.blocks for o in block.outcomes}
    others = sorted(seen - set(CASE_KINDS))
    kinds = [*(CASE_KINDS if seen & set(CASE_KINDS) or not seen else ()), *others]
    return [(dtype, kind) for dtype in report.dtypes for kind in kinds]


def _scientific(value: float | None) -> str:
    return "-" if value is None else f"{value:.1e}"


def _share(used: float) -> str:
    """The fraction of tolerance used, for people: '< 0.1%', '60%', '2.4e+06 x' the tolerance."""
    if used < 0.001:
        return "< 0.1% of tolerance used"
    if used < 10:
        return f"{used:.0%} of tolerance used"
    return f"{used:.2g} x the tolerance"


def _failure_anchor(block_index: int, outcome_index: int) -> str:
    return f"failure-{block_index}-{outcome_index}"


def _environment_html(environment: dict[str, str], pairs_per_row: int = 2) -> list[str]:
    """The fingerprint as a compact table, `pairs_per_row` key/value pairs side by side."""
    pairs = [
        f'<th scope="row">{html.escape(str(key))}</th><td>{html.escape(str(value))}</td>'
        for key, value in environment.items()
    ]
    rows = [
        "<tr>" + "".join(pairs[i : i + pairs_per_row]) + "</tr>"
        for i in range(0, len(pairs), pairs_per_row)
    ]
    if not rows:
        rows = ['<tr><td colspan="2">not recorded</td></tr>']
    return ['<table class="environment" aria-label="environment fingerprint">', "<tbody>", *rows,
            "</tbody></table>"]  # fmt: skip


def _cell_html(block_index: int, block: BlockSummary, dtype: str, kind: str) -> str:
    indexed = [(i, o) for i, o in enumerate(block.outcomes) if o.dtype == dtype and o.kind == kind]
    verdict = cell_verdict(o for _, o in indexed)
    if verdict.total == 0:
        return '<td class="cell-none" title="no case ran"><span class="tag">none</span></td>'
    used = "" if verdict.tolerance_used is None else _share(verdict.tolerance_used)
    title = (
        f"{block.block}, {dtype} {kind}: worst max rel {_scientific(verdict.worst_max_rel)}; "
        f"{verdict.passed}/{verdict.total} passed" + (f"; {used}" if used else "")
    )
    body = (
        f'<span class="tag">{verdict.label}</span> '
        f'<span class="max-rel">{_scientific(verdict.worst_max_rel)}</span>'
        f'<span class="count">{verdict.passed}/{verdict.total} passed</span>'
        + (f'<span class="used">{html.escape(used)}</span>' if used else "")
    )
    first_failed = next(
        (i for i, o in indexed if not o.passed and o.verdict != "not applicable"), None
    )
    if first_failed is not None:
        body = f'<a href="#{_failure_anchor(block_index, first_failed)}">{body}</a>'
    return f'<td class="{verdict.css_class}" title="{html.escape(title)}">{body}</td>'


def _matrix_html(report: Report) -> list[str]:
    columns = _columns(report)
    extra = [name for name in getattr(report, "checks", ("forward",)) if name != "forward"]
    head = "".join(
        f'<th scope="col">{html.escape(dtype)} {html.escape(kind)}</th>' for dtype, kind in columns
    ) + "".join(f'<th scope="col">{html.escape(name)}</th>' for name in extra)
    out = [
        '<p class="note" id="matrix-description">Worst relative difference (max rel) per block '
        "and check; the colour is the fraction of the tolerance used.</p>",
        '<table class="matrix" aria-describedby="matrix-description">',
        f'<thead><tr><th scope="col">block</th>{head}<th scope="col">verdict</th></tr></thead>',
        "<tbody>",
    ]
    for block_index, block in enumerate(report.blocks):
        cells = "".join(_cell_html(block_index, block, d, k) for d, k in columns)
        for name in extra:
            check = block.check_verdict(name)
            css = {"pass": "cell-good", "FAIL": "cell-fail"}.get(check, "cell-unrated")
            cells += f'<td class="{css}"><span class="tag">{html.escape(check)}</span></td>'

        verdict = block.verdict
        verdict_class = "row-pass" if block.passed else "row-fail"
        out.append(
            f'<tr id="block-{block_index}"><th scope="row">{html.escape(block.block)}</th>{cells}'
            f'<td class="{verdict_class}">{verdict}</td></tr>'
        )
    out += ["</tbody></table>", '<ul class="legend" aria-label="legend">']
    for css_class, label, meaning in _LEGEND:
        out.append(
            f'<li><span class="swatch {css_class}"><span class="tag">{label}</span></span>'
            f"{html.escape(meaning)}</li>"
        )
    out.append("</ul>")
    out.append(
        '<p class="note">Fraction of tolerance used = max rel / (rtol + atol); every passing '
        "element is within rtol + atol of max(|torch|, output RMS), so a pass is at most 1. "
        "max rel = max |keras - torch| / max(|torch|, output RMS). Failing cells link to their "
        "first failure below.</p>"
    )
    return out


def _localization_html(rows: list[dict]) -> list[str]:
    out = [
        '<table class="localization">',
        "<caption class='note' style='text-align:left'>Sub-layers in execution order (children "
        "before their parents), indented by depth. Propagated max rel: both sides ran on their "
        "own inputs, so upstream error is included; local max rel: the Keras sub-layer was fed "
        "torch's input, so the error is this sub-layer's alone.</caption>",
        '<thead><tr><th scope="col">sub-layer</th><th scope="col">torch type</th>'
        '<th scope="col">keras type</th><th scope="col">propagated max rel</th>'
        '<th scope="col">local max rel</th><th scope="col">verdict</th></tr></thead>',
        "<tbody>",
    ]
    for row in rows:
        path = str(row.get("path", ""))
        depth = path.count(".")
        first = bool(row.get("first"))
        passed = row.get("passed")
        verdict = "-" if passed is None else ("pass" if passed else "FAIL")
        verdict_class = "" if passed is None else ("row-pass" if passed else "row-fail")
        label = '<span class="first-label">first divergence</span>' if first else ""
        row_class = ' class="first-divergence"' if first else ""
        note = (
            f'<span class="row-note">{html.escape(str(row["note"]))}</span>'
            if row.get("note")
            else ""
        )
        out.append(
            f"<tr{row_class}>"
            f'<td class="path" style="padding-left:{0.6 + 1.4 * depth:.1f}em">'
            f"{_path_html(path)}{label}{note}</td>"
            f"<td>{html.escape(str(row.get('torch_type', '')))}</td>"
            f"<td>{html.escape(str(row.get('keras_type', '')))}</td>"
            f"<td>{_scientific(_as_float(row.get('propagated_max_rel')))}</td>"
            f"<td>{_scientific(_as_float(row.get('local_max_rel')))}</td>"
            f'<td class="{verdict_class}">{verdict}</td></tr>'
        )
    out.append("</tbody></table>")
    return out


def _path_html(path: str) -> str:
    """A sub-layer path with its parent prefix muted, so the indented leaf names line up."""
    if not path:
        return "(root)"
    parent, dot, leaf = path.rpartition(".")
    muted = f'<span class="parent">{html.escape(parent + dot)}</span>' if dot else ""
    return muted + html.escape(leaf)


def _as_float(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) else None


def _failures_html(report: Report) -> list[str]:
    out = []
    for block_index, block in enumerate(report.blocks):
        for outcome_index, outcome in enumerate(block.outcomes):
            if outcome.passed or outcome.verdict == "not applicable":
                continue
            used = tolerance_used(outcome)
            facts = [
                ("block", outcome.block),
                ("case", f"{outcome.kind}: {outcome.case}"),
                ("dtype", outcome.dtype),
                (
                    "max abs / max rel",
                    f"{_scientific(outcome.max_abs)} / {_scientific(outcome.max_rel)}",
                ),
                (
                    "tolerance",
                    "not recorded"
                    if outcome.rtol is None and outcome.atol is None
                    else f"rtol={outcome.rtol:g}, atol={outcome.atol:g}"
                    + ("" if used is None else f" ({_share(used)})"),
                ),
            ]
            out += [
                f'<section class="failure" id="{_failure_anchor(block_index, outcome_index)}">',
                f"<h3>{html.escape(outcome.block)}: {html.escape(outcome.kind)} "
                f"{html.escape(outcome.dtype)}</h3>",
                '<dl class="facts">',
                *(f"<dt>{html.escape(k)}</dt><dd>{html.escape(v)}</dd>" for k, v in facts),
                "</dl>",
                f"<pre>{html.escape(outcome.message or '(no message)')}</pre>",
            ]
            if outcome.localization:
                out += _localization_html(outcome.localization)
            out.append("</section>")
    return out


def render_html(report: Report) -> str:
    """One self-contained HTML page (inline CSS, no scripts, no external assets).

    Holds the environment fingerprint, a summary line, the block x check matrix coloured by the
    fraction of the tolerance used (legend included), and a section per failed case with its
    message and, when localisation ran, the sub-layer table with the first divergence marked.
    """
    passing = sum(b.passed for b in report.blocks)
    total = len(report.blocks)
    failures = sum(not o.passed for b in report.blocks for o in b.decided)
    verdict = (
        '<span class="verdict verdict-pass">all pass</span>'
        if report.passed
        else f'<span class="verdict verdict-fail">{failures} failed case'
        f"{'' if failures == 1 else 's'}</span>"
    )
    from parity.report import describe_run  # report.py imports this module at its top

    summary = (
        f"<strong>{passing}/{total}</strong> blocks pass; {html.escape(describe_run(report))}; "
        f"dtypes {html.escape(', '.join(report.dtypes))}; {report.seconds:.1f} s."
    )
    out = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>Parity report: {passing}/{total} blocks pass</title>",
        f"<style>{_STYLE}</style>",
        "</head><body><main>",
        f"<h1>Parity report {verdict}</h1>",
        '<p class="note">Keras 3 ports against their PyTorch originals: each torch output is '
        "the expected value.</p>",
        f'<p class="summary">{summary}</p>',
        "<h2>Environment</h2>",
        *_environment_html(report.environment),
        "<h2>Results</h2>",
        *_matrix_html(report),
    ]
    if failures:
        out += ["<h2>Failures</h2>", *_failures_html(report)]
    out.append("</main></body></html>")
    return "\n".join(out) + "\n"


# XML 1.0 forbids most control characters; ElementTree writes them anyway and the file then
# fails to parse. A traceback or an ANSI-coloured message can carry them.
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _xml_text(text: str) -> str:
    return _XML_INVALID.sub("\N{REPLACEMENT CHARACTER}", text)


def render_junit(report: Report) -> str:
    """JUnit XML: one `<testsuite>` per block and one `<testcase>` per outcome.

    Test cases are named `"<kind> <dtype> <case>"` with classname `parity.<block>`; a failed
    outcome carries a `<failure>` whose `message` is the first line of its report and whose text
    is the whole report.
    """
    root = ET.Element("testsuites", name="parity")
    total_tests = total_failures = 0
    for block in report.blocks:
        failures = sum(not o.passed for o in block.decided)
        suite = ET.SubElement(
            root,
            "testsuite",
            name=_xml_text(block.block),
            tests=str(len(block.outcomes)),
            failures=str(failures),
            errors="0",
            skipped="0",
            time=f"{sum(o.seconds for o in block.outcomes):.3f}",
        )
        properties = ET.SubElement(suite, "properties")
        settings = {"seed": report.seed, "examples": report.examples}
        for key, value in [*settings.items(), *report.environment.items()]:
            ET.SubElement(
                properties, "property", name=_xml_text(str(key)), value=_xml_text(str(value))
            )
        for outcome in block.outcomes:
            testcase = ET.SubElement(
                suite,
                "testcase",
                name=_xml_text(f"{outcome.kind} {outcome.dtype} {outcome.case}"),
                classname=_xml_text(f"parity.{outcome.block}"),
                time=f"{outcome.seconds:.3f}",
            )
            if outcome.verdict == "not applicable":
                skipped = ET.SubElement(testcase, "skipped")
                skipped.set("message", _xml_text(outcome.message.splitlines()[0]))
            elif not outcome.passed:
                message = outcome.message or "parity failure (no message)"
                failure = ET.SubElement(
                    testcase,
                    "failure",
                    message=_xml_text(message.splitlines()[0] if message.strip() else message),
                    type="ParityFailure",
                )
                failure.text = _xml_text(message)
        total_tests += len(block.outcomes)
        total_failures += failures
    root.set("tests", str(total_tests))
    root.set("failures", str(total_failures))
    root.set("errors", "0")
    root.set("time", f"{report.seconds:.3f}")
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True)
