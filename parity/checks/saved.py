"""The `saved` check: the port survives `get_config`/`from_config` and a `.keras` save and load of
a functional model embedding it (the class registered serializable), its outputs still equal to
torch's afterwards; and the weights of the reloaded layer go back into a fresh torch module bit
for bit.

A `get_config` that forgets an argument rebuilds the layer with the default: the reloaded outputs
differ (or the weights no longer fit), and the check says which step broke.
"""

from __future__ import annotations

import copy
import tempfile
from pathlib import Path

import numpy as np

from parity.checks import CheckResult
from parity.compare import compare_arrays
from parity.layout import resolve_layouts


def _outputs(value) -> list[np.ndarray]:
    values = list(value) if isinstance(value, list | tuple) else [value]
    return [np.asarray(v) for v in values]


def _against_torch(prepared, outputs, keras_outputs, step: str, details: list[str]) -> float:
    comparison = prepared.comparison
    layouts = resolve_layouts(comparison.output_layout, len(outputs.torch))
    if len(keras_outputs) != len(outputs.torch):
        details.append(f"{step}: {len(keras_outputs)} outputs, torch {len(outputs.torch)}")
        return 0.0
    worst = 0.0
    for index, (expected, actual, lay) in enumerate(
        zip(outputs.torch, keras_outputs, layouts, strict=True)
    ):
        result = compare_arrays(expected, actual, lay, comparison.tolerance, comparison.dtype)
        worst = max(worst, result.max_rel)
        if not result.passed:
            problem = f" ({result.problem})" if result.problem else ""
            details.append(
                f"{step}: output #{index} differs from torch, max rel {result.max_rel:.1e}{problem}"
            )
    return worst


def _model(prepared):
    import keras

    comparison = prepared.comparison
    inputs = [
        keras.Input(shape=x.shape[1:], batch_size=None, dtype=str(x.dtype))
        for x in prepared.keras_inputs
    ]
    extra_inputs, extras = [], {}
    for key, value in prepared.keras_extras.items():
        if hasattr(value, "shape") and hasattr(value, "dtype"):
            tensor = keras.Input(batch_shape=tuple(value.shape), dtype=str(value.dtype.name))
            extra_inputs.append(tensor)
            extras[key] = tensor
        else:
            extras[key] = value
    result = comparison.keras_layer(*inputs, **extras)
    model = keras.Model([*inputs, *extra_inputs], result)
    arrays = [
        keras.ops.convert_to_tensor(v)
        for v in [*prepared.keras_inputs, *prepared.keras_extras.values()]
        if hasattr(v, "shape") and hasattr(v, "dtype")
    ]
    return model, arrays


def _find(model, cls):
    for layer in model.layers:
        if type(layer) is cls:
            return layer
    return None


def check_saved(prepared, outputs) -> CheckResult:
    """See the module docstring. Warnings Keras raises while rebuilding and loading are recorded
    in the result, not raised (a caller's warnings-as-errors filter would fail a good port)."""
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = _check_saved(prepared, outputs)
    messages = sorted({str(w.message).splitlines()[0] for w in caught})
    result.details += [f"warning: {message}" for message in messages if result.details]
    return result


def _check_saved(prepared, outputs) -> CheckResult:
    import keras
    import torch

    from parity.randomize import randomize_torch
    from parity.runner import informative_line
    from parity.weights import transfer_weights

    comparison = prepared.comparison
    layer, module = comparison.keras_layer, comparison.torch_module
    alignment = {"overrides": comparison.overrides, "converters": comparison.converters,
                 "name_map": comparison.name_map}  # fmt: skip
    details: list[str] = []
    worst = 0.0

    # 1. get_config -> from_config, weights transferred again from torch.
    try:
        config = layer.get_config()
        clone = type(layer).from_config(config)
        clone(*prepared.keras_inputs, **prepared.keras_extras)
        transfer_weights(module, clone, **alignment)
        worst = max(
            worst,
            _against_torch(prepared, outputs, _outputs(clone(*prepared.keras_inputs,
                           **prepared.keras_extras, training=False)), "from_config", details),
        )  # fmt: skip
    except Exception as error:
        details.append(f"from_config: {type(error).__name__}: {informative_line(error)}")

    # 2. A functional model around the layer, saved as .keras and loaded back.
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "model.keras"
        try:
            model, arrays = _model(prepared)
            model.save(path)
            loaded = keras.models.load_model(path)
            worst = max(
                worst,
                _against_torch(prepared, outputs, _outputs(loaded(arrays, training=False)),
                               ".keras reload", details),
            )  # fmt: skip
        except Exception as error:
            loaded = None
            details.append(
                f".keras save/load: {type(error).__name__}: {informative_line(error)} (the layer "
                "must be registered with keras.saving.register_keras_serializable and get_config "
                "must hold every constructor argument)"
            )

    # 3. The reloaded layer's weights into a fresh torch module, bit for bit.
    if loaded is not None:
        reloaded = _find(loaded, type(layer))
        if reloaded is None:
            details.append(f"the reloaded model has no {type(layer).__name__} layer")
        else:
            fresh = copy.deepcopy(module)
            randomize_torch(fresh, comparison.seed + 1)
            try:
                transfer_weights(reloaded, fresh, **alignment)
                original = module.state_dict()
                changed = [
                    key
                    for key, value in fresh.state_dict().items()
                    if value.is_floating_point() and not torch.equal(value, original[key])
                ]
                if changed:
                    details.append(
                        f"reloaded weights -> fresh torch module: {len(changed)} tensor(s) not "
                        f"bit-exact, first {changed[0]}"
                    )
            except Exception as error:
                details.append(
                    f"reloaded weights -> torch: {type(error).__name__}: {informative_line(error)}"
                )
    summary = (
        "get_config/from_config, .keras save/load in a functional model, weights back to torch"
    )
    return CheckResult("saved", "mismatch" if details else "pass", worst, summary, details)
