"""Self-contained repro files: everything needed to replay one comparison, in one `.npz`.

Layout of the archive (loaded with `allow_pickle=False`, so opening one never runs code):
    meta                  JSON: classes, init config, layouts, dtype, seed, tolerance, versions
    input/<i>             positional inputs, torch layout
    extra/<name>          keyword inputs (masks, attention weights)
    torch/<state key>     the torch state_dict actually compared (after randomisation)
    keras/<path>          the Keras weights actually compared, by attribute path
"""

from __future__ import annotations

import importlib
import json
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

FORMAT_VERSION = 1


def class_path(cls: type) -> str:
    """`package.module:QualName`, the form `import_class` reads back."""
    return f"{cls.__module__}:{cls.__qualname__}"


def import_class(path: str) -> type:
    """Import `package.module:Class`; raise `ValueError` with a clear message if it fails."""
    module_name, sep, attribute = path.partition(":")
    if not sep or not module_name or not attribute:
        raise ValueError(
            f"Expected an import path of the form package.module:Class. Received: {path!r}"
        )
    # Like `python -m`, resolve the user's own modules from the working directory.
    if os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise ValueError(f"Cannot import module {module_name!r} (from {path!r}): {error}") from None
    target: Any = module
    for part in attribute.split("."):
        if not hasattr(target, part):
            raise ValueError(
                f"Module {module_name!r} has no attribute {attribute!r} (from {path!r})"
            )
        target = getattr(target, part)
    if not isinstance(target, type):
        raise ValueError(f"{path!r} is not a class. Received: {type(target).__name__}")
    return target


@dataclass
class Repro:
    """The content of a repro file."""

    meta: dict
    inputs: list[np.ndarray]
    extras: dict[str, np.ndarray]
    torch_state: dict[str, np.ndarray]
    keras_weights: dict[str, np.ndarray]


def _versions() -> dict[str, str]:
    from parity.environment import fingerprint

    return fingerprint()


def write_repro(
    path: str | Path,
    *,
    torch_module,
    keras_layer,
    init: Mapping[str, Any],
    inputs: Sequence[np.ndarray],
    extras: Mapping[str, np.ndarray],
    layout: Any,
    output_layout: Any,
    dtype: str,
    seed: int,
    rtol: float,
    atol: float,
    name: str,
    message: str = "",
) -> Path:
    """Write the repro `.npz` for a comparison that just ran (weights as they were compared)."""
    from parity.weights import keras_attribute_paths

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    layouts = layout if isinstance(layout, str) else [getattr(x, "name", x) for x in layout]
    out_layouts = (
        output_layout
        if isinstance(output_layout, str)
        else [getattr(x, "name", x) for x in output_layout]
    )
    meta = {
        "format": FORMAT_VERSION,
        "name": name,
        "torch_class": class_path(type(torch_module)),
        "keras_class": class_path(type(keras_layer)),
        "init": dict(init),
        "layout": layouts,
        "output_layout": out_layouts,
        "dtype": dtype,
        "seed": seed,
        "rtol": rtol,
        "atol": atol,
        "message": message,
        "environment": _versions(),
    }
    arrays: dict[str, np.ndarray] = {"meta": np.array(json.dumps(meta))}
    for index, array in enumerate(inputs):
        arrays[f"input/{index}"] = np.asarray(array)
    for key, array in extras.items():
        arrays[f"extra/{key}"] = np.asarray(array)
    for key, tensor in torch_module.state_dict().items():
        arrays[f"torch/{key}"] = tensor.detach().cpu().numpy()
    paths = keras_attribute_paths(keras_layer)
    for variable in keras_layer.weights:
        arrays[f"keras/{paths.get(id(variable), variable.path)}"] = np.asarray(variable.numpy())
    np.savez_compressed(path, **arrays)
    return path


def load_repro(path: str | Path) -> Repro:
    """Read a repro file without unpickling anything."""
    try:
        archive = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as error:
        raise ValueError(f"Cannot read repro file {str(path)!r}: {error}") from None
    with archive:
        if "meta" not in archive.files:
            raise ValueError(f"{str(path)!r} is not a parity repro file (no `meta` entry)")
        meta = json.loads(str(archive["meta"]))
        inputs = [
            archive[f"input/{i}"] for i in range(sum(k.startswith("input/") for k in archive.files))
        ]
        extras = {k[6:]: archive[k] for k in archive.files if k.startswith("extra/")}
        torch_state = {k[6:]: archive[k] for k in archive.files if k.startswith("torch/")}
        keras_weights = {k[6:]: archive[k] for k in archive.files if k.startswith("keras/")}
    return Repro(meta, inputs, extras, torch_state, keras_weights)


def replay(path: str | Path):
    """Rebuild both modules from a repro file, load the recorded torch weights, compare again."""
    import torch

    from parity.runner import run_pair
    from parity.tolerance import Tolerance

    repro = load_repro(path)
    meta = repro.meta
    torch_class = import_class(meta["torch_class"])
    keras_class = import_class(meta["keras_class"])
    torch_module = torch_class(**meta["init"]).to(getattr(torch, meta["dtype"]))
    state = {k: torch.from_numpy(np.array(v)) for k, v in repro.torch_state.items()}
    torch_module.load_state_dict(state, strict=True)
    keras_layer = keras_class(**meta["init"], dtype=meta["dtype"])
    return run_pair(
        torch_module,
        keras_layer,
        repro.inputs,
        layout=meta["layout"],
        output_layout=meta["output_layout"],
        call_kwargs=repro.extras,
        dtype=meta["dtype"],
        randomize=False,
        seed=meta["seed"],
        tolerance=Tolerance(rtol=meta["rtol"], atol=meta["atol"]),
        context={"name": meta["name"], "reproduce": f"parity replay {path}"},
    )
