"""The `parity` command line: exit 0 on pass, 1 on mismatch, 2 with a one-line usage error."""

from __future__ import annotations

import json
import shlex
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


# Bench smoke tests: they check that `parity bench` runs and what it prints, never a timing.
# --no-malloc-tuning: the test process keeps glibc's allocator settings.
_QUICK_BENCH = ["bench", "--repeats", "2", "--calls", "1", "--warmup", "1", "--no-malloc-tuning"]


def test_bench_prints_a_row_per_block_and_shape_with_the_floor(capsys):
    code = main(
        [*_QUICK_BENCH, "--block", "SEAttention,ECAAttention",
         "--peers", "torch,keras eager,tf.function,floor"]
    )  # fmt: skip
    assert code == 0
    captured = capsys.readouterr()
    lines = captured.out.splitlines()
    assert lines[0].split()[:4] == ["block", "shape", "torch", "ms"]
    assert "floor ms" in lines[0] and "tf.function/torch" in lines[0]
    rows = [tuple(line.split()[:2]) for line in lines[2:6]]
    blocks = ("SEAttention", "ECAAttention")
    assert rows == [(block, shape) for block in blocks for shape in ("upstream", "batch")]
    assert all(float(lines[2].split()[i]) > 0 for i in (2, 4, 6, 8))  # four peers' medians
    assert "geometric mean Keras tf.function / torch eager, upstream" in captured.out
    assert "torch threads: intra-op" in captured.out and "tf oneDNN in effect" in captured.out
    assert "bench [1/4] SEAttention upstream (50x512x7x7)" in captured.err  # progress lines


def test_bench_json_holds_every_peer_timing_and_the_environment(capsys):
    code = main(
        [*_QUICK_BENCH, "--block", "ExternalAttention", "--batch", "0", "--format", "json",
         "--peers", "torch,tf.function,xla,floor"]
    )  # fmt: skip
    assert code == 0
    payload = json.loads(capsys.readouterr().out)
    (row,) = payload["rows"]
    assert row["block"] == "ExternalAttention" and row["shape"] == "upstream"
    assert set(row["timings"]) == {"torch", "tf.function", "xla", "floor"}
    assert all(t["rounds"] == 2 and t["median_ms"] > 0 for t in row["timings"].values())
    assert row["ratio_tf_function_over_torch"] > 0 and row["ratio_tf_function_over_floor"] > 0
    assert row["floor_check"].startswith("same output as the port")
    assert set(payload["geometric_mean_ratio"]) == {"upstream"}
    assert "tf threads" in payload["environment"] and "torch" in payload["environment"]
    assert payload["environment"]["allocator"] == "unchanged (--no-malloc-tuning)"


def test_bench_reports_a_peer_that_cannot_run_as_not_available(monkeypatch, capsys):
    import torch

    def no_compiler(module, *args, **kwargs):
        raise RuntimeError("no C++ compiler found")

    monkeypatch.setattr(torch, "compile", no_compiler)
    code = main([*_QUICK_BENCH, "--block", "SEAttention", "--batch", "0",
                 "--peers", "torch,torch.compile,tf.function", "--format", "markdown"])  # fmt: skip
    assert code == 0
    out = capsys.readouterr().out
    assert out.startswith("| block | shape | torch ms | torch.compile ms | tf.function ms |")
    assert "| SEAttention | upstream |" in out and "| n/a |" in out
    assert "torch.compile n/a: RuntimeError: no C++ compiler found [every row]" in out
    assert "Machine: " in out and "TF oneDNN in effect: " in out


def test_bench_keeps_the_other_rows_when_one_block_cannot_run(monkeypatch, capsys):
    import parity.bench

    prepare = parity.bench._prepare_pair

    def broken_for_eca(spec, case, dtype):
        if spec.name == "ECAAttention":
            raise TypeError("cannot trace this port")
        return prepare(spec, case, dtype)

    monkeypatch.setattr(parity.bench, "_prepare_pair", broken_for_eca)
    code = main([*_QUICK_BENCH, "--block", "ECAAttention", "--block", "SEAttention",
                 "--batch", "0", "--peers", "torch,tf.function", "--format", "markdown"])  # fmt: skip
    assert code == 0
    out = capsys.readouterr().out
    assert "| ECAAttention | upstream | n/a | n/a | - |" in out
    assert "| SEAttention | upstream | " in out and "(1 of 2 blocks)" in out  # ECA has no ratio
    assert "torch n/a: TypeError: cannot trace this port [ECAAttention (upstream)]" in out


def test_bench_harness_times_assert_parity_against_the_bare_forward(capsys):
    assert main([*_QUICK_BENCH, "--block", "SEAttention", "--harness"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:4] == ["block", "shape", "assert_parity", "ms"]
    block, shape, *_, ratio = lines[2].split()
    assert (block, shape) == ("SEAttention", "upstream") and float(ratio) > 0


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["bench", "--repeats", "0"], "--repeats must be >= 1"),
        (["bench", "--calls", "0"], "--calls must be >= 1"),
        (["bench", "--warmup", "0"], "--warmup must be >= 1"),
        (["bench", "--batch", "-1"], "--batch must be >= 0"),
        (["bench", "--peers", "torch,jax"], "--peers takes a comma-separated subset"),
        (["bench", "--harness", "--peers", "torch"], "--harness times assert_parity"),
    ],
)
def test_bench_rejects_bad_options(argv, message, capsys):
    assert main(argv) == 2
    assert message in capsys.readouterr().err


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


def test_reproduce_lines_carry_the_whole_init_and_the_input_scale():
    """The replay line of every case (given and derived) rebuilds that case exactly: the init of
    the check, not just the drawn changes, and the x100 scale of the scale variant."""
    import reference_torch
    import tf_attention
    from parity.check import CheckOptions, PairSource, check_pair
    from parity.repro import reproduce_command

    lines = []

    def reproduce(case, seed, dtype):
        lines.append(reproduce_command("SEAttention", case, seed, dtype))
        return lines[-1]

    init = {"channel": 8, "reduction": 2}
    source = PairSource(reference_torch.SEAttention, tf_attention.SEAttention, init=init)
    options = CheckOptions(input_shapes=[(2, 8, 3, 5)], dtypes=("float64",), reproduce=reproduce)
    outcomes = check_pair(source, options)
    assert [o.verdict for o in outcomes] == ["pass"] * len(outcomes) and len(lines) >= 3
    assert all(json.dumps(init, sort_keys=True) in line for line in lines)
    scaled = [line for line in lines if "--input-scale" in line]
    assert len(scaled) == 1 and "--input-scale 100 " in scaled[0]
    # The line parses and replays the scaled case.
    argv = shlex.split(scaled[0])[1:]
    assert main([*argv, "--format", "json"]) == 0


@pytest.mark.parametrize("value", ["0", "-1", "nan", "inf", "x"])
def test_check_rejects_a_bad_input_scale(value, capsys):
    argv = ["check", "SEAttention", "--input-shape", "1,512,2,2", "--input-scale", value]
    with pytest.raises(SystemExit):
        main(argv)
    assert "--input-scale: expected a finite factor > 0" in capsys.readouterr().err
