"""The `gradients` check: the same random output cotangent on both sides, then the gradient with
respect to every input (through the layout conversion) and every trainable parameter (mapped back
through the weight transfer to its torch name), judged by the dtype's tolerance.

On a mismatch, the gradient reaching each name-aligned sub-layer's output is compared too, in
backward order: the first sub-layer whose output gradient differs has a wrong backward just
downstream of it (a misplaced `stop_gradient`, a detached branch).
"""

from __future__ import annotations

import numpy as np

from parity.checks import CheckResult
from parity.compare import compare_arrays
from parity.layout import get_layout, resolve_layouts
from parity.randomize import seeded_array

_PLAIN = get_layout("plain")


def _cotangents(prepared, outputs) -> tuple[list[np.ndarray], list[np.ndarray]]:
    comparison = prepared.comparison
    layouts = resolve_layouts(comparison.output_layout, len(outputs.torch))
    torch_side = [
        seeded_array(out.shape, comparison.seed + 7919 + i, comparison.dtype)
        for i, out in enumerate(outputs.torch)
    ]
    keras_side = [lay.torch_to_keras(c) for lay, c in zip(layouts, torch_side, strict=True)]
    return torch_side, keras_side


def _torch_gradients(prepared, cotangents, capture):
    import torch

    comparison = prepared.comparison
    module = comparison.torch_module
    for parameter in module.parameters():
        parameter.grad = None
    inputs = [
        t.detach().clone().requires_grad_(t.is_floating_point()) for t in prepared.torch_inputs
    ]
    with torch.enable_grad():
        result = module(*inputs, **prepared.torch_extras)
        outs = list(result) if isinstance(result, list | tuple) else [result]
        torch.autograd.backward(
            outs, [torch.from_numpy(np.ascontiguousarray(c)) for c in cotangents]
        )
    input_grads = [
        None if x.grad is None else x.grad.detach().numpy().copy()
        for x in inputs
        if x.is_floating_point()
    ]
    params = {
        name: (None if p.grad is None else p.grad.detach().numpy().copy())
        for name, p in module.named_parameters(remove_duplicate=False)
    }
    return input_grads, params


def _keras_gradients(prepared, cotangents, intermediates):
    import tensorflow as tf

    comparison = prepared.comparison
    layer = comparison.keras_layer
    inputs = [tf.convert_to_tensor(x) for x in prepared.keras_inputs]
    variables = [v for v in layer.trainable_variables]
    floating = [x for x in inputs if x.dtype.is_floating]
    with tf.GradientTape() as tape:
        for x in floating:
            tape.watch(x)
        result = layer(*inputs, **prepared.keras_extras, training=comparison.training)
        outs = list(result) if isinstance(result, list | tuple) else [result]
    captured = [tensor for _, tensor in intermediates]
    sources = [*floating, *[v.value for v in variables], *captured]
    grads = tape.gradient(
        outs,
        sources,
        output_gradients=[tf.convert_to_tensor(c) for c in cotangents],
        unconnected_gradients=tf.UnconnectedGradients.ZERO,
    )
    count = len(floating)
    input_grads = [g.numpy() for g in grads[:count]]
    variable_grads = {
        id(v): g.numpy()
        for v, g in zip(variables, grads[count : count + len(variables)], strict=True)
    }
    intermediate_grads = [g.numpy() for g in grads[count + len(variables) :]]
    return input_grads, variable_grads, intermediate_grads


def _parameter_gradients(prepared, variable_grads, torch_params):
    """Keras variable gradients mapped back to torch names through the transfer plan."""
    from parity.weights import plan_transfer

    comparison = prepared.comparison
    plan = plan_transfer(
        comparison.torch_module,
        comparison.keras_layer,
        comparison.overrides,
        converters=comparison.converters,
        name_map=comparison.name_map,
    )
    pairs: dict[str, list] = {}
    for planned in plan.tensors:
        if planned.torch_key not in torch_params:
            continue  # a buffer (BN statistics): no gradient
        grad = variable_grads.get(id(planned.keras_variable))
        if grad is None:
            continue  # a non-trainable Keras variable
        pairs.setdefault(planned.torch_key, []).append((planned, planned.to_torch(grad)))
    mapped = {}
    for key, members in pairs.items():
        if members[0][0].part is None:
            mapped[key] = members[0][1]
        else:
            members.sort(key=lambda item: item[0].part.index)
            mapped[key] = np.concatenate([v for _, v in members], axis=members[0][0].part.axis)
    return mapped


def _capture(prepared):
    """Hooks that record each aligned sub-layer's output on both sides (for localisation)."""
    import functools

    from parity.localize import aligned_pairs

    comparison = prepared.comparison
    pairs = aligned_pairs(comparison.torch_module, comparison.keras_layer, comparison.name_map)
    pairs = [p for p in pairs if p.part is None]
    torch_outputs: dict[str, list] = {p.row: [] for p in pairs}
    keras_outputs: list[tuple[str, object]] = []
    handles, originals = [], []
    for pair in pairs:

        def hook(module, args, output, _row=pair.row):
            tensor = output[0] if isinstance(output, list | tuple) else output
            if getattr(tensor, "requires_grad", False):
                torch_outputs[_row].append(tensor)
                tensor.retain_grad()

        handles.append(pair.module.register_forward_hook(hook))
        original = pair.target.call

        def wrapped(*args, _row=pair.row, _original=original, **kwargs):
            output = _original(*args, **kwargs)
            tensor = output[0] if isinstance(output, list | tuple) else output
            keras_outputs.append((_row, tensor))
            return output

        functools.update_wrapper(wrapped, original)
        originals.append((pair.target, "call" in vars(pair.target), vars(pair.target).get("call")))
        pair.target.call = wrapped

    def release():
        for handle in handles:
            handle.remove()
        for target, had_own, previous in reversed(originals):
            if had_own:
                target.call = previous
            else:
                target.__dict__.pop("call", None)

    return pairs, torch_outputs, keras_outputs, release


def _localise(pairs, torch_outputs, keras_outputs, keras_grads, tolerance, dtype, channels_last):
    """Rows (backward order) comparing the gradient reaching each sub-layer's output."""
    from parity.localize import to_keras_like

    keras_by_row: dict[str, list] = {}
    for (row, _), grad in zip(keras_outputs, keras_grads, strict=True):
        keras_by_row.setdefault(row, []).append(grad)
    order = []
    for pair in pairs:
        torch_list = torch_outputs.get(pair.row, [])
        keras_list = keras_by_row.get(pair.row, [])
        if len(torch_list) != 1 or len(keras_list) != 1 or torch_list[0].grad is None:
            continue
        expected = torch_list[0].grad.detach().numpy()
        converted = to_keras_like(expected, keras_list[0].shape, channels_last)
        if converted is None:
            continue
        result = compare_arrays(converted, keras_list[0], _PLAIN, tolerance, dtype)
        order.append((pair.row, result.passed, result.max_rel))
    return order


def check_gradients(prepared, outputs) -> CheckResult:
    """See the module docstring."""
    comparison = prepared.comparison
    tolerance, dtype = comparison.tolerance, comparison.dtype
    torch_cotangents, keras_cotangents = _cotangents(prepared, outputs)
    from parity.errors import ModuleCallError
    from parity.runner import informative_line

    pairs, torch_outputs, keras_outputs, release = _capture(prepared)
    try:
        try:
            torch_inputs, torch_params = _torch_gradients(prepared, torch_cotangents, torch_outputs)
        except Exception as error:
            return CheckResult(
                "gradients", "inconclusive",
                summary=f"torch's backward raised {type(error).__name__}: {informative_line(error)}",
            )  # fmt: skip
        try:
            keras_inputs, keras_vars, keras_intermediate = _keras_gradients(
                prepared, keras_cotangents, keras_outputs
            )
        except Exception as error:
            raise ModuleCallError(
                f"the Keras layer's gradient failed where torch's did not: "
                f"{type(error).__name__}: {informative_line(error)}",
                side="Keras",
            ) from error
    finally:
        release()
    # Gradients are judged together: one that is zero in exact arithmetic (a bias that cancels
    # in a softmax) is rounding noise on both sides, judged against the whole set's scale.
    everything = [g for g in [*torch_inputs, *torch_params.values()] if g is not None and g.size]
    overall = (
        float(np.sqrt(np.mean(np.concatenate([np.square(g.ravel()) for g in everything]))))
        if everything
        else 0.0
    )
    failures, worst = [], 0.0
    for index, (lay, expected, actual) in enumerate(
        zip(comparison.input_layouts, torch_inputs, keras_inputs, strict=False)
    ):
        expected = np.zeros_like(actual) if expected is None else expected
        result = compare_arrays(
            expected, lay.keras_to_torch(actual), _PLAIN, tolerance, dtype, overall
        )
        worst = max(worst, result.max_rel)
        if not result.passed:
            failures.append(
                f"input #{index}: max rel {result.max_rel:.1e} ({result.mismatched} elements)"
            )
    mapped = _parameter_gradients(prepared, keras_vars, torch_params)
    for key in sorted(torch_params):
        if key not in mapped:
            continue
        expected = torch_params[key]
        actual = mapped[key]
        expected = np.zeros_like(actual) if expected is None else expected
        if expected.shape != actual.shape:
            failures.append(f"`{key}`: torch gradient {expected.shape}, Keras {actual.shape}")
            continue
        result = compare_arrays(expected, actual, _PLAIN, tolerance, dtype, overall)
        worst = max(worst, result.max_rel)
        if not result.passed:
            failures.append(
                f"`{key}`: max rel {result.max_rel:.1e} ({result.mismatched} of {result.total} "
                "elements)"
            )
    summary = (
        f"d(output . cotangent) w.r.t. {len(torch_inputs)} input(s) and {len(mapped)} parameter(s)"
    )
    if not failures:
        return CheckResult("gradients", "pass", worst, summary)
    channels_last = get_layout(comparison.localization_layout).channels_first_to_last
    rows = _localise(
        pairs, torch_outputs, keras_outputs, keras_intermediate, tolerance, dtype, channels_last
    )
    details = [f"gradient differs: {line}" for line in failures]
    backward = list(reversed(rows))
    first = next((row for row, passed, _ in backward if not passed), None)
    if first is not None:
        details.append(
            f"first diverging sub-layer (backward order): the gradient reaching `{first}`'s "
            "output differs, so the backward of the code after it differs (a stop_gradient, a "
            "detached or re-used tensor)"
        )
    details += [
        f"  {row}: output gradient max rel {rel:.1e} {'ok' if passed else 'differs'}"
        for row, passed, rel in backward
    ]
    return CheckResult("gradients", "mismatch", worst, summary, details)
