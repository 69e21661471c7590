"""The user's work is never disturbed: their modules, flags, test suite and files (issue: never
confidently wrong, section 2)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import parity
from examples.my_block_keras import BrokenGatedConvBlock, GatedConvBlock
from examples.my_block_torch import GatedConvBlock as TorchBlock
from parity.cli import main
from parity.randomize import randomize_torch

ROOT = Path(__file__).resolve().parents[1]


def _loaded_model() -> torch.nn.Module:
    """A user's model: weights loaded (here: seeded), in training mode, with a gradient."""
    module = TorchBlock(16, 8)
    randomize_torch(module, seed=11)
    module.train()
    module.conv.weight.grad = torch.ones_like(module.conv.weight)
    return module


def _torch_fingerprint(module) -> dict:
    return {
        "state": {k: (str(v.dtype), v.detach().numpy().tobytes()) for k, v in module.state_dict().items()},
        "modes": [m.training for m in module.modules()],
        "grad": module.conv.weight.grad.numpy().tobytes(),
        "requires_grad": [p.requires_grad for p in module.parameters()],
        "identity": [id(p) for p in module.parameters()],
    }  # fmt: skip


def _keras_fingerprint(layer) -> list:
    return [(v.path, np.asarray(v.numpy()).tobytes()) for v in layer.variables]


def _built_keras(cls, dtype="float64"):
    layer = cls(16, 8, dtype=dtype)
    layer(np.zeros((1, 5, 4, 16), dtype))
    return layer


X = np.random.default_rng(0).standard_normal((2, 16, 9, 7))


@pytest.mark.parametrize(
    ("keras_class", "inputs", "expect"),
    [
        (GatedConvBlock, X, "pass"),
        (BrokenGatedConvBlock, X, "mismatch"),
        (GatedConvBlock, X[:, :5], "raises"),  # wrong channel count: both sides raise
    ],
    ids=["pass", "mismatch", "exception"],
)
def test_compare_leaves_the_users_modules_byte_for_byte(keras_class, inputs, expect):
    torch_module = _loaded_model()
    keras_layer = _built_keras(keras_class)
    keras_layer.norm.moving_mean.assign(np.full(16, 0.25))
    torch_before, keras_before = _torch_fingerprint(torch_module), _keras_fingerprint(keras_layer)
    if expect == "raises":
        with pytest.raises(parity.ModuleCallError):
            parity.compare(torch_module, keras_layer, inputs)
    else:
        assert parity.compare(torch_module, keras_layer, inputs).verdict == expect
    assert _torch_fingerprint(torch_module) == torch_before  # float32 again, train mode again
    assert _keras_fingerprint(keras_layer) == keras_before


def test_a_keras_layer_the_harness_builds_keeps_its_built_values():
    keras_layer = GatedConvBlock(16, 8, dtype="float64")
    parity.compare(_loaded_model(), keras_layer, X)
    assert keras_layer.built
    np.testing.assert_array_equal(keras_layer.norm.moving_variance.numpy(), np.ones(16))


def test_framework_flags_are_restored():
    before = torch.backends.cuda.matmul.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = True
    try:
        parity.compare(TorchBlock(16, 8), GatedConvBlock(16, 8, dtype="float64"), X)
        assert torch.backends.cuda.matmul.allow_tf32 is True
    finally:
        torch.backends.cuda.matmul.allow_tf32 = before


def test_importing_parity_changes_no_environment_variable():
    code = (
        "import os; before = dict(os.environ); import parity, parity.pytest_plugin; "
        "print(sorted(set(os.environ.items()) ^ set(before.items())))"
    )
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                         cwd=ROOT, check=True)  # fmt: skip
    assert out.stdout.strip() == "[]"


# --- the pytest plugin leaves other suites alone ------------------------------------------------

COUNTING_SUITE = """
from hypothesis import given, strategies as st

CALLS = []

@given(st.integers())
def test_counts(value):
    CALLS.append(value)

def test_report():
    print("EXAMPLES", len(CALLS))
"""

OWN_PROFILE = """
import os
from hypothesis import settings
settings.register_profile("mine", max_examples=7)
settings.load_profile(os.environ["HYPOTHESIS_PROFILE"])
"""


def test_plugin_leaves_hypothesis_defaults_alone(pytester):
    pytester.makepyfile(test_count=COUNTING_SUITE)
    result = pytester.runpytest_subprocess("-s", "-p", "no:randomly", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["*EXAMPLES 100*"])  # hypothesis' own default, not parity's dev


def test_plugin_accepts_the_users_own_profile(pytester, monkeypatch):
    pytester.makeconftest(OWN_PROFILE)
    pytester.makepyfile(test_count=COUNTING_SUITE)
    monkeypatch.setenv("HYPOTHESIS_PROFILE", "mine")
    result = pytester.runpytest_subprocess("-s", "-p", "no:cacheprovider")
    assert "INTERNALERROR" not in result.stdout.str() + result.stderr.str()
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["*EXAMPLES 7*"])


# --- replay runs no code the user did not choose ---------------------------------------------------


def _crafted_repro(path: Path, torch_class: str, marker: Path) -> Path:
    meta = {
        "format": 2, "name": "evil", "torch_class": torch_class, "keras_class": torch_class,
        "init": {"args": ["touch", str(marker)]}, "layout": "image", "output_layout": "image",
        "dtype": "float32", "seed": 0, "rtol": 1e-4, "atol": 1e-4,
    }  # fmt: skip
    np.savez(path, meta=np.array(json.dumps(meta)), **{"input/0": np.zeros((1, 2, 2, 2))})
    return path


@pytest.mark.parametrize(
    "allow", [[], ["--allow-import", "subprocess"]], ids=["default", "allowed"]
)
def test_replay_never_constructs_what_a_crafted_file_names(tmp_path, capsys, allow):
    marker = tmp_path / "pwned"
    repro = _crafted_repro(tmp_path / "evil.npz", "subprocess:Popen", marker)
    assert main(["replay", str(repro), *allow]) == 2
    err = capsys.readouterr().err
    assert not marker.exists()
    assert "Refusing to import 'subprocess'" in err if not allow else "not a torch" in err


def test_repro_names_are_stable_across_processes_and_unique_per_case(tmp_path):
    argv = ["-m", "parity.cli", "check", "examples.my_block_torch:GatedConvBlock",
            "examples.my_block_keras:BrokenGatedConvBlock", "--init",
            '{"channels": 4, "hidden": 2}', "--dtype", "float64", "--no-variants"]  # fmt: skip
    names = []
    for hash_seed, shape in (("1", "2,4,5,3"), ("2", "2,4,5,3"), ("1", "2,4,3,5")):
        directory = tmp_path / f"run{len(names)}"
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        completed = subprocess.run(
            [sys.executable, *argv, "--input-shape", shape, "--repro-dir", str(directory)],
            capture_output=True, text=True, env=env, cwd=ROOT, check=False,
        )  # fmt: skip
        assert completed.returncode == 1, completed.stderr
        (path,) = directory.glob("*.npz")
        names.append(path.name)
    assert names[0] == names[1], "the same case got two names"
    assert names[0] != names[2], "two cases share a name"


def test_a_crash_of_the_module_under_test_writes_a_repro(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(ROOT)
    argv = ["check", "tests.hostile_pairs:CrashTorch", "tests.hostile_pairs:CrashKeras",
            "--input-shape", "2,3", "--layout", "plain", "--dtype", "float64",
            "--repro-dir", str(tmp_path)]  # fmt: skip
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "IndexError" in err and "boom at index 7" in err and len(err.splitlines()) == 1
    (repro,) = tmp_path.glob("CrashTorch-*.npz")
    assert f"parity replay {repro} --allow-import tests.hostile_pairs" in err
    assert main(["replay", str(repro), "--allow-import", "tests.hostile_pairs"]) == 2
    assert "boom at index 7" in capsys.readouterr().err


@pytest.mark.parametrize("kind", ["file", "unwritable"])
def test_an_unusable_repro_dir_never_loses_the_report(tmp_path, capsys, monkeypatch, kind):
    monkeypatch.chdir(ROOT)
    target = tmp_path / "repro"
    if kind == "file":
        target.write_text("not a directory")
    else:
        target.mkdir()
        target.chmod(0o500)
        if os.access(target, os.W_OK):  # root ignores permissions: use a path under a file
            target = tmp_path / "blocker" / "repro"
            (tmp_path / "blocker").write_text("")
    argv = ["check", "examples.my_block_torch:GatedConvBlock",
            "examples.my_block_keras:BrokenGatedConvBlock", "--init",
            '{"channels": 4, "hidden": 2}', "--input-shape", "2,4,5,3", "--dtype", "float64",
            "--repro-dir", str(target)]  # fmt: skip
    assert main(argv) == 1
    captured = capsys.readouterr()
    assert "Parity failure" in captured.out and "first diverging sub-layer: gate" in captured.out
    assert "no repro file written" in captured.err
