"""`parity bench`: forward-pass time of each torch reference and its Keras port, same input.

Timings are medians over repeats after a warm-up, measured in one process so that ratios are
comparable; absolute numbers depend on the machine. Never used in assertions.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np

from parity.isolation import framework_flags
from parity.layout import get_layout
from parity.runner import build_pair, case_inputs
from parity.spec import Case, ModuleSpec


@dataclass
class BenchRow:
    """One block's timings in milliseconds (median over repeats)."""

    block: str
    case: str
    torch_ms: float
    keras_eager_ms: float
    keras_function_ms: float

    @property
    def ratio(self) -> float:
        """Keras `tf.function` time over torch time (lower is better for Keras)."""
        return self.keras_function_ms / self.torch_ms if self.torch_ms else float("nan")


def _median_ms(run: Callable[[], object], repeats: int) -> float:
    run()  # warm-up: first calls trace, allocate and pick kernels
    samples = []
    for _ in range(repeats):
        began = time.perf_counter()
        run()
        samples.append((time.perf_counter() - began) * 1e3)
    return statistics.median(samples)


def bench_case(
    spec: ModuleSpec, case: Case, *, repeats: int = 5, dtype: str = "float32"
) -> BenchRow:
    """Time torch, Keras eager and Keras inside `tf.function` on `case` (inference mode)."""
    import tensorflow as tf
    import torch

    torch_module, keras_layer = build_pair(spec, case, dtype)
    torch_module.to(getattr(torch, dtype)).eval()
    arrays, extras = case_inputs(case, seed=0, dtype=dtype)
    layout = get_layout(spec.layout_for(case))
    torch_inputs = [torch.from_numpy(np.ascontiguousarray(x)) for x in arrays]
    # Arrays become tensors; constants (kind "value", e.g. spatial_size) go to both as they are.
    torch_extras = {
        k: torch.from_numpy(np.ascontiguousarray(v)) if isinstance(v, np.ndarray) else v
        for k, v in extras.items()
    }
    keras_inputs = [tf.convert_to_tensor(layout.torch_to_keras(x)) for x in arrays]
    keras_extras = {
        k: tf.convert_to_tensor(v) if isinstance(v, np.ndarray) else v for k, v in extras.items()
    }

    def run_torch():
        with torch.no_grad():
            return torch_module(*torch_inputs, **torch_extras)

    traced = tf.function(lambda *xs: keras_layer(*xs, **keras_extras, training=False))
    with framework_flags():
        return BenchRow(
            block=spec.name,
            case=case.describe(),
            torch_ms=_median_ms(run_torch, repeats),
            keras_eager_ms=_median_ms(
                lambda: keras_layer(*keras_inputs, **keras_extras, training=False), repeats
            ),
            keras_function_ms=_median_ms(lambda: traced(*keras_inputs), repeats),
        )


def run_bench(specs: Iterable[ModuleSpec], *, repeats: int = 5) -> list[BenchRow]:
    """Time every spec's upstream usage case."""
    return [bench_case(spec, spec.upstream_case, repeats=repeats) for spec in specs]


def render_bench(rows: list[BenchRow]) -> str:
    """A plain-text table of the timings and the Keras/torch ratio."""
    header = ["block", "torch ms", "keras eager ms", "keras tf.function ms", "tf.function/torch"]
    body = [
        [
            r.block,
            f"{r.torch_ms:.2f}",
            f"{r.keras_eager_ms:.2f}",
            f"{r.keras_function_ms:.2f}",
            f"{r.ratio:.2f}",
        ]
        for r in rows
    ]
    widths = [max(len(line[i]) for line in [header, *body]) for i in range(len(header))]
    lines = [
        "  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)) for line in [header, *body]
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
