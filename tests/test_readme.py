"""The README stays true: its commands are the ones CI runs, and it lists every block."""

from __future__ import annotations

import re
from pathlib import Path

import parity

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _bash_blocks() -> list[str]:
    return re.findall(r"```bash\n(.*?)```", README, flags=re.S)


def test_ci_runs_the_readme_test_command():
    test_command = next(block for block in _bash_blocks() if "pytest" in block).strip()
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    # .ci/run sets the environment itself (CI, profile) and quiets pip; the steps are the same.
    steps = [step.strip() for step in test_command.split("&&")]
    for step in steps:
        core = step.replace("HYPOTHESIS_PROFILE=ci ", "").replace("pip install ", "pip install -q ")
        assert core in ci, f"README step {step!r} is not what .ci/run runs"


def test_readme_main_job_runs_the_report():
    main_command = next(block for block in _bash_blocks() if "parity report" in block)
    assert "-c constraints.txt" in main_command


def test_readme_blocks_table_is_generated_from_the_registry():
    """Stale when a spec changed and `parity docs` was not run."""
    from parity.docs import blocks_table, read_section

    assert read_section(README, "blocks") == blocks_table(parity.SPECS.values()), (
        "README.md's blocks table is stale: run `parity docs`"
    )


def test_readme_results_table_has_a_row_per_block():
    """Written by `parity report --readme README.md` (its numbers are machine-dependent and not
    checked here)."""
    from parity.docs import read_section

    rows = re.findall(r"^\| (\w+) \|", read_section(README, "results"), flags=re.M)
    assert sorted(set(rows) - {"block"}) == sorted(parity.SPECS), (
        "README.md's results table lacks blocks: run `parity report --readme README.md`"
    )


def test_torch_pin_lives_in_one_place():
    pins = [
        path
        for path in ROOT.rglob("*")
        if path.is_file()
        and ".venv" not in path.parts
        and ".git" not in path.parts
        and path.suffix in ("", ".txt", ".toml", ".ini", ".cfg", ".md")
        and "torch==" in path.read_text(encoding="utf-8", errors="ignore")
    ]
    assert [p.relative_to(ROOT).as_posix() for p in pins] == ["constraints.txt"]
