"""Checking code we did not write: converters by type and by user, name maps, side-specific
constructor arguments, sub-layer dtypes, tolerance control with declared deviations, and shape
fuzzing of a user's pair (derived variants, symbolic shapes that shrink)."""

from __future__ import annotations

import json
from pathlib import Path

import keras
import numpy as np
import pytest
import torch
from keras import layers
from torch import nn

import parity
from examples.real_world import keras_ports, timm_style
from parity.cli import main
from parity.converters import BUILTIN_CONVERTERS, find_converter

ROOT = Path(__file__).resolve().parents[1]
X_SEQ = np.random.default_rng(0).standard_normal((2, 5, 16))
QKV = {"qkv": parity.Split(["query_dense", "key_dense", "value_dense"]), "proj": "output_dense"}


@pytest.fixture(autouse=True)
def _in_repo_root(monkeypatch):
    monkeypatch.chdir(ROOT)


def _float64(cls, *args, **kwargs):
    with parity.dtype_policy("float64"):
        return cls(*args, dtype="float64", **kwargs)


# --- layer types by isinstance, user converters ---------------------------------------------------


def test_subclasses_convert_and_the_most_specific_converter_wins():
    class MyLinear(nn.Linear):
        pass

    class MyDense(layers.Dense):
        pass

    special = parity.Converter(MyLinear, MyDense, tensors=[], name="mine")
    converters = [special, *BUILTIN_CONVERTERS]
    assert find_converter(MyLinear(2, 3), MyDense(3), converters) is special
    assert find_converter(nn.Linear(2, 3), MyDense(3), converters).describe() == "Linear->Dense"
    assert find_converter(timm_style.Conv2dSame(2, 3, 3), layers.Conv2D(3, 3)).describe() == (
        "Conv2d->Conv2D"
    )
    assert find_converter(timm_style.LayerNorm2d(4), layers.LayerNormalization()) is not None


def test_padding_of_a_forward_computing_conv_subclass_is_not_audited():
    """Conv2dSame has padding=0 and pads in forward; judging its attribute would wrongly fail the
    correct 'same' port."""
    from parity.weights import audit_hyperparameters

    layer = keras_ports.StemBlock(3, 8)
    layer(np.zeros((1, 8, 8, 3), "float32"))
    assert audit_hyperparameters(timm_style.StemBlock(3, 8), layer) == []


def test_a_user_layer_type_needs_its_converter_and_its_audit_runs():
    torch_module = timm_style.AffineHead(8)
    keras_layer = _float64(keras_ports.AffineHead, 8)
    x = np.random.default_rng(1).standard_normal((2, 8, 5, 3))
    with pytest.raises(parity.WeightTransferError, match="expected a Keras variable `weight`"):
        parity.compare(torch_module, keras_layer, x)
    converters = keras_ports.CONVERTERS
    assert parity.compare(torch_module, keras_layer, x, converters=converters).passed
    torch_module.affine.eps = 0.5
    result = parity.compare(torch_module, keras_layer, x, converters=converters)
    assert "affine (ScaleShift): eps: torch 0.5 vs Keras epsilon 0" in result.message


def test_cli_converters_must_name_converters(capsys):
    argv = ["check", "examples.real_world.timm_style:AffineHead",
            "examples.real_world.keras_ports:AffineHead", "--input-shape", "2,8,5,3",
            "--converters", "examples.real_world.keras_ports:AffineHead"]  # fmt: skip
    assert main(argv) == 2
    assert "must name a parity.Converter or a list of them" in capsys.readouterr().err


# --- name maps -----------------------------------------------------------------------------------


def test_name_map_with_a_split_transfers_both_ways_bit_exactly():
    torch_module = timm_style.Attention(16, 4).double()
    keras_layer = _float64(keras_ports.Attention, 16, 4)
    keras_layer(X_SEQ)
    parity.randomize.randomize_torch(torch_module, 3)
    original = {k: v.clone() for k, v in torch_module.state_dict().items()}
    parity.transfer_weights(torch_module, keras_layer, name_map=QKV)
    np.testing.assert_array_equal(
        keras_layer.key_dense.kernel.numpy(), original["qkv.weight"][16:32].numpy().T
    )
    fresh = timm_style.Attention(16, 4).double()
    parity.transfer_weights(keras_layer, fresh, name_map=QKV)
    for key, value in fresh.state_dict().items():
        torch.testing.assert_close(value, original[key], rtol=0, atol=0)


def test_name_map_aligns_localisation_even_when_the_user_copied_the_weights():
    torch_module = timm_style.Attention(16, 4).double()
    keras_layer = _float64(keras_ports.AttentionModelScale, 16, 4)
    keras_layer(X_SEQ)
    parity.randomize.randomize_torch(torch_module, 3)
    parity.transfer_weights(torch_module, keras_layer, name_map=QKV)
    result = parity.compare(
        torch_module, keras_layer, X_SEQ, layout="sequence", randomize=False, transfer=False,
        name_map=QKV,
    )  # fmt: skip
    assert {row.path for row in result.localization} == {"qkv[0]", "qkv[1]", "qkv[2]", "proj"}
    assert result.first_divergence.startswith("proj (Linear -> Dense at Keras `output_dense`)")
    unmapped = parity.compare(
        torch_module, keras_layer, X_SEQ, layout="sequence", randomize=False, transfer=False
    )
    assert "no sub-layer is aligned by name" in unmapped.message


def test_inline_json_name_map_on_the_cli(capsys):
    argv = ["check", "examples.real_world.timm_style:Attention",
            "examples.real_world.keras_ports:Attention", "--init", '{"dim": 16, "num_heads": 4}',
            "--input-shape", "2,5,16", "--layout", "sequence", "--no-variants",
            "--name-map", json.dumps({"qkv": {"split": ["query_dense", "key_dense", "value_dense"]},
                                      "proj": "output_dense"})]  # fmt: skip
    assert main(argv) == 0, capsys.readouterr().err


@pytest.mark.parametrize(
    ("name_map", "words"),
    [
        ('{"qkv": 3}', "expected a Keras attribute path or a split"),
        ('{"qkv": {"split": ["a"]}}', "at least two Keras paths"),
        ('{"qkv": {"split": ["a", "b"], "axes": 1}}', "unknown keys ['axes']"),
        ("no-such-file.json", "no such file"),
        (
            '{"qkv": {"split": ["query_dense", "key_dense"]}, "proj": "output_dense"}',
            "cannot split",
        ),
    ],
)
def test_bad_name_maps_are_named(name_map, words, capsys):
    argv = ["check", "examples.real_world.timm_style:Attention",
            "examples.real_world.keras_ports:Attention", "--init", '{"dim": 15, "num_heads": 3}',
            "--input-shape", "2,5,15", "--layout", "sequence", "--no-variants",
            "--name-map", name_map]  # fmt: skip
    assert main(argv) == 2
    assert words in capsys.readouterr().err


# --- side-specific constructor arguments -------------------------------------------------------------


def test_torch_only_and_keras_only_arguments(capsys):
    base = ["check", "examples.real_world.timm_style:AffineHead",
            "examples.real_world.keras_ports:AffineHead", "--init", '{"dim": 8}',
            "--input-shape", "2,8,5,3", "--no-variants",
            "--converters", "examples.real_world.keras_ports:CONVERTERS"]  # fmt: skip
    identity = ["--torch-init", '{"norm_layer": {"import": "torch.nn:Identity"}}',
                "--keras-init", '{"norm": "none"}']  # fmt: skip
    assert main([*base, *identity]) == 0
    mismatched = ["--torch-init", '{"norm_layer": {"import": "torch.nn:Identity"}}']
    assert main([*base, *mismatched]) == 2  # Keras still builds its LayerNormalization
    assert "Keras variables with no torch tensor" in capsys.readouterr().err
    missing = ["--torch-init", '{"norm_layer": {"import": "torch.nn:NoSuchNorm"}}']
    assert main([*base, *missing]) == 2
    assert "Cannot import 'torch.nn:NoSuchNorm'" in capsys.readouterr().err


# --- a port that does not pass dtype to its sub-layers -------------------------------------------


def test_user_constructed_port_without_dtype_names_the_sub_layers():
    with pytest.raises(
        ValueError, match="these sub-layers do not: query_dense \\(Dense, float32\\)"
    ):
        parity.compare(
            timm_style.Attention(), keras_ports.Attention(dtype="float64"), X_SEQ,
            layout="sequence", name_map=QKV,
        )  # fmt: skip
    assert keras.config.dtype_policy().name == "float32"  # the harness left the policy alone


# --- tolerance control and declared deviations -----------------------------------------------------


def _norm_mlp_float64():
    return timm_style.NormMlpBlock(8, 16), _float64(keras_ports.NormMlpBlock, 8, 16)


X_IMAGE = np.random.default_rng(2).standard_normal((2, 8, 6, 5))


def test_tiny_float64_mismatch_in_one_op_gets_the_hint():
    result = parity.compare(*_norm_mlp_float64(), X_IMAGE)
    assert result.verdict == "mismatch" and result.max_rel < 1e-7
    assert "looks like one framework op's float64 precision" in result.message
    assert "--allow act=" in result.message


def test_declared_sub_layer_deviation_passes_and_is_named():
    result = parity.compare(*_norm_mlp_float64(), X_IMAGE, allow={"act": (1e-7, "TF erf GELU")})
    assert result.passed
    assert result.allowed and result.allowed[0].startswith("act: TF erf GELU (local max rel")


def test_a_deviation_declared_elsewhere_does_not_excuse():
    result = parity.compare(*_norm_mlp_float64(), X_IMAGE, allow={"fc1": (1e-7, "wrong layer")})
    assert result.verdict == "mismatch"
    too_tight = parity.compare(*_norm_mlp_float64(), X_IMAGE, allow={"act": (1e-12, "too tight")})
    assert too_tight.verdict == "mismatch"


def test_a_real_bug_is_not_excused_by_an_allowance():
    torch_module = timm_style.NormMlpBlock(8, 16)
    keras_layer = _float64(keras_ports.NormMlpTanhGelu, 8, 16)
    result = parity.compare(torch_module, keras_layer, X_IMAGE, allow={"act": (1e-7, "GELU")})
    assert result.verdict == "mismatch"


def test_spec_declares_a_sub_layer_deviation():
    from hypothesis import strategies as st

    case = parity.Case({"channels": 8, "hidden": 16}, ((2, 8, 6, 5),))
    spec = parity.ModuleSpec(
        name="NormMlpBlock", torch_class=timm_style.NormMlpBlock,
        keras_class=keras_ports.NormMlpBlock, layout="image", cases=lambda: st.just(case),
        upstream_case=case, asymmetric_case=case,
        known_deviations=(parity.KnownDeviation(
            reason="TF's erf GELU in float64", dtypes=("float64",), sub_layer="act",
            tolerance=parity.Tolerance(rtol=1e-7, atol=1e-7)),),
    )  # fmt: skip
    assert parity.run_case(spec, case, dtype="float64").passed


@pytest.mark.parametrize(
    ("flags", "status", "words"),
    [
        (["--rtol", "1e-6", "--atol", "1e-6"], 0, "1/1 blocks pass"),
        (["--rtol", "1e-6"], 2, "--rtol and --atol go together"),
        (["--allow", "act"], 2, "--allow expects PATH=TOLERANCE[:REASON]"),
        (["--allow", "act=1e-7:TF erf GELU"], 0, "1/1 blocks pass"),
    ],
)
def test_cli_tolerance_flags(flags, status, words, capsys):
    argv = ["check", "examples.real_world.timm_style:NormMlpBlock",
            "examples.real_world.keras_ports:NormMlpBlock", "--init",
            '{"channels": 8, "hidden": 16}', "--input-shape", "2,8,6,5", "--dtype", "float64",
            "--no-variants", *flags]  # fmt: skip
    assert main(argv) == status
    captured = capsys.readouterr()
    assert words in captured.out + captured.err


# --- derived variants and symbolic shapes ---------------------------------------------------------

CONV = ["check", "tests.hostile_pairs:ConvTorch", "tests.hostile_pairs:WideOnlyBugKeras",
        "--init", '{"channels": 3}', "--dtype", "float64"]  # fmt: skip


def test_symbolic_shapes_find_and_shrink_a_width_bug(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the hypothesis database goes to ./.hypothesis
    argv = [*CONV, "--input-shape", "B,3,H,W", "--dim", "B=1:3", "--dim", "H=1:6",
            "--dim", "W=1:9", "--examples", "30", "--repro-dir", str(tmp_path / "r")]  # fmt: skip
    import sys

    sys.path.insert(0, str(ROOT))
    try:
        assert main(argv) == 1
    finally:
        sys.path.remove(str(ROOT))
    out = capsys.readouterr().out
    assert "shrunk failure: {'channels': 3} on (1x3x1x5)" in out, out
    assert list((tmp_path / "r").glob("ConvTorch-float64-*.npz"))
    assert (tmp_path / ".hypothesis").is_dir()


def test_init_ranges_are_drawn(capsys):
    argv = ["check", "tests.hostile_pairs:ConvTorch", "tests.hostile_pairs:ConvKeras",
            "--input-shape", "2,C,4,5", "--dim", "C=1:4", "--init-range", "channels=1,2,3,4",
            "--dtype", "float64", "--examples", "6"]  # fmt: skip
    # channels must equal C: the configs torch rejects are discarded, the rest pass
    assert main(argv) == 0, capsys.readouterr().err
    assert "hypothesis-drawn" in capsys.readouterr().out


def test_a_variant_torch_rejects_is_not_applicable(capsys):
    argv = ["check", "tests.hostile_pairs:SquareOnlyTorch", "tests.hostile_pairs:ConvKeras",
            "--init", '{"channels": 3}', "--input-shape", "2,3,5,5", "--dtype", "float64"]  # fmt: skip
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "not applicable: ConvTorch" not in out and "not applicable: SquareOnlyTorch" in out
    assert "torch rejects it" in out and "square images only" in out


USER_FUZZ = """
from examples.real_world.keras_ports import NormMlpBlock, NormMlpSquareOnly
from examples.real_world.timm_style import NormMlpBlock as TorchBlock

def test_fuzz(parity):
    parity.fuzz(TorchBlock, {keras}, init={{"channels": 8, "hidden": 16}}, shapes=["B,8,H,W"],
                dims={{"B": (1, 2), "H": (2, 6), "W": (2, 6)}}, dtypes="float32")
"""


@pytest.mark.parametrize(
    ("keras_name", "passes"), [("NormMlpBlock", True), ("NormMlpSquareOnly", False)]
)
def test_fuzzing_from_a_users_pytest_suite(pytester, monkeypatch, keras_name, passes):
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    pytester.makepyfile(test_user=USER_FUZZ.format(keras=keras_name))
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--parity-profile", "dev")
    if passes:
        result.assert_outcomes(passed=1)
    else:
        result.assert_outcomes(failed=1)
        result.stdout.fnmatch_lines(["*shrunk failure*", "*Keras layer fails on it*"])


def test_a_batch_one_only_bug_fails_the_default_check_at_batch_two(capsys):
    argv = ["check", "tests.hostile_pairs:ConvTorch", "tests.hostile_pairs:BatchOneOnlyKeras",
            "--init", '{"channels": 3}', "--dtype", "float64"]  # fmt: skip
    assert main([*argv, "--input-shape", "1,3,5,5", "--no-variants"]) == 0
    assert main([*argv, "--input-shape", "1,3,5,5"]) == 1  # the batch-2 variant
    assert "batch 2" in capsys.readouterr().out
    assert main([*argv, "--input-shape", "2,3,5,5"]) == 1
