"""Checking a user's own pair: `parity check` with import paths, repro files and replay,
checkpoints, the pytest plugin, and every CLI error path (exit 2, one line)."""

from __future__ import annotations

import json
import pickle

import pytest
import torch

from examples.my_block_torch import GatedConvBlock as TorchBlock
from parity.checkpoint import load_into, load_state_dict
from parity.cli import main
from parity.randomize import randomize_torch
from parity.repro import load_repro, replay

TORCH = "examples.my_block_torch:GatedConvBlock"
KERAS = "examples.my_block_keras:GatedConvBlock"
BROKEN = "examples.my_block_keras:BrokenGatedConvBlock"
INIT = '{"channels": 16, "hidden": 8}'
SHAPE = ["--input-shape", "2,16,9,7"]


@pytest.fixture(autouse=True)
def _in_repo_root(monkeypatch, request):
    monkeypatch.chdir(request.config.rootpath)  # import paths resolve like `python -m`


def test_correct_port_passes_with_import_paths(tmp_path, capsys):
    argv = ["check", TORCH, KERAS, "--init", INIT, *SHAPE, "--examples", "2"]
    assert main([*argv, "--repro-dir", str(tmp_path)]) == 0
    assert "GatedConvBlock" in capsys.readouterr().out
    assert not list(tmp_path.iterdir())  # no repro file for a pass


def test_broken_port_names_the_gate_and_writes_a_repro_that_replays(tmp_path, capsys):
    argv = ["check", TORCH, BROKEN, "--init", INIT, *SHAPE, "--dtype", "float64", "--no-variants"]
    assert main([*argv, "--repro-dir", str(tmp_path)]) == 1
    captured = capsys.readouterr()
    assert "first diverging sub-layer: gate (SqueezeGate -> BrokenSqueezeGate)" in captured.out
    (repro_file,) = tmp_path.glob("*.npz")
    assert f"parity replay {repro_file}" in captured.err

    original = load_repro(repro_file)
    assert original.meta["torch_class"] == TORCH and original.meta["keras_class"] == BROKEN
    assert original.meta["init"] == json.loads(INIT) and original.meta["dtype"] == "float64"
    assert {"torch", "tensorflow", "keras", "numpy"} <= set(original.meta["environment"])
    assert {"conv.weight", "norm.running_var", "gate.fc1.weight"} <= set(original.torch_state)
    assert "gate.fc2.kernel" in original.keras_weights
    assert original.inputs[0].shape == (2, 16, 9, 7)

    replayed = replay(repro_file, allow_imports=("examples",))
    assert not replayed.passed
    assert replayed.first_divergence.startswith("gate (")
    failure_line = next(
        line for line in original.meta["message"].splitlines() if "absolute" in line
    )
    assert failure_line.strip() in replayed.message  # identical numbers, identical element

    assert main(["replay", str(repro_file), "--allow-import", "examples"]) == 1


def test_torch_weights_are_loaded_not_randomised(tmp_path, capsys):
    module = TorchBlock(16, 8)
    randomize_torch(module, seed=3)
    path = tmp_path / "weights.pt"
    torch.save(module.state_dict(), path)
    argv = ["check", TORCH, KERAS, "--init", INIT, *SHAPE, "--torch-weights", str(path)]
    assert main([*argv, "--format", "json", "--out", str(tmp_path / "r.json")]) == 0
    loaded = load_state_dict(path)
    torch.testing.assert_close(loaded["norm.running_var"], module.norm.running_var)


def test_safetensors_checkpoint_loads(tmp_path):
    from safetensors.torch import save_file

    module = TorchBlock(16, 8)
    randomize_torch(module, seed=4)
    path = tmp_path / "weights.safetensors"
    save_file(module.state_dict(), str(path))
    fresh = TorchBlock(16, 8)
    load_into(fresh, load_state_dict(path))
    torch.testing.assert_close(fresh.conv.weight, module.conv.weight)


class _NotATensor:
    pass


def _pickle_file(tmp_path):
    path = tmp_path / "evil.pt"
    with open(path, "wb") as handle:
        pickle.dump({"conv.weight": _NotATensor()}, handle)
    return path


def _misfit_file(tmp_path):
    path = tmp_path / "misfit.pt"
    state = TorchBlock(16, 8).state_dict()
    state.pop("gate.fc2.bias")
    state["extra.weight"] = torch.zeros(2)
    torch.save(state, path)
    return path


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["check", "nosuchpkg.mod:Block", KERAS, *SHAPE], "Cannot import module 'nosuchpkg.mod'"),
        (["check", "examples.my_block_torch:Nope", KERAS, *SHAPE], "has no attribute 'Nope'"),
        (["check", "examples.my_block_torch", KERAS, *SHAPE], "package.module:Class"),
        (["check", "examples.my_block_torch:nn", KERAS, *SHAPE], "is not a class"),
        (["check", TORCH, "--init", INIT, *SHAPE], "give the Keras one too"),
        (["check", TORCH, KERAS, "--init", "{oops", *SHAPE], "--init is not valid JSON"),
        (["check", TORCH, KERAS, "--init", '{"channel": 3}', *SHAPE], "rejected: "),
        (
            ["check", TORCH, KERAS, "--init", INIT, "--input-shape", "2,5,9,7"],
            "GatedConvBlock rejected the input (shapes 2,5,9,7, float32)",
        ),
        (["check", TORCH, KERAS, "--init", INIT, *SHAPE, "--layout", "nchw"], "Unknown layout"),
        (["check", TORCH, KERAS, "--init", INIT, *SHAPE, "--examples", "0"], "--examples must be"),
        (
            ["check", TORCH, KERAS, "--init", INIT, *SHAPE, "--torch-weights", "missing.pt"],
            "Checkpoint file not found",
        ),
        (["replay", "no-such-file.npz"], "Cannot read repro file"),
    ],
)
def test_cli_errors_exit_2_with_one_line(argv, message, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert message in err, err
    assert len(err.splitlines()) == 1, err


@pytest.mark.parametrize(
    ("make_file", "message"),
    [
        (_pickle_file, "weights_only=True"),
        (_misfit_file, "missing keys ['gate.fc2.bias'], unexpected keys ['extra.weight']"),
    ],
)
def test_unsafe_or_misfit_checkpoints_exit_2(make_file, message, tmp_path, capsys):
    path = make_file(tmp_path)
    argv = ["check", TORCH, KERAS, "--init", INIT, *SHAPE, "--torch-weights", str(path)]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1, err


USER_TEST = """
import numpy as np
from examples.my_block_keras import {keras} as KerasBlock
from examples.my_block_torch import GatedConvBlock as TorchBlock

def test_port(parity):
    x = np.random.default_rng(0).standard_normal((2, 16, 9, 7))
    parity.check(TorchBlock(16, 8), KerasBlock(16, 8, dtype="float64"), x, init={{"channels": 16}})
"""


@pytest.mark.parametrize(
    ("keras", "passes"), [("GatedConvBlock", True), ("BrokenGatedConvBlock", False)]
)
def test_pytest_plugin_fixture_in_a_users_suite(pytester, keras, passes, request, monkeypatch):
    monkeypatch.setenv("PYTHONPATH", str(request.config.rootpath))  # the user's own package
    pytester.makepyfile(test_user=USER_TEST.format(keras=keras))
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--parity-profile", "dev")
    if passes:
        result.assert_outcomes(passed=1)
        result.stdout.fnmatch_lines(["parity: profile dev"])
    else:
        result.assert_outcomes(failed=1)
        result.stdout.fnmatch_lines(
            [
                "*Parity failure: GatedConvBlock*",
                "*first diverging sub-layer: gate (SqueezeGate -> BrokenSqueezeGate)*",
                "*reproduce:  parity replay *GatedConvBlock-float64-seed0-*.npz --allow-import "
                "examples.my_block_torch --allow-import examples.my_block_keras",
            ]
        )
