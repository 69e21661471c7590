"""The `parity` command line: exit 0 on pass, 1 on mismatch, 2 with a one-line usage error."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from parity.cli import main


def test_report_writes_json_and_passes(tmp_path, capsys):
    out = tmp_path / "report.json"
    code = main(
        ["report", "--block", "SEAttention", "--examples", "2", "--no-smoke",
         "--format", "json", "--out", str(out)]
    )  # fmt: skip
    assert code == 0
    payload = json.loads(out.read_text())
    (block,) = payload["blocks"]
    assert block["block"] == "SEAttention" and block["passed"]
    assert block["cases"] == 2 and len(block["outcomes"]) == 4  # 2 cases x 2 dtypes
    assert block["worst"]["float64"]["max_rel"] < 1e-10
    assert {"torch", "tensorflow", "keras", "numpy", "python"} <= set(payload["environment"])
    assert "SEAttention" in capsys.readouterr().out  # the table is printed too


def test_report_markdown_has_one_row_per_block(tmp_path):
    out = tmp_path / "report.md"
    assert main(["report", "--block", "ECAAttention", "--examples", "1", "--no-smoke",
                 "--dtype", "float64", "--format", "markdown", "--out", str(out)]) == 0  # fmt: skip
    lines = out.read_text().splitlines()
    assert lines[0].startswith("| block | cases | float64 max abs")
    assert lines[2].startswith("| ECAAttention | 1 |") and lines[2].endswith("| pass |")


def test_check_replays_one_case(capsys):
    code = main(["check", "SEAttention", "--init", '{"channel": 6, "reduction": 2}',
                 "--input-shape", "2,6,5,3", "--seed", "9", "--no-variants"])  # fmt: skip
    assert code == 0
    out = capsys.readouterr().out
    assert "SEAttention  1 " in out and "pass" in out and "1/1 blocks pass" in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["report", "--block", "NoSuchBlock"], "unknown block 'NoSuchBlock'"),
        (["report", "--examples", "-1"], "--examples must be >= 0"),
        (["check", "SEAttention", "--init", "{bad", "--input-shape", "1,4,2,2"], "not valid JSON"),
        (["check", "SEAttention", "--init", "[1]", "--input-shape", "1,4,2,2"], "JSON object"),
        (
            [
                "check",
                "SEAttention",
                "--init",
                '{"channel": 4, "reduction": 9}',
                "--input-shape",
                "1,4,2,2",
            ],
            "Received: reduction=9",
        ),
        (
            [
                "check",
                "SEAttention",
                "--init",
                '{"channel": 4, "reduction": 2}',
                "--input-shape",
                "1,5,2,2",
            ],
            "SEAttention rejected the input (shapes 1,5,2,2, float32)",
        ),
        (
            ["check", "SEAttention", "--input-shape", "1,512,2,2", "--extra", "mask"],
            "--extra expects NAME=mask|float:SHAPE",
        ),
    ],
)
def test_usage_errors_exit_2_with_one_line(argv, message, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert message in err
    assert len(err.splitlines()) == 1, err


def test_bad_shape_argument_is_an_argparse_error(capsys):
    with pytest.raises(SystemExit) as caught:
        main(["check", "SEAttention", "--input-shape", "2,3.5"])
    assert caught.value.code == 2
    assert "comma-separated positive integers" in capsys.readouterr().err


def test_a_named_size_needs_its_range(capsys):
    assert main(["check", "SEAttention", "--input-shape", "2,x"]) == 2
    assert "size 'x' in --input-shape has no range: add --dim x=LOW:HIGH" in capsys.readouterr().err


def test_console_script_is_installed():
    """The script sits beside the interpreter running the tests (the README's commands never
    activate the venv, so it need not be on PATH)."""
    executable = Path(sys.executable).with_name("parity")
    assert executable.is_file(), f"no `parity` console script beside {sys.executable}"
    completed = subprocess.run([executable, "--help"], capture_output=True, text=True, check=False)
    assert completed.returncode == 0 and "report" in completed.stdout


def test_bench_prints_one_row_per_block(capsys):
    assert (
        main(["bench", "--block", "SEAttention", "--block", "ECAAttention", "--repeats", "1"]) == 0
    )
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:3] == ["block", "torch", "ms"]
    assert [line.split()[0] for line in lines[2:]] == ["SEAttention", "ECAAttention"]
    assert all(float(value) > 0 for value in lines[2].split()[1:4])


def test_bench_rejects_zero_repeats(capsys):
    assert main(["bench", "--repeats", "0"]) == 2
    assert "--repeats must be >= 1" in capsys.readouterr().err


def test_report_exits_1_and_writes_repro_files_when_a_block_fails(tmp_path, monkeypatch, capsys):
    from hypothesis import strategies as st

    import parity.cli
    from examples.my_block_keras import BrokenGatedConvBlock
    from examples.my_block_torch import GatedConvBlock
    from parity.spec import Case, ModuleSpec

    case = Case({"channels": 4, "hidden": 2}, ((2, 4, 5, 3),), label="asymmetric")
    broken = ModuleSpec(
        name="GatedConvBlock",
        torch_class=GatedConvBlock,
        keras_class=BrokenGatedConvBlock,
        layout="image",
        cases=lambda: st.just(case),
        upstream_case=case,
        asymmetric_case=case,
    )
    monkeypatch.setattr(parity.cli, "_lookup_specs", lambda names: [broken])
    code = main(["report", "--examples", "0", "--dtype", "float64", "--repro-dir", str(tmp_path)])
    assert code == 1
    out = capsys.readouterr().out
    assert "0/1 blocks pass" in out and "first diverging sub-layer: gate" in out
    (repro,) = tmp_path.glob("GatedConvBlock-float64-*.npz")
    assert f"parity replay {repro}" in out


def test_cli_silences_tensorflow_start_up_logs():
    """TF's C++/absl start-up lines ("All log messages before absl::InitializeLog()...",
    cudart/cuInit probes) bypass Python logging; the CLI hides them unless -v."""
    argv = [sys.executable, "-m", "parity.cli", "check", "SEAttention", "--init",
            '{"channel": 4, "reduction": 2}', "--input-shape", "2,4,3,5", "--dtype", "float64"]  # fmt: skip
    env = {k: v for k, v in __import__("os").environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    completed = subprocess.run(argv, capture_output=True, text=True, env=env, check=False)
    assert completed.returncode == 0, completed.stderr
    assert completed.stderr.strip() == "", completed.stderr
