"""The `compiled` check: the Keras layer under `tf.function` with unknown (None) batch and spatial
sizes, and under XLA (`jit_compile=True`), equal to its eager result and to torch.

A port that reads a static size (`x.shape[1]` as a Python int) breaks when the size is unknown in
a graph; the check names the op that failed to trace. Sizes a block's math really fixes (a filter
tied to the token grid) are declared in its spec (`static_axes`, with the reason).
"""

from __future__ import annotations

import numpy as np

from parity.checks import CheckResult
from parity.compare import compare_arrays
from parity.layout import get_layout, resolve_layouts

_DYNAMIC_AXES = {"image": (1, 2), "channels_last": (1, 2), "sequence": (1,), "plain": ()}


def _signature(prepared):
    import tensorflow as tf

    comparison = prepared.comparison
    specs = []
    for lay, array in zip(comparison.input_layouts, prepared.keras_inputs, strict=True):
        dynamic = {0, *_DYNAMIC_AXES.get(lay.name, ())} - set(comparison.static_axes)
        shape = [None if axis in dynamic else size for axis, size in enumerate(array.shape)]
        specs.append(tf.TensorSpec(shape, tf.as_dtype(array.dtype)))
    return specs


def _numpy_outputs(value) -> list[np.ndarray]:
    values = list(value) if isinstance(value, list | tuple) else [value]
    return [np.asarray(v) for v in values]


def _run(prepared, jit: bool):
    import tensorflow as tf

    from parity.runner import informative_line

    comparison = prepared.comparison
    layer, extras = comparison.keras_layer, prepared.keras_extras

    def forward(*inputs):
        return layer(*inputs, **extras, training=False)

    function = tf.function(forward, input_signature=_signature(prepared), jit_compile=jit,
                           reduce_retracing=True)  # fmt: skip
    try:
        return _numpy_outputs(
            function(*[tf.convert_to_tensor(x) for x in prepared.keras_inputs])
        ), ""
    except Exception as error:
        return None, f"{type(error).__name__}: {informative_line(error)}"


def check_compiled(prepared, outputs) -> CheckResult:
    """See the module docstring."""
    comparison = prepared.comparison
    plain = get_layout("plain")
    layouts = resolve_layouts(comparison.output_layout, len(outputs.torch))
    shapes = ", ".join(str(tuple(s.shape)) for s in _signature(prepared))
    summary = f"tf.function and XLA with input signature {shapes}"
    details, worst = [], 0.0
    for mode, jit in (("tf.function", False), ("XLA", True)):
        compiled, error = _run(prepared, jit)
        if compiled is None:
            details.append(f"{mode} cannot run the layer with unknown sizes {shapes}: {error}")
            continue
        if len(compiled) != len(outputs.keras):
            details.append(f"{mode} returned {len(compiled)} outputs, eager {len(outputs.keras)}")
            continue
        for index, (eager, graph, torch_out, lay) in enumerate(
            zip(outputs.keras, compiled, outputs.torch, layouts, strict=True)
        ):
            versus_eager = compare_arrays(
                eager, graph, plain, comparison.tolerance, comparison.dtype
            )
            versus_torch = compare_arrays(
                torch_out, graph, lay, comparison.tolerance, comparison.dtype
            )
            worst = max(worst, versus_torch.max_rel)
            if not versus_eager.passed:
                details.append(f"{mode} output #{index} differs from eager Keras: max rel "
                               f"{versus_eager.max_rel:.1e}")  # fmt: skip
            if not versus_torch.passed:
                details.append(f"{mode} output #{index} differs from torch: max rel "
                               f"{versus_torch.max_rel:.1e}")  # fmt: skip
    if comparison.static_axes:
        summary += "; static axes: " + "; ".join(
            f"{axis} ({why})" for axis, why in comparison.static_axes.items()
        )
    return CheckResult("compiled", "mismatch" if details else "pass", worst, summary, details)
