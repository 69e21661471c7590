"""The real-world ports example set (`examples/real_world`): timm-style torch code (layer
subclasses computing in forward, fused norm + act, LayerNorm over NCHW channels, in-place ReLU,
fused qkv) and Keras ports written the way most Keras code is (no `dtype` passed to sub-layers,
keras-hub names). Each correct port passes the default `parity check` in float32 and float64,
and each planted bug fails it (exit 1), named where it sits."""

from __future__ import annotations

from pathlib import Path

import pytest

from parity.cli import main

ROOT = Path(__file__).resolve().parents[1]
TORCH = "examples.real_world.timm_style"
KERAS = "examples.real_world.keras_ports"
GELU = ["--allow", "act=1e-7:TF's float64 erf GELU rounds 1/sqrt(2) through float32"]
PAIRS = {
    "StemBlock": (["--init", '{"in_channels": 3, "channels": 8}', "--input-shape", "2,3,8,8"]),
    "NormMlpBlock": (["--init", '{"channels": 8, "hidden": 16}', "--input-shape", "2,8,6,6", *GELU]),
    "Attention": (["--init", '{"dim": 16, "num_heads": 4}', "--input-shape", "2,5,16",
                   "--layout", "sequence", "--name-map", "examples/real_world/attention_name_map.json"]),
    "AffineHead": (["--init", '{"dim": 8}', "--torch-init", '{"norm_layer": {"import": "torch.nn:LayerNorm"}}',
                    "--keras-init", '{"norm": "layer_norm"}', "--input-shape", "2,8,5,3",
                    "--converters", f"{KERAS}:CONVERTERS"]),
}  # fmt: skip

BUGS = [
    # (torch block, buggy Keras port, what the report says)
    ("StemBlock", "StemSymmetricPad", "first diverging sub-layer: conv1 (Conv2dSame -> Conv2D)"),
    ("StemBlock", "StemReLU6", "first diverging sub-layer: bn1 (BatchNormAct2d -> BatchNormAct)"),
    ("StemBlock", "StemKerasEpsilon", "bn1 (BatchNormAct2d): epsilon: torch eps=1e-05, Keras epsilon=0.001"),
    ("NormMlpBlock", "NormMlpTanhGelu", "first diverging sub-layer: act (GELU -> Activation)"),
    ("NormMlpBlock", "NormMlpKerasEpsilon", "norm (LayerNorm2d): epsilon: torch eps=1e-06, Keras epsilon=0.001"),
    ("NormMlpBlock", "NormMlpSquareOnly", "torch accepts this input, but the Keras layer fails on it"),
    ("Attention", "AttentionHeadOrder", "first diverging sub-layer: proj (Linear -> Dense at Keras `output_dense`); it is correct when fed torch's input, so the code just before it"),
    ("Attention", "AttentionModelScale", "first diverging sub-layer: proj (Linear -> Dense at Keras `output_dense`); it is correct when fed torch's input"),
]  # fmt: skip


@pytest.fixture(autouse=True)
def _in_repo_root(monkeypatch):
    monkeypatch.chdir(ROOT)


@pytest.mark.parametrize("block", PAIRS)
def test_correct_port_passes_the_default_check(block, tmp_path, capsys):
    argv = ["check", f"{TORCH}:{block}", f"{KERAS}:{block}", *PAIRS[block]]
    assert main([*argv, "--repro-dir", str(tmp_path)]) == 0, capsys.readouterr().out
    out = capsys.readouterr().out
    assert "1/1 blocks pass" in out and "derived variant(s)" in out


@pytest.mark.parametrize(("block", "port", "words"), BUGS, ids=[b[1] for b in BUGS])
def test_planted_bug_fails_the_default_check_where_it_sits(block, port, words, tmp_path, capsys):
    argv = ["check", f"{TORCH}:{block}", f"{KERAS}:{port}", *PAIRS[block]]
    assert main([*argv, "--repro-dir", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert words in out, out


def test_unit_scale_bug_passes_at_the_given_shape_alone(tmp_path, capsys):
    """ReLU6 for ReLU is invisible on unit-scale inputs: only the large-input variant sees it."""
    argv = ["check", f"{TORCH}:StemBlock", f"{KERAS}:StemReLU6", *PAIRS["StemBlock"]]
    assert main([*argv, "--no-variants", "--repro-dir", str(tmp_path)]) == 0
    assert main([*argv, "--repro-dir", str(tmp_path)]) == 1
    assert "inputs x100" in capsys.readouterr().out


def test_square_only_bug_passes_at_the_given_square_shape_alone(tmp_path, capsys):
    argv = ["check", f"{TORCH}:NormMlpBlock", f"{KERAS}:NormMlpSquareOnly", *PAIRS["NormMlpBlock"]]
    assert main([*argv, "--no-variants", "--repro-dir", str(tmp_path)]) == 0
    assert main([*argv, "--repro-dir", str(tmp_path)]) == 1
    assert "H != W (6x7)" in capsys.readouterr().out
