"""The `training` check: both sides in training mode, BatchNorm on batch statistics, for `STEPS`
steps on different batches; every step's outputs compared, then the running statistics.

Random layers cannot match across frameworks: a block declares the constructor arguments that
switch them off for this check (`ModuleSpec.training_config`, e.g. `{"dropout": 0.0}`; a user
constructs the pair with rate 0). A torch module whose two training-mode calls still differ makes
the check inconclusive, naming the random layers.

The running variance is compared exactly, not with a looser tolerance: torch's running_var
follows the *unbiased* batch variance, Keras' moving_variance the biased one. The harness
replays each Keras BatchNormalization update, recovers the batch variance it used
(`(new - m * old) / (1 - m)`), and rebuilds the torch-convention statistic with Bessel's factor
`n / (n - 1)` (n = the values per channel in that batch), which must equal torch's running_var.
"""

from __future__ import annotations

import copy
import functools

import numpy as np

from parity.checks import NOT_APPLICABLE, CheckResult
from parity.compare import compare_arrays
from parity.layout import get_layout, resolve_layouts
from parity.randomize import seeded_array

STEPS = 3


def _fresh_pair(prepared):
    """The pair for training: rebuilt with the spec's training overrides when it can be, weights
    from the compared torch module either way."""
    from parity.weights import transfer_weights

    comparison = prepared.comparison
    if comparison.factory is not None and comparison.training_config:
        torch_module, keras_layer = comparison.factory(dict(comparison.training_config),
                                                       comparison.dtype)  # fmt: skip
        import torch

        torch_module.to(getattr(torch, comparison.dtype))
        torch_module.load_state_dict(comparison.torch_module.state_dict())
        keras_layer(*prepared.keras_inputs, **prepared.keras_extras)
        transfer_weights(torch_module, keras_layer, overrides=comparison.overrides,
                         converters=comparison.converters, name_map=comparison.name_map)  # fmt: skip
        return torch_module, keras_layer
    return comparison.torch_module, comparison.keras_layer


def _batch_norm_pairs(torch_module, keras_layer, comparison):
    """(torch BN module path, torch BN, Keras BatchNormalization) for every aligned BN."""
    import keras
    import torch

    from parity.weights import plan_transfer

    plan = plan_transfer(torch_module, keras_layer, comparison.overrides,
                         converters=comparison.converters, name_map=comparison.name_map)  # fmt: skip
    owners = {}
    for layer in keras_layer._flatten_layers(include_self=True, recursive=True):
        if isinstance(layer, keras.layers.BatchNormalization) and layer.built:
            owners[id(layer.moving_variance)] = layer
    pairs = []
    for planned in plan.tensors:
        if not planned.torch_key.endswith("running_var"):
            continue
        path = planned.torch_key.rsplit(".", 1)[0] if "." in planned.torch_key else ""
        module = torch_module.get_submodule(path)
        layer = owners.get(id(planned.keras_variable))
        if isinstance(module, torch.nn.modules.batchnorm._BatchNorm) and layer is not None:
            pairs.append((path, module, layer))
    return pairs


def _track_keras_variance(pairs):
    """Wrap each Keras BN's call to replay its moving-variance update in torch's convention."""
    import keras

    tracked = {}
    originals = []
    for path, _module, layer in pairs:
        tracked[path] = np.array(layer.moving_variance.numpy(), dtype=np.float64)
        original = layer.call

        def wrapped(inputs, *args, _path=path, _layer=layer, _original=original, **kwargs):
            before = np.array(_layer.moving_variance.numpy(), dtype=np.float64)
            output = _original(inputs, *args, **kwargs)
            after = np.array(_layer.moving_variance.numpy(), dtype=np.float64)
            if not np.array_equal(before, after):
                momentum = float(_layer.momentum)
                shape = keras.ops.shape(inputs)
                count = int(np.prod([int(d) for d in shape])) // int(shape[-1])
                batch_variance = (after - momentum * before) / (1.0 - momentum)
                unbiased = batch_variance * count / max(count - 1, 1)
                tracked[_path] = momentum * tracked[_path] + (1.0 - momentum) * unbiased
            return output

        functools.update_wrapper(wrapped, original)
        originals.append((layer, "call" in vars(layer), vars(layer).get("call")))
        layer.call = wrapped

    def release():
        for layer, had_own, previous in reversed(originals):
            if had_own:
                layer.call = previous
            else:
                layer.__dict__.pop("call", None)

    return tracked, release


def _training_shapes(inputs, torch_extras) -> tuple[list[tuple[int, ...]], bool]:
    """The input shapes of the training steps, and whether the batch was widened to 2.

    A case of batch 1 trains on batches of 2: BatchNorm after a global pooling has one value per
    channel at batch 1, which torch refuses in training mode. Not when keyword inputs (masks)
    are sized to the batch, nor when the inputs disagree on it.
    """
    import torch

    shapes = [tuple(x.shape) for x in inputs]
    floating = [
        s for s, x in zip(shapes, inputs, strict=True) if np.issubdtype(x.dtype, np.floating)
    ]
    sized_extras = any(isinstance(v, torch.Tensor) and v.ndim for v in torch_extras.values())
    if sized_extras or not floating or any(not s or s[0] != 1 for s in shapes):
        return shapes, False
    return [(2, *s[1:]) for s in shapes], True


def check_training(prepared, outputs) -> CheckResult:
    """See the module docstring."""
    import torch

    from parity.runner import _as_list, _stochastic_layers

    comparison = prepared.comparison
    torch_module, keras_layer = _fresh_pair(prepared)
    torch_module.train(True)
    dtype, tolerance = comparison.dtype, comparison.tolerance
    layouts = resolve_layouts(comparison.output_layout, len(outputs.torch))
    plain = get_layout("plain")

    shapes, widened = _training_shapes(comparison.inputs, prepared.torch_extras)

    def batch(step: int) -> list:
        return [
            seeded_array(shape, comparison.seed + 101 * (step + 1) + i, dtype)
            if np.issubdtype(x.dtype, np.floating) else x
            for i, (x, shape) in enumerate(zip(comparison.inputs, shapes, strict=True))
        ]  # fmt: skip

    def torch_tensors(arrays: list) -> list:
        return [torch.from_numpy(np.ascontiguousarray(a)) for a in arrays]

    # Random layers first: two calls on the same input must agree.
    probe = copy.deepcopy(torch_module)
    probe_inputs = torch_tensors(batch(0)) if widened else prepared.torch_inputs
    with torch.no_grad():
        first = [o.numpy().copy() for o in _as_list(probe(*probe_inputs, **prepared.torch_extras))]
        second = [o.numpy().copy() for o in _as_list(probe(*probe_inputs, **prepared.torch_extras))]
    if not all(np.array_equal(a, b, equal_nan=True) for a, b in zip(first, second, strict=True)):
        names = "; ".join(_stochastic_layers(comparison)) or "random numbers drawn in forward"
        how = (
            "the spec's training_config sets their rates to 0"
            if comparison.training_config
            else "construct both sides with their dropout rates at 0"
        )
        return CheckResult(
            "training", "inconclusive",
            summary=f"random layers in training mode cannot match ({names}); {how} and check again",
        )  # fmt: skip

    pairs = _batch_norm_pairs(torch_module, keras_layer, comparison)
    tracked, release = _track_keras_variance(pairs)
    details, worst = [], 0.0
    try:
        for step in range(STEPS):
            arrays = batch(step)
            with torch.no_grad():
                torch_out = _as_list(torch_module(*torch_tensors(arrays), **prepared.torch_extras))
            keras_out = _as_list(keras_layer(
                *[lay.torch_to_keras(a) for lay, a in zip(comparison.input_layouts, arrays, strict=True)],
                **prepared.keras_extras, training=True))  # fmt: skip
            for index, (expected, actual, lay) in enumerate(
                zip(torch_out, keras_out, layouts, strict=True)
            ):
                result = compare_arrays(expected.numpy(), np.asarray(actual), lay, tolerance, dtype)
                worst = max(worst, result.max_rel)
                if not result.passed:
                    details.append(f"step {step + 1} output #{index}: max rel {result.max_rel:.1e}")
    finally:
        release()
    for path, module, layer in pairs:
        label = path or "<root>"
        if module.momentum is None:
            details.append(f"{label}: torch momentum=None (a cumulative average) has no Keras "
                           "equivalent; its statistics are not compared")  # fmt: skip
            continue
        mean = compare_arrays(module.running_mean.numpy(), np.asarray(layer.moving_mean.numpy()),
                              plain, tolerance, dtype)  # fmt: skip
        variance = compare_arrays(
            module.running_var.numpy(), tracked[path], plain, tolerance, dtype
        )
        worst = max(worst, mean.max_rel, variance.max_rel)
        if not mean.passed:
            details.append(f"{label}.running_mean after {STEPS} steps: max rel {mean.max_rel:.1e}"
                           " (check Keras momentum = 1 - torch momentum)")  # fmt: skip
        if not variance.passed:
            details.append(f"{label}.running_var after {STEPS} steps: max rel {variance.max_rel:.1e}"
                           " (torch's unbiased convention replayed from Keras' updates)")  # fmt: skip
    summary = f"{STEPS} training steps on different batches; {len(pairs)} BatchNorm(s) compared"
    if widened:
        summary += " (batches of 2: batch statistics need more than one sample)"
    if not pairs and not details:
        summary += " (no BatchNorm: outputs only)"
    verdict = "mismatch" if [d for d in details if "not compared" not in d] else "pass"
    return CheckResult("training", verdict, worst, summary, details)


__all__ = ["NOT_APPLICABLE", "check_training"]
