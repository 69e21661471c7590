"""The HTML and JUnit renderers: structure, colours, escaping, and a real headless browser."""

from __future__ import annotations

import os
import re
import shutil
import struct
import subprocess
import xml.etree.ElementTree as ET
import zlib
from html.parser import HTMLParser
from pathlib import Path

import pytest

import parity
from parity.html_report import cell_verdict, render_html, render_junit, tolerance_used
from parity.report import BlockSummary, CaseOutcome, Report, run_report

FAILURE_MESSAGE = (
    "Parity failure: SKAttention (Keras vs torch)\n"
    "  mismatched: 31 / 1680 elements (1.8%)\n"
    "  first diverging sub-layer: convs.1.bn"
)
LOCALIZATION = [
    {"path": "convs.0.conv", "torch_type": "Conv2d", "keras_type": "Conv2D",
     "propagated_max_rel": 1e-16, "local_max_rel": 1e-16, "passed": True, "first": False},
    {"path": "convs.1.bn", "torch_type": "BatchNorm2d", "keras_type": "BatchNormalization",
     "propagated_max_rel": 4.8e-4, "local_max_rel": 4.8e-4, "passed": False, "first": True,
     "note": "epsilon 1e-3 <> 1e-5"},
    {"path": "fc", "torch_type": "Linear", "keras_type": "Dense",
     "propagated_max_rel": 3e-4, "local_max_rel": 1e-16, "passed": True, "first": False},
]  # fmt: skip
TIGHT = {"rtol": 1e-10, "atol": 1e-10}


def _outcome(block, kind, dtype, max_rel, *, passed=True, case="c", **extra) -> CaseOutcome:
    return CaseOutcome(
        block, kind, case, dtype, passed, max_rel, max_rel, 0.25, **{**TIGHT, **extra}
    )


def _hand_report() -> Report:
    """Three blocks: all good; near the limit; one failing with localisation and a '<' case."""
    good = BlockSummary(
        "SEAttention",
        [_outcome("SEAttention", k, "float64", 1e-16) for k in ("smoke", "generated")],
    )
    near = BlockSummary(
        "ECAAttention",
        [
            _outcome("ECAAttention", "smoke", "float64", 1e-16),
            _outcome("ECAAttention", "generated", "float64", 1.2e-10),  # 0.6 of rtol + atol
        ],
    )
    failing = BlockSummary(
        "SKAttention",
        [
            _outcome("SKAttention", "smoke", "float64", 1e-16),
            _outcome(
                "SKAttention",
                "generated",
                "float64",
                4.8e-4,
                passed=False,
                case="config {'kernels': [1, 3]} <script>alert(1)</script> & co",
                message=FAILURE_MESSAGE,
                localization=LOCALIZATION,
            ),
        ],
    )
    return Report(
        blocks=[good, near, failing],
        dtypes=("float64",),
        examples=1,
        seed=7,
        seconds=3.5,
        environment={"python": "3.11.9", "torch": "2.4.0+cpu", "note": "a<b"},
    )


class _Cells(HTMLParser):
    """Collect, per matrix row, the row header and each cell's class; and table rows' classes."""

    def __init__(self) -> None:
        super().__init__()
        self.matrix_rows: dict[str, list[str]] = {}
        self._in_matrix = False
        self._row: list[str] | None = None
        self._row_header: str | None = None
        self._in_row_header = False

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "table":
            self._in_matrix = attributes.get("class") == "matrix"
        elif self._in_matrix and tag == "tr":
            self._row, self._row_header = [], None
        elif self._in_matrix and tag == "th" and attributes.get("scope") == "row":
            self._in_row_header = True
        elif self._in_matrix and tag == "td" and self._row is not None:
            self._row.append(attributes.get("class") or "")

    def handle_endtag(self, tag):
        if tag == "th":
            self._in_row_header = False
        elif tag == "tr" and self._in_matrix and self._row_header is not None:
            self.matrix_rows[self._row_header] = self._row
        elif tag == "table":
            self._in_matrix = False

    def handle_data(self, data):
        if self._in_row_header:
            self._row_header = (self._row_header or "") + data


def _matrix(page: str) -> dict[str, list[str]]:
    parser = _Cells()
    parser.feed(page)
    return parser.matrix_rows


def test_every_block_has_a_row_with_one_cell_per_check():
    page = render_html(_hand_report())
    rows = _matrix(page)
    assert list(rows) == ["SEAttention", "ECAAttention", "SKAttention"]
    # float64 smoke, float64 generated, verdict
    for cells in rows.values():
        assert len(cells) == 3
    assert '<th scope="col">float64 smoke</th>' in page
    assert '<th scope="col">float64 generated</th>' in page


def test_cells_are_coloured_by_the_fraction_of_tolerance_used():
    rows = _matrix(render_html(_hand_report()))
    assert rows["SEAttention"][:2] == ["cell-good", "cell-good"]
    assert rows["ECAAttention"][:2] == ["cell-good", "cell-near"]
    assert rows["SKAttention"][:2] == ["cell-good", "cell-fail"]
    assert rows["SKAttention"][2] == "row-fail"


def test_a_cell_shows_worst_max_rel_and_pass_count():
    page = render_html(_hand_report())
    assert "4.8e-04" in page and "0/1 passed" in page and "1/1 passed" in page
    assert "2/3 blocks pass" in page
    assert "seed 7" in page


def test_cell_verdict_rules():
    assert cell_verdict([]).css_class == "cell-none"
    # A passing case with no recorded tolerance is judged only by pass/fail.
    unrated = CaseOutcome("B", "smoke", "c", "float32", True, 1e-5, 1e-5, 0.1)
    assert tolerance_used(unrated) is None
    assert cell_verdict([unrated]).css_class == "cell-unrated"
    # A crash has no numbers but is still a failure.
    crash = CaseOutcome("B", "smoke", "c", "float32", False, None, None, 0.1, "ValueError: x")
    assert cell_verdict([crash]).css_class == "cell-fail"
    # Any passing case uses at most all of rtol + atol.
    assert tolerance_used(_outcome("B", "smoke", "float64", 2e-10)) == pytest.approx(1.0)


def test_missing_group_is_grey():
    report = _hand_report()
    report.dtypes = ("float32", "float64")
    rows = _matrix(render_html(report))
    assert rows["SEAttention"][:2] == ["cell-none", "cell-none"]  # no float32 cases ran


def test_failure_section_has_message_and_highlighted_first_divergence():
    page = render_html(_hand_report())
    failure = page[page.index('<section class="failure"') :]
    failure = failure[: failure.index("</section>")]
    assert "<pre>Parity failure: SKAttention (Keras vs torch)\n" in failure
    rows = re.findall(
        r"<tr( class=\"first-divergence\")?><td class=\"path\"[^>]*>(.*?)</td>", failure
    )
    assert [bool(marked) for marked, _ in rows] == [False, True, False]  # execution order kept
    assert (
        '<span class="parent">convs.1.</span>bn' in rows[1][1] and "first divergence" in rows[1][1]
    )
    assert page.count("first divergence</span>") == 1
    assert "epsilon 1e-3 &lt;&gt; 1e-5" in failure
    # The failing cell links to its section.
    anchor = re.search(r'<section class="failure" id="([^"]+)"', page).group(1)
    assert f'href="#{anchor}"' in page


def test_text_is_escaped():
    page = render_html(_hand_report())
    assert "<script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; co" in page
    assert "a&lt;b" in page  # environment values too


def test_page_is_self_contained():
    page = render_html(_hand_report())
    assert not re.search(r"<(script|link|img|iframe)\b", page)
    assert not re.search(r"(src|href)=\"(https?:)?//", page)
    assert "url(" not in page


def test_junit_counts_and_failure():
    root = ET.fromstring(render_junit(_hand_report()))
    assert root.tag == "testsuites"
    assert (root.get("tests"), root.get("failures")) == ("6", "1")
    suites = root.findall("testsuite")
    assert [s.get("name") for s in suites] == ["SEAttention", "ECAAttention", "SKAttention"]
    assert [s.get("failures") for s in suites] == ["0", "0", "1"]
    assert all(s.get("tests") == "2" for s in suites)
    (failed,) = [c for c in root.iter("testcase") if c.find("failure") is not None]
    assert failed.get("classname") == "parity.SKAttention"
    assert failed.get("name").startswith("generated float64 config {'kernels'")
    assert "<script>" in failed.get("name")  # stored as text, escaped only in the XML
    failure = failed.find("failure")
    assert failure.get("message") == "Parity failure: SKAttention (Keras vs torch)"
    assert failure.text == FAILURE_MESSAGE
    assert float(failed.get("time")) == pytest.approx(0.25)


def test_junit_survives_control_characters():
    report = _hand_report()
    report.blocks[2].outcomes[1].message = "\x1b[31mred\x1b[0m\x00 failure"
    root = ET.fromstring(render_junit(report))
    assert "red" in root.find(".//failure").text


@pytest.fixture(scope="module")
def real_report() -> Report:
    return run_report([parity.SPECS["SEAttention"]], examples=1, dtypes=("float64",), smoke=False)


def test_real_run_renders(real_report):
    rows = _matrix(render_html(real_report))
    assert list(rows) == ["SEAttention"]
    assert rows["SEAttention"][0] == "cell-none"  # smoke=False
    assert rows["SEAttention"][1] in ("cell-good", "cell-unrated")
    assert rows["SEAttention"][2] == "row-pass"
    root = ET.fromstring(render_junit(real_report))
    assert (root.get("tests"), root.get("failures")) == ("1", "0")
    (case,) = root.iter("testcase")
    assert case.get("classname") == "parity.SEAttention"
    assert case.get("name").startswith("generated float64 ")


def _chromium(*arguments: str, profile: Path) -> subprocess.CompletedProcess:
    executable = shutil.which("chromium")
    if executable is None:
        # CI installs Chromium (.ci/run) and must run this test; a newcomer's machine may lack it.
        if os.environ.get("CI"):
            pytest.fail(
                "CI must render the report: chromium not installed (apt-get install -y chromium)"
            )
        pytest.skip("chromium not installed (apt-get install -y chromium); CI runs this test")
    command = [
        executable,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        # Paint everything before the screenshot is taken (else the lower part can be blank).
        "--run-all-compositor-stages-before-draw",
        "--virtual-time-budget=5000",
        *arguments,
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)


def _png_pixels(path: Path) -> tuple[int, int, set[bytes]]:
    """Decode an 8-bit RGB/RGBA non-interlaced PNG; return width, height and its distinct pixels."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG file"
    position, idat, header = 8, b"", None
    while position < len(data):
        (length,) = struct.unpack(">I", data[position : position + 4])
        kind = data[position + 4 : position + 8]
        body = data[position + 8 : position + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        position += 12 + length
    width, height, depth, colour, _, _, interlace = header
    assert depth == 8 and colour in (2, 6) and interlace == 0, f"unexpected PNG format {header}"
    channels = 3 if colour == 2 else 4
    stride = width * channels
    raw = zlib.decompress(idat)
    previous, pixels = bytearray(stride), set()
    for row in range(height):
        start = row * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1 : start + 1 + stride])
        for i in range(stride):
            left = line[i - channels] if i >= channels else 0
            up, up_left = previous[i], previous[i - channels] if i >= channels else 0
            if kind == 1:
                line[i] = (line[i] + left) & 0xFF
            elif kind == 2:
                line[i] = (line[i] + up) & 0xFF
            elif kind == 3:
                line[i] = (line[i] + (left + up) // 2) & 0xFF
            elif kind == 4:
                estimate = left + up - up_left
                distances = (abs(estimate - left), abs(estimate - up), abs(estimate - up_left))
                predictor = (left, up, up_left)[distances.index(min(distances))]
                line[i] = (line[i] + predictor) & 0xFF
        if row % 8 == 0:  # a sample of rows is plenty to tell a page from a blank
            pixels.update(bytes(line[i : i + 3]) for i in range(0, stride, channels * 4))
        previous = line
    return width, height, pixels


def test_page_renders_in_headless_chromium(tmp_path):
    page = tmp_path / "report.html"
    page.write_text(render_html(_hand_report()), encoding="utf-8")
    shot = tmp_path / "shot.png"

    dom = _chromium("--dump-dom", page.as_uri(), profile=tmp_path / "profile-dom")
    assert dom.returncode == 0, dom.stderr[-2000:]
    for block in ("SEAttention", "ECAAttention", "SKAttention"):
        assert f">{block}</th>" in dom.stdout
    assert "first divergence" in dom.stdout

    result = _chromium(
        f"--screenshot={shot}",
        "--window-size=1280,900",
        page.as_uri(),
        profile=tmp_path / "profile",
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert shot.exists(), f"no screenshot written; chromium said: {result.stderr[-2000:]}"
    assert shot.stat().st_size > 10_000
    width, height, pixels = _png_pixels(shot)
    assert (width, height) == (1280, 900)
    assert len(pixels) > 20, "the screenshot is (nearly) a single flat colour"
