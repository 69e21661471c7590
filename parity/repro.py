"""Self-contained repro files: everything needed to replay one comparison, in one `.npz`.

Layout of the archive (loaded with `allow_pickle=False`, so opening one never runs code):
    meta                  JSON: classes, init config, layouts, dtype, seed, tolerance, versions,
                          and keyword inputs that are constants (`values`, e.g. spatial_size)
    input/<i>             positional inputs, torch layout
    extra/<name>          keyword inputs that are arrays (masks, attention weights)
    torch/<state key>     the torch state_dict actually compared (after randomisation)
    keras/<path>          the Keras weights actually compared, by attribute path

File names are content-addressed (`<name>-<dtype>-seed<seed>-<digest>.npz`, the digest a SHA-256
of the case and its arrays): the same case gets the same name in every process, different cases
never share one.

Replaying constructs the two classes the file names. A file is data from anywhere, so `replay`
imports only from our own packages and from the modules the caller allows, and constructs only
torch modules and Keras layers.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import os
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

FORMAT_VERSION = 2
# Our own packages: a repro file of a registered block replays without --allow-import.
TRUSTED_PACKAGES = ("reference_torch", "tf_attention")
_REQUIRED_META = {
    "torch_class": str,
    "keras_class": str,
    "init": dict,
    "dtype": str,
    "seed": int,
    "rtol": (int, float),
    "atol": (int, float),
    "name": str,
}


def class_path(cls: type) -> str:
    """`package.module:QualName`, the form `import_class` reads back."""
    return f"{cls.__module__}:{cls.__qualname__}"


def _within(module_name: str, prefixes: Iterable[str]) -> bool:
    return any(module_name == p or module_name.startswith(p + ".") for p in prefixes)


def import_class(
    path: str, *, allowed: Sequence[str] | None = None, base: type | None = None
) -> type:
    """Import `package.module:Class`; raise `ValueError` with a clear message if it fails.

    With `allowed`, only modules inside those packages/modules are imported (importing a module
    runs its code); with `base`, the class must subclass it.
    """
    if not isinstance(path, str):
        raise ValueError(f"Expected an import path string. Received: {path!r}")
    module_name, sep, attribute = path.partition(":")
    if not sep or not module_name or not attribute:
        raise ValueError(
            f"Expected an import path of the form package.module:Class. Received: {path!r}"
        )
    if allowed is not None and not _within(module_name, allowed):
        raise ValueError(
            f"Refusing to import {module_name!r} (named by {path!r}): replay imports only "
            f"{', '.join(allowed)}. If you trust this file and that module, pass "
            f"--allow-import {module_name}"
        )
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
    if base is not None and not issubclass(target, base):
        raise ValueError(
            f"{path!r} is not a {base.__module__}.{base.__qualname__} subclass; the harness "
            f"constructs only torch modules and Keras layers. Received: {target.__mro__[1:3]}"
        )
    return target


def _import_object(path: str, allowed: Sequence[str] | None):
    module_name, sep, attribute = path.partition(":")
    if not sep or not module_name or not attribute:
        raise ValueError(f"Expected {{'import': 'package.module:Name'}}. Received: {path!r}")
    if allowed is not None and not _within(module_name, allowed):
        raise ValueError(
            f"Refusing to import {module_name!r} (a constructor argument names {path!r}); pass "
            f"--allow-import {module_name} if you trust it"
        )
    try:
        target: Any = importlib.import_module(module_name)
        for part in attribute.split("."):
            target = getattr(target, part)
    except (ImportError, AttributeError) as error:
        raise ValueError(f"Cannot import {path!r}: {error}") from None
    return target


# Constructor arguments may name framework classes (`norm_layer=nn.LayerNorm`): these modules are
# trusted for that, besides our own packages.
FRAMEWORK_MODULES = ("torch.nn", "keras.layers", "keras.activations", "keras.ops")


def resolve_imports(config: Mapping[str, Any], allowed: Sequence[str] | None = None) -> dict:
    """Replace every `{"import": "package.module:Name"}` value of a JSON config by the object it
    names (a torch-only argument such as `norm_layer`); with `allowed`, only from those modules."""
    resolved = {}
    for key, value in config.items():
        if isinstance(value, Mapping) and set(value) == {"import"}:
            resolved[key] = _import_object(str(value["import"]), allowed)
        else:
            resolved[key] = value
    return resolved


def jsonable_config(config: Mapping[str, Any]) -> dict:
    """`config` with classes and functions written as `{"import": "module:Name"}`."""
    out = {}
    for key, value in config.items():
        if isinstance(value, type) or callable(value):
            out[key] = {"import": f"{value.__module__}:{value.__qualname__}"}
        else:
            out[key] = value
    return out


@dataclass
class Repro:
    """The content of a repro file."""

    meta: dict
    inputs: list[np.ndarray]
    extras: dict[str, np.ndarray]
    torch_state: dict[str, np.ndarray]
    keras_weights: dict[str, np.ndarray]


def _layout_names(layout: Any) -> Any:
    if isinstance(layout, str):
        return layout
    if hasattr(layout, "name"):
        return layout.name
    return [getattr(item, "name", item) for item in layout]


def _digest(meta: Mapping[str, Any], arrays: Mapping[str, np.ndarray]) -> str:
    digest = hashlib.sha256(json.dumps(meta, sort_keys=True, default=str).encode())
    for key in sorted(arrays):
        array = np.ascontiguousarray(arrays[key])
        digest.update(f"{key}:{array.dtype}:{array.shape}".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()[:12]


def _safe_name(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name) or "pair"


def write_repro(
    directory: str | os.PathLike,
    *,
    torch_module,
    keras_layer,
    init: Mapping[str, Any],
    inputs: Sequence[np.ndarray],
    extras: Mapping[str, Any],
    layout: Any,
    output_layout: Any,
    dtype: str,
    seed: int,
    tolerance,
    name: str,
    training: bool = False,
    keras_init: Mapping[str, Any] | None = None,
    message: str = "",
) -> Path:
    """Write the repro `.npz` of a comparison into `directory` (weights as they were compared).

    Raises `OSError` when the directory cannot be created or written.
    """
    from parity.weights import keras_attribute_paths

    case = {
        "format": FORMAT_VERSION,
        "name": name,
        "torch_class": class_path(type(torch_module)),
        "keras_class": class_path(type(keras_layer)),
        "init": jsonable_config(init),
        "layout": _layout_names(layout),
        "output_layout": _layout_names(output_layout),
        "dtype": dtype,
        "seed": int(seed),
        "rtol": float(tolerance.rtol),
        "atol": float(tolerance.atol),
        "training": bool(training),
    }
    if keras_init is not None:
        case["keras_init"] = jsonable_config(keras_init)
    arrays: dict[str, np.ndarray] = {}
    for index, array in enumerate(inputs):
        arrays[f"input/{index}"] = np.asarray(array)
    values = {}
    for key, array in extras.items():
        if isinstance(array, np.ndarray):
            arrays[f"extra/{key}"] = array
        else:
            values[key] = array  # a constant keyword input (a tuple, a number): JSON in meta
    if values:
        case["values"] = values
    for key, tensor in torch_module.state_dict().items():
        arrays[f"torch/{key}"] = tensor.detach().cpu().numpy()
    paths = keras_attribute_paths(keras_layer)
    for variable in keras_layer.weights:
        arrays[f"keras/{paths.get(id(variable), variable.path)}"] = np.asarray(variable.numpy())
    file_name = f"{_safe_name(name)}-{dtype}-seed{seed}-{_digest(case, arrays)}.npz"
    meta = {**case, "message": message, "environment": _environment()}

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / file_name
    # Write to a temporary file and rename: a crash never leaves a truncated repro behind.
    handle, temporary = tempfile.mkstemp(dir=directory, suffix=".npz.tmp")
    try:
        with os.fdopen(handle, "wb") as stream:
            np.savez_compressed(stream, meta=np.array(json.dumps(meta)), **arrays)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path


def _environment() -> dict[str, str]:
    from parity.environment import fingerprint

    return fingerprint()


def load_repro(path: str | os.PathLike) -> Repro:
    """Read a repro file without unpickling anything; `ValueError` on anything malformed."""
    where = str(path)
    if Path(where).is_dir():
        raise ValueError(f"Cannot read repro file {where!r}: it is a directory")
    try:
        with open(where, "rb") as stream, np.load(stream, allow_pickle=False) as archive:
            entries = {key: archive[key] for key in archive.files}
        meta = json.loads(str(entries["meta"])) if "meta" in entries else None
    except FileNotFoundError:
        raise ValueError(f"Cannot read repro file {where!r}: no such file") from None
    except Exception as error:  # zip, zlib, EOF, JSON and OS errors of a truncated/corrupt file
        raise ValueError(
            f"Cannot read repro file {where!r}: {type(error).__name__}: {error} (truncated or "
            "corrupt; rerun the check to write it again)"
        ) from None
    if meta is None:
        raise ValueError(f"Cannot read repro file {where!r}: not a parity repro file (no `meta`)")
    count = sum(key.startswith("input/") for key in entries)
    missing = [f"input/{i}" for i in range(count) if f"input/{i}" not in entries]
    if missing or count == 0:
        raise ValueError(
            f"Cannot read repro file {where!r}: incomplete: "
            + (f"missing {missing}" if missing else "no inputs")
        )
    inputs = [entries[f"input/{i}"] for i in range(count)]
    extras = {k[6:]: v for k, v in entries.items() if k.startswith("extra/")}
    torch_state = {k[6:]: v for k, v in entries.items() if k.startswith("torch/")}
    keras_weights = {k[6:]: v for k, v in entries.items() if k.startswith("keras/")}
    if not isinstance(meta, dict):
        raise ValueError(f"Cannot read repro file {where!r}: `meta` is not a JSON object")
    problems = [
        f"{key} ({'missing' if key not in meta else f'not {kind}'})"
        for key, kind in _REQUIRED_META.items()
        if not isinstance(meta.get(key), kind)
    ]
    if problems:
        raise ValueError(
            f"Cannot read repro file {where!r}: incomplete metadata: {', '.join(problems)}"
        )
    return Repro(meta, inputs, extras, torch_state, keras_weights)


def _constants(values: Any) -> dict[str, Any]:
    """The constant keyword inputs recorded in `meta["values"]`, JSON arrays back to tuples."""
    if not isinstance(values, dict):
        raise ValueError("Cannot replay: `values` in the repro metadata is not a JSON object")

    def tuples(value):
        return tuple(tuples(item) for item in value) if isinstance(value, list) else value

    return {str(key): tuples(value) for key, value in values.items()}


def _extra_argument(name: str, extra) -> str:
    """`--extra NAME=KIND:SHAPE`, or `--extra 'NAME=value:JSON'` for a constant."""
    if extra.kind == "value":
        return f" --extra '{name}=value:{json.dumps(extra.value)}'"
    return f" --extra {name}={extra.kind}:{','.join(map(str, extra.shape))}"


def reproduce_command(block: str, case, seed: int, dtype: str) -> str:
    """The one-line command that replays a registered `block`'s `case` without hypothesis."""
    shapes = " ".join(f"--input-shape {','.join(map(str, s))}" for s in case.input_shapes)
    extras = "".join(_extra_argument(name, extra) for name, extra in case.extra_inputs.items())
    shared = " --shared-input" if case.shared_input else ""
    layout = f" --layout {case.layout}" if case.layout else ""
    scale = f" --input-scale {case.input_scale:g}" if case.input_scale != 1.0 else ""
    config = json.dumps(dict(case.config), sort_keys=True)
    return (
        f"parity check {block} --init '{config}' {shapes}{extras}{shared}{layout}{scale} "
        f"--seed {seed} --dtype {dtype} --no-variants"
    )


def replay_command(path: str | os.PathLike, torch_module, keras_layer) -> str:
    """`parity replay FILE`, with `--allow-import` for each module outside our own packages."""
    modules = []
    for obj in (torch_module, keras_layer):
        module = type(obj).__module__
        if not _within(module, TRUSTED_PACKAGES) and module not in modules:
            modules.append(module)
    return " ".join(["parity replay", str(path), *(f"--allow-import {m}" for m in modules)])


def replay(path: str | os.PathLike, *, allow_imports: Sequence[str] = ()):
    """Rebuild both modules from a repro file, load the recorded torch weights, compare again.

    Imports only from our own packages and `allow_imports` (module or package names), and
    constructs only torch modules and Keras layers.
    """
    import keras
    import torch

    from parity.checkpoint import load_into
    from parity.runner import dtype_policy, run_pair
    from parity.tolerance import Tolerance

    repro = load_repro(path)
    meta = repro.meta
    allowed = (*TRUSTED_PACKAGES, *allow_imports)
    torch_class = import_class(meta["torch_class"], allowed=allowed, base=torch.nn.Module)
    keras_class = import_class(meta["keras_class"], allowed=allowed, base=keras.layers.Layer)
    dtype = meta["dtype"]
    if dtype not in ("float32", "float64"):
        raise ValueError(f"Cannot replay {str(path)!r}: unsupported dtype {dtype!r}")
    trusted = (*allowed, *FRAMEWORK_MODULES)
    torch_init = resolve_imports(meta["init"], trusted)
    keras_init = resolve_imports(meta.get("keras_init", meta["init"]), trusted)
    try:
        torch_module = torch_class(**torch_init).to(getattr(torch, dtype))
        with dtype_policy(dtype):
            keras_layer = keras_class(**keras_init, dtype=dtype)
    except Exception as error:
        raise ValueError(
            f"Cannot rebuild the pair of {str(path)!r}: {type(error).__name__}: {error}"
        ) from None
    state = {k: torch.from_numpy(np.array(v)) for k, v in repro.torch_state.items()}
    load_into(torch_module, state)
    return run_pair(
        torch_module,
        keras_layer,
        repro.inputs,
        layout=meta.get("layout", "image"),
        output_layout=meta.get("output_layout"),
        call_kwargs={**repro.extras, **_constants(meta.get("values", {}))},
        dtype=dtype,
        randomize=False,
        seed=meta["seed"],
        training=bool(meta.get("training", False)),
        tolerance=Tolerance(rtol=float(meta["rtol"]), atol=float(meta["atol"])),
        name=meta["name"],
        reproduce=f"parity replay {path}",
    )
