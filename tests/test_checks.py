"""Checks beyond the eval-mode forward: each of five planted bugs passes `--checks forward` and
fails exactly the check that should catch it; the correct twin passes them all; a check that
cannot apply says why; the running variance is compared exactly (torch's unbiased convention)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from keras import layers
from torch import nn

import parity
from parity.checks import CHECK_NAMES, parse_checks
from parity.cli import main

ROOT = Path(__file__).resolve().parents[1]
PAIR = "examples.beyond_forward.pair"
ARGS = ["--init", '{"channels": 6, "scale": 8.0}', "--input-shape", "2,6,16,16", "--no-variants"]
BUGS = {
    "BatchNormNoTraining": "training",
    "ConfigForgetsScale": "saved",
    "StopGradientWeights": "gradients",
    "StaticSpatialShape": "compiled",
    "HalfSoftmax": "float16",
}


@pytest.fixture(autouse=True)
def _in_repo_root(monkeypatch):
    monkeypatch.chdir(ROOT)


def _run(port: str, checks: str, tmp_path) -> tuple[int, dict]:
    out = tmp_path / f"{port}-{checks.replace(',', '_')}.json"
    argv = ["check", f"{PAIR}:PooledGateTorch", f"{PAIR}:{port}", *ARGS, "--checks", checks,
            "--format", "json", "--out", str(out), "--repro-dir", str(tmp_path / "r")]  # fmt: skip
    status = main(argv)
    return status, json.loads(out.read_text())["blocks"][0]


def test_the_correct_port_passes_every_check(tmp_path):
    status, block = _run("PooledGate", "all", tmp_path)
    assert status == 0, block
    assert block["check_verdicts"] == {name: "pass" for name in CHECK_NAMES[1:]}


@pytest.mark.parametrize(("port", "check"), BUGS.items(), ids=list(BUGS))
def test_each_planted_bug_fails_exactly_its_check(port, check, tmp_path):
    status, _ = _run(port, "forward", tmp_path)
    assert status == 0, f"{port} already fails the forward"
    status, block = _run(port, "all", tmp_path)
    assert status == 1
    failing = sorted(name for name, verdict in block["check_verdicts"].items() if verdict != "pass")
    assert failing == [check], block["check_verdicts"]
    message = next(o["message"] for o in block["outcomes"] if not o["passed"])
    assert f"{check}: mismatch" in message


def test_gradient_mismatch_names_the_parameter_and_the_sub_layer(tmp_path):
    _, block = _run("StopGradientWeights", "gradients", tmp_path)
    message = next(o["message"] for o in block["outcomes"] if not o["passed"])
    assert "gradient differs: `proj.weight`" in message  # (proj.bias cancels in the softmax)
    assert "the gradient reaching `proj`'s output differs" in message


def test_compiled_failure_names_the_op(tmp_path):
    _, block = _run("StaticSpatialShape", "compiled", tmp_path)
    message = next(o["message"] for o in block["outcomes"] if not o["passed"])
    assert "cannot run the layer with unknown sizes (None, None, None, 6)" in message


def test_saved_failure_says_the_reloaded_outputs_differ(tmp_path):
    _, block = _run("ConfigForgetsScale", "saved", tmp_path)
    message = next(o["message"] for o in block["outcomes"] if not o["passed"])
    assert "from_config: output #0 differs from torch" in message
    assert ".keras reload: output #0 differs from torch" in message


def test_low_precision_reports_both_errors(tmp_path):
    _, block = _run("HalfSoftmax", "float16", tmp_path)
    summary = block["outcomes"][0]["checks"]["float16"]["summary"]
    assert "Keras inf, torch" in summary and "allowed 8 x torch" in summary


def test_checks_that_cannot_apply_say_why(capsys):
    argv = ["report", "--block", "WeightedPermuteMLP", "--examples", "0", "--dtype", "float64",
            "--checks", "training"]  # fmt: skip
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "n/a" in out
    assert "WeightedPermuteMLP training: not applicable: upstream hard-codes dropout 0.1" in out


def test_random_layers_make_training_inconclusive_with_the_way_out():
    from tests.pairs import DropoutKeras, DropoutTorch

    x = np.random.default_rng(0).standard_normal((4, 6))
    result = parity.compare(DropoutTorch(0.5), DropoutKeras(0.5, dtype="float64"), x,
                            layout="plain", checks=("forward", "training"))  # fmt: skip
    assert result.checks["training"].verdict == "inconclusive"
    assert "construct both sides with their dropout rates at 0" in result.checks["training"].summary


class _BatchNormTorch(nn.Module):
    def __init__(self):
        super().__init__()
        self.bn = nn.BatchNorm2d(3)

    def forward(self, x):
        return self.bn(x)


class _BatchNormKeras(layers.Layer):
    def __init__(self, momentum: float = 0.9, **kwargs):
        super().__init__(**kwargs)
        self.bn = layers.BatchNormalization(
            epsilon=1e-5, momentum=momentum, dtype=self.dtype_policy
        )

    def call(self, x, training=False):
        return self.bn(x, training=training)


def test_running_variance_is_compared_in_torchs_unbiased_convention():
    """Three steps on batches of 2x3x4 positions per channel: the biased/unbiased factor 24/23
    would show at 4e-3 if it were ignored; replayed exactly, float64 agrees to rounding."""
    x = np.random.default_rng(1).standard_normal((2, 3, 3, 4))
    result = parity.compare(_BatchNormTorch(), _BatchNormKeras(dtype="float64"), x,
                            checks=("forward", "training"))  # fmt: skip
    assert result.checks["training"].verdict == "pass", result.message
    assert result.checks["training"].max_rel < 1e-12
    wrong = parity.compare(_BatchNormTorch(), _BatchNormKeras(momentum=0.99, dtype="float64"), x,
                           checks=("forward", "training"))  # fmt: skip
    assert wrong.checks["training"].verdict == "mismatch"
    assert "bn.running_mean after 3 steps" in "\n".join(wrong.checks["training"].details)


def test_checks_leave_the_users_modules_alone():
    module, layer = _BatchNormTorch(), _BatchNormKeras(dtype="float64")
    layer(np.zeros((1, 3, 4, 3)))
    before = {k: v.clone() for k, v in module.state_dict().items()}
    keras_before = [v.numpy().copy() for v in layer.variables]
    parity.compare(module, layer, np.random.default_rng(2).standard_normal((2, 3, 3, 4)),
                   checks="all")  # fmt: skip
    for key, value in module.state_dict().items():
        torch.testing.assert_close(value, before[key], rtol=0, atol=0)
    for variable, value in zip(layer.variables, keras_before, strict=True):
        np.testing.assert_array_equal(variable.numpy(), value)


@pytest.mark.parametrize(("value", "expected"), [
    ("all", CHECK_NAMES), ("gradients,forward", ("forward", "gradients")), (None, ("forward",)),
])  # fmt: skip
def test_parse_checks(value, expected):
    assert parse_checks(value) == expected


def test_unknown_check_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as caught:
        main(["check", "SEAttention", "--input-shape", "2,4,3,3", "--checks", "speed"])
    assert caught.value.code == 2
    assert "Unknown check 'speed'" in capsys.readouterr().err


def test_training_widens_a_batch_of_one_for_batch_statistics():
    """BAM's channel gate normalises pooled (B, C) features: at batch 1 torch refuses training
    mode, so the check trains on batches of 2 (and says so) instead of giving up."""
    import parity
    from parity.runner import run_case
    from parity.spec import Case

    spec = parity.SPECS["BAMBlock"]
    case = Case(config={"channel": 8, "reduction": 2, "dia_val": 1}, input_shapes=((1, 8, 3, 3),))
    result = run_case(spec, case, dtype="float64", seed=3, checks=("forward", "training"))
    training = result.checks["training"]
    assert training.verdict == "pass", result.message
    assert "batches of 2" in training.summary and "BatchNorm(s) compared" in training.summary


def test_float16_catches_a_norm_summed_in_float16(monkeypatch):
    """UFOAttention's XNorm summed its squares in float16 before its fix: at the upstream shape
    the sum overflows (65504) and the output is lost, where torch.norm accumulates in float32."""
    from keras import ops

    import parity
    import tf_attention.ufo_attention as ufo
    from parity.runner import run_case

    def x_norm_in_float16(x, gamma):
        return x * (gamma / ops.sqrt(ops.sum(ops.square(x), axis=-1, keepdims=True)))

    spec = parity.SPECS["UFOAttention"]
    fixed = run_case(spec, spec.upstream_case, dtype="float32", seed=5, checks=("float16",))
    monkeypatch.setattr(ufo, "x_norm", x_norm_in_float16)
    broken = run_case(spec, spec.upstream_case, dtype="float32", seed=5, checks=("float16",))
    assert fixed.checks["float16"].verdict == "pass", fixed.message
    assert broken.checks["float16"].verdict == "mismatch", broken.message
    assert "upcast" in "\n".join(broken.checks["float16"].details)


def test_float16_catches_a_variance_summed_in_float16():
    """SpatialGroupEnhance summed its squared deviations in float16 before its fix: on a 1x2 map
    the port lost 22x torch's error, which accumulates the std in float32."""
    import parity
    from parity.runner import run_case
    from parity.spec import Case

    spec = parity.SPECS["SpatialGroupEnhance"]
    case = Case(config={"groups": 1}, input_shapes=((1, 1, 1, 2),))
    result = run_case(spec, case, dtype="float32", seed=0, checks=("float16",))
    assert result.checks["float16"].verdict == "pass", result.message
