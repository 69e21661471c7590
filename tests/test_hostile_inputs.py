"""Hostile inputs across the API and the CLI: each gets the exact exception type (or exit status)
and a message that names what is wrong, never a traceback from deep inside TF or torch."""

from __future__ import annotations

import json
import pickle
import zipfile
from pathlib import Path

import keras
import numpy as np
import pytest
import torch

import parity
from examples.my_block_keras import GatedConvBlock as KerasBlock
from examples.my_block_torch import GatedConvBlock as TorchBlock
from parity.cli import main
from tests import hostile_pairs
from tests.hostile_pairs import (
    DictOutputKeras,
    FlattenKeras,
    MissingLayerKeras,
    PairOutputTorch,
    StringOutputTorch,
    TwoLinearKeras,
    TwoLinearTorch,
)

ROOT = Path(__file__).resolve().parents[1]
RNG = np.random.default_rng(0)
X_IMAGE = RNG.standard_normal((2, 16, 5, 3))
X_PLAIN = RNG.standard_normal((4, 3))


def _block(dtype="float64"):
    return TorchBlock(16, 8), KerasBlock(16, 8, dtype=dtype)


def _plain(keras_class=TwoLinearKeras, torch_class=TwoLinearTorch):
    return torch_class(), keras_class(dtype="float64")


# --- the API: (call, exception type, key words) -------------------------------------------------

API_CASES = {
    "torch side not a module": (
        lambda: parity.compare("model", KerasBlock(16, 8), X_IMAGE),
        ValueError, "Expected a torch.nn.Module as the first argument. Received: str",
    ),
    "keras side not a layer": (
        lambda: parity.compare(TorchBlock(16, 8), object(), X_IMAGE),
        ValueError, "Expected a Keras layer as the second argument. Received: object",
    ),
    "arguments swapped": (
        lambda: parity.compare(KerasBlock(16, 8), TorchBlock(16, 8), X_IMAGE),
        ValueError, "Expected a torch.nn.Module as the first argument",
    ),
    "no inputs": (lambda: parity.compare(*_block()), ValueError, "at least one input"),
    "object array": (
        lambda: parity.compare(*_block(), np.array([object()] * 3)),
        ValueError, "Input #0 must be a numeric array. Received: dtype=object",
    ),
    "string input": (
        lambda: parity.compare(*_block(), "x.npy"), ValueError, "Input #0 must be a numeric array",
    ),
    "complex input": (
        lambda: parity.compare(*_block(), X_IMAGE.astype(complex)),
        ValueError, "Input #0 is complex",
    ),
    "integer input only": (
        lambda: parity.compare(*_block(), np.ones((2, 16, 5, 3), int)),
        ValueError, "at least one floating input",
    ),
    "float16 input": (
        lambda: parity.compare(*_block(), X_IMAGE.astype("float16")),
        ValueError, "Received: dtype='float16'",
    ),
    "mixed float dtypes": (
        lambda: parity.compare(*_plain(), X_PLAIN, X_PLAIN.astype("float32"), layout="plain"),
        ValueError, "different dtypes ['float32', 'float64']",
    ),
    "rank 2 as an image": (
        lambda: parity.compare(*_block(), X_IMAGE[0, 0]),
        parity.LayoutError, "expects a torch-layout array of rank >= 3",
    ),
    "rank 4 as a sequence": (
        lambda: parity.compare(*_block(), X_IMAGE, layout="sequence"),
        parity.LayoutError, "Layout 'sequence' expects a torch-layout array of rank 3",
    ),
    "unknown layout": (
        lambda: parity.compare(*_block(), X_IMAGE, layout="nchw"),
        parity.LayoutError, "Unknown layout 'nchw'",
    ),
    "layout count": (
        lambda: parity.compare(*_block(), X_IMAGE, layout=["image", "image"]),
        parity.LayoutError, "one layout per array (1)",
    ),
    "per-input layouts without output layout": (
        lambda: parity.compare(*_block(), X_IMAGE, layout=["image"]),
        parity.LayoutError, "also declare `output_layout`",
    ),
    "layer dtype differs from input dtype": (
        lambda: parity.compare(*_block("float32"), X_IMAGE),
        ValueError, "Build the layer with dtype='float64'",
    ),
    "wrong channel count": (
        lambda: parity.compare(*_block(), X_IMAGE[:, :5]),
        parity.ModuleCallError, "The torch GatedConvBlock raised RuntimeError on inputs of shape (2, 5, 5, 3)",
    ),
    "NHWC given as NCHW": (
        lambda: parity.compare(*_block(), np.moveaxis(X_IMAGE, 1, -1)),
        parity.ModuleCallError, "the input looks channels-last (NHWC)",
    ),
    "rtol without atol": (
        lambda: parity.compare(*_block(), X_IMAGE, rtol=1e-3),
        ValueError, "`rtol` and `atol` to be given together",
    ),
    "negative tolerance": (
        lambda: parity.compare(*_block(), X_IMAGE, rtol=-1.0, atol=1e-3),
        ValueError, "Received: rtol=-1.0",
    ),
    "NaN tolerance": (
        lambda: parity.compare(*_block(), X_IMAGE, rtol=1e-3, atol=float("nan")),
        ValueError, "Received: atol=nan",
    ),
    "call_kwargs not a mapping": (
        lambda: parity.compare(*_block(), X_IMAGE, call_kwargs=[1, 2]),
        ValueError, "Expected `call_kwargs` to be a mapping",
    ),
    "transfer into an unbuilt layer": (
        lambda: parity.transfer_weights(TorchBlock(16, 8), KerasBlock(16, 8)),
        parity.WeightTransferError, "is not built",
    ),
    "transfer between two torch modules": (
        lambda: parity.transfer_weights(TorchBlock(16, 8), TorchBlock(16, 8)),
        parity.WeightTransferError, "Expected a Keras layer opposite the torch module",
    ),
    "transfer between two Keras layers": (
        lambda: parity.transfer_weights(KerasBlock(16, 8), KerasBlock(16, 8)),
        parity.WeightTransferError, "Expected one torch.nn.Module and one built Keras layer",
    ),
    "misaligned names and a missing bias": (
        lambda: parity.compare(*_plain(MissingLayerKeras), X_PLAIN, layout="plain"),
        parity.WeightTransferError, '"fc1.weight" (3, 3): no Keras sub-layer at `fc1`',
    ),
    "Keras returns a dict": (
        lambda: parity.compare(*_plain(DictOutputKeras), X_PLAIN, layout="plain"),
        parity.ModuleCallError, "The Keras layer returned a dict, not a tensor",
    ),
    "torch returns a string": (
        lambda: parity.compare(*_plain(torch_class=StringOutputTorch), X_PLAIN, layout="plain"),
        parity.ModuleCallError, "The torch module returned a str, not a tensor",
    ),
    "assert_parity on a mismatch": (
        lambda: parity.assert_parity(*_plain(FlattenKeras), X_PLAIN, layout="plain"),
        parity.ParityError, "shape mismatch: torch (4, 3) vs Keras (12,)",
    ),
}  # fmt: skip


@pytest.mark.parametrize(("call", "error", "words"), API_CASES.values(), ids=API_CASES.keys())
def test_api_rejects_bad_input_clearly(call, error, words):
    with pytest.raises(error) as caught:
        call()
    assert type(caught.value) is error, f"{type(caught.value).__name__}: {caught.value}"
    assert words in str(caught.value), str(caught.value)


RESULT_CASES = {
    "output count differs": (
        lambda: parity.compare(*_plain(torch_class=PairOutputTorch), X_PLAIN, layout="plain"),
        "mismatch", "output count differs: torch returned 2, Keras 1",
    ),
    "output shape differs": (
        lambda: parity.compare(*_plain(FlattenKeras), X_PLAIN, layout="plain"),
        "mismatch", "shape mismatch",
    ),
    "all-NaN input": (
        lambda: parity.compare(*_plain(), np.full((4, 3), np.nan), layout="plain"),
        "inconclusive", "inputs with NaN/inf values: #0 (12 elements)",
    ),
    "Inf input": (
        lambda: parity.compare(*_plain(), np.full((4, 3), np.inf), layout="plain"),
        "inconclusive", "no finite element pair",
    ),
    "empty batch": (
        lambda: parity.compare(*_plain(), np.zeros((0, 3)), layout="plain"),
        "inconclusive", "no elements to compare",
    ),
}  # fmt: skip


@pytest.mark.parametrize(
    ("call", "verdict", "words"), RESULT_CASES.values(), ids=RESULT_CASES.keys()
)
def test_api_never_passes_what_it_could_not_check(call, verdict, words):
    result = call()
    assert result.verdict == verdict and not result.passed
    assert words in result.message, result.message


# --- the CLI: exit 2 and one line from parity, never a traceback --------------------------------

TORCH, KERAS = "examples.my_block_torch:GatedConvBlock", "examples.my_block_keras:GatedConvBlock"
INIT = ["--init", '{"channels": 4, "hidden": 2}']
PLAIN = "tests.hostile_pairs:TwoLinearTorch", "tests.hostile_pairs:TwoLinearKeras"


def _file(tmp_path: Path, kind: str) -> Path:
    path = tmp_path / f"{kind}.bin"
    if kind == "directory":
        path.mkdir()
    elif kind == "nested":
        torch.save({"model": TorchBlock(4, 2).state_dict(), "epoch": 3}, path)
    elif kind == "pickle":
        with open(path, "wb") as handle:
            pickle.dump({"conv.weight": object.__new__(zipfile.ZipInfo)}, handle)
    elif kind == "truncated-checkpoint":
        torch.save(TorchBlock(4, 2).state_dict(), path)
        path.write_bytes(path.read_bytes()[:100])
    elif kind == "nan-checkpoint":
        torch.save(hostile_pairs.nan_state(), path)
    return path


def _repro(tmp_path: Path, kind: str) -> Path:
    path = tmp_path / f"{kind}.npz"
    meta = {
        "format": 2, "name": "GatedConvBlock", "torch_class": TORCH, "keras_class": KERAS,
        "init": {"channels": 4, "hidden": 2}, "layout": "image", "output_layout": "image",
        "dtype": "float64", "seed": 0, "rtol": 1e-10, "atol": 1e-10,
    }  # fmt: skip
    arrays = {"input/0": np.zeros((1, 4, 3, 3))}
    if kind == "no-meta":
        np.savez(path, **arrays)
    elif kind == "meta-not-json":
        np.savez(path, meta=np.array("{not json"), **arrays)
    elif kind == "meta-incomplete":
        np.savez(path, meta=np.array(json.dumps({"torch_class": TORCH})), **arrays)
    elif kind == "no-inputs":
        np.savez(path, meta=np.array(json.dumps(meta)))
    elif kind == "misfit-state":
        np.savez(path, meta=np.array(json.dumps(meta)), **arrays, **{"torch/bogus": np.zeros(2)})
    elif kind == "random-bytes":
        path.write_bytes(RNG.bytes(4096))
    elif kind == "truncated":
        np.savez(path, meta=np.array(json.dumps(meta)), **arrays)
        path.write_bytes(path.read_bytes()[:200])
    elif kind == "directory":
        path.mkdir()
    return path


CLI_CASES = {
    "unknown block": (["check", "NoSuchBlock", "--input-shape", "1,2,3,4"], "unknown block 'NoSuchBlock'"),
    "init not JSON": (["check", TORCH, KERAS, "--init", "{x", "--input-shape", "1,4,3,3"], "--init is not valid JSON"),
    "init not an object": (["check", TORCH, KERAS, "--init", "[1]", "--input-shape", "1,4,3,3"], "--init must be a JSON object"),
    "huge input shape": (["check", TORCH, KERAS, *INIT, "--input-shape", "100000,4,10000,10000"], "GiB per copy"),
    "bad extra": (["check", TORCH, KERAS, *INIT, "--input-shape", "1,4,3,3", "--extra", "mask"], "--extra expects NAME=mask|float:SHAPE"),
    "bad extra name": (["check", TORCH, KERAS, *INIT, "--input-shape", "1,4,3,3", "--extra", "1x=mask:2"], "--extra NAME must be a keyword argument name"),
    "constructor KeyError": (["check", "tests.hostile_pairs:KeyErrorTorch", PLAIN[1], "--input-shape", "2,3", "--layout", "plain"], "KeyErrorTorch(**{}) rejected: KeyError: 'small'"),
    "missing module": (["check", "nosuch.module:Block", KERAS, "--input-shape", "1,4,3,3"], "Cannot import module 'nosuch.module'"),
    "not a torch module": (["check", "collections:OrderedDict", KERAS, "--input-shape", "1,4,3,3"], "is not a torch.nn.modules.module.Module subclass"),
    "not a Keras layer": (["check", TORCH, "collections:OrderedDict", "--input-shape", "1,4,3,3"], "is not a keras.src.layers.layer.Layer subclass"),
    "torch-side IndexError": (["check", "tests.hostile_pairs:CrashTorch", "tests.hostile_pairs:CrashKeras", "--input-shape", "2,3", "--layout", "plain", "--repro-dir", "{tmp}/r"], "raised IndexError on inputs of shape (2, 3): boom at index 7"),
    "wrong channels": (["check", TORCH, KERAS, *INIT, "--input-shape", "2,5,3,3"], "GatedConvBlock rejected the input (shapes 2,5,3,3, float32)"),
    "NHWC given as NCHW": (["check", TORCH, KERAS, *INIT, "--input-shape", "2,7,5,4"], "looks channels-last (NHWC)"),
    "layout count": (["check", TORCH, KERAS, *INIT, "--input-shape", "2,4,3,3", "--layout", "image,image"], "one layout per array (1)"),
    "weights: a directory": (["check", TORCH, KERAS, *INIT, "--input-shape", "2,4,3,3", "--torch-weights", "{directory}"], "is a directory"),
    "weights: nested checkpoint": (["check", TORCH, KERAS, *INIT, "--input-shape", "2,4,3,3", "--torch-weights", "{nested}"], "nested entries ['model']"),
    "weights: arbitrary pickle": (["check", TORCH, KERAS, *INIT, "--input-shape", "2,4,3,3", "--torch-weights", "{pickle}"], "weights_only=True"),
    "weights: truncated file": (["check", TORCH, KERAS, *INIT, "--input-shape", "2,4,3,3", "--torch-weights", "{truncated-checkpoint}"], "Cannot load"),
    "weights: NaN everywhere": (["check", *PLAIN, "--input-shape", "2,3", "--layout", "plain", "--torch-weights", "{nan-checkpoint}"], "nothing was decided"),
    "replay: no meta": (["replay", "{no-meta}"], "not a parity repro file (no `meta`)"),
    "replay: meta not JSON": (["replay", "{meta-not-json}"], "JSONDecodeError"),
    "replay: incomplete meta": (["replay", "{meta-incomplete}"], "incomplete metadata: keras_class (missing)"),
    "replay: no inputs": (["replay", "{no-inputs}"], "incomplete: no inputs"),
    "replay: state does not fit": (["replay", "{misfit-state}", "--allow-import", "examples"], "Checkpoint does not fit GatedConvBlock"),
    "replay: random bytes": (["replay", "{random-bytes}"], "truncated or corrupt"),
    "replay: truncated": (["replay", "{truncated}"], "truncated or corrupt"),
    "replay: a directory": (["replay", "{directory}"], "it is a directory"),
    "replay: missing file": (["replay", "{tmp}/absent.npz"], "no such file"),
    "report of no cases": (["report", "--block", "SEAttention", "--examples", "0", "--no-smoke"], "runs no case"),
    "report: negative examples": (["report", "--examples", "-1"], "--examples must be >= 0"),
    "bench: zero repeats": (["bench", "--repeats", "0"], "--repeats must be >= 1"),
}  # fmt: skip
_FILES = {"directory", "nested", "pickle", "truncated-checkpoint", "nan-checkpoint"}
_REPROS = {"no-meta", "meta-not-json", "meta-incomplete", "no-inputs", "misfit-state",
           "random-bytes", "truncated"}  # fmt: skip


@pytest.mark.parametrize(("argv", "words"), CLI_CASES.values(), ids=CLI_CASES.keys())
def test_cli_rejects_bad_input_with_exit_2_and_one_line(argv, words, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(ROOT)
    names = {"tmp": str(tmp_path)}
    for argument in argv:
        kind = argument[1:-1] if argument.startswith("{") and argument.endswith("}") else ""
        if kind in _FILES:
            names[kind] = str(_file(tmp_path, kind))
        elif kind in _REPROS or kind == "directory":
            names[kind] = str(_repro(tmp_path, kind))
    for key, value in names.items():
        argv = [a.replace("{" + key + "}", value) for a in argv]
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err + captured.out
    assert words in captured.err, captured.err
    if "nothing was decided" not in words:
        assert len(captured.err.strip().splitlines()) == 1, captured.err


def test_cli_bad_shape_and_dtype_are_argparse_errors(capsys):
    for argv in (["check", "SEAttention", "--input-shape", "0,4"],
                 ["check", "SEAttention", "--input-shape", "1,4", "--dtype", "float16"]):  # fmt: skip
        with pytest.raises(SystemExit) as caught:
            main(argv)
        assert caught.value.code == 2
    err = capsys.readouterr().err
    assert "expected positive sizes" in err and "float32,float64" in err


def test_cli_transfer_problems_list_every_key_with_its_fix(capsys, monkeypatch):
    monkeypatch.chdir(ROOT)
    argv = ["check", PLAIN[0], "tests.hostile_pairs:MissingLayerKeras", "--input-shape", "2,3",
            "--layout", "plain", "--dtype", "float64"]  # fmt: skip
    assert main(argv) == 2
    err = capsys.readouterr().err
    for words in ('"fc1.weight" (3, 3)', '"fc1.bias" (3,)', '"fc2.bias" (3,)', "`first.kernel`",
                  "use_bias=True", "Fix: name each Keras sub-layer"):  # fmt: skip
        assert words in err, err
    assert "Traceback" not in err


def test_cli_unwritable_out_still_prints_the_report(tmp_path, capsys):
    argv = ["check", "SEAttention", "--init", '{"channel": 4, "reduction": 2}',
            "--input-shape", "2,4,3,3", "--out", str(tmp_path / "no" / "dir" / "r.json"),
            "--format", "json"]  # fmt: skip
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert "SEAttention" in captured.out and "cannot write --out" in captured.err


def test_keras_errors_keep_the_informative_line():
    """Keras wraps op errors in 'Exception encountered when calling ...': the op's own line is
    the one that says what is wrong."""
    from parity.runner import informative_line

    class Adds(keras.layers.Layer):
        def call(self, x):
            return x + keras.ops.ones((2, 5, 3, 4), dtype=x.dtype)

    with pytest.raises(Exception) as caught:
        Adds()(np.zeros((2, 5, 3, 3), "float32"))
    assert informative_line(caught.value).startswith("Incompatible shapes: [2,5,3,3] vs. [2,5,3,4]")


def test_module_call_error_is_public():
    assert parity.ModuleCallError.__module__ == "parity.errors"
    assert issubclass(parity.ModuleCallError, ValueError) and "ModuleCallError" in parity.__all__
