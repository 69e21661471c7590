"""`parity bench`: forward-pass time of each torch reference, its Keras port and their peers.

Method (the numbers are only as good as this):

* One process, every block at its upstream usage shape and at a second batch size (8).
* Peers: torch eager (`inference_mode`), `torch.compile` (where it compiles on this machine;
  otherwise `n/a: <reason>`), Keras eager, Keras inside `tf.function`, Keras inside
  `tf.function(jit_compile=True)` (XLA) and the block's TF *floor*: a minimal hand-written
  `tf.function` of the same math on the same weights (`parity.specs.floors`), so that "TensorFlow's
  own per-call cost" is a measured number. The floor's output is checked against the port's.
* Warm-up first (tracing, compiling, kernel selection), then alternating rounds: each round runs
  every peer in turn, one untimed call then up to `calls` timed calls back to back (about 20 ms
  of calls; a peer slower than that gets one timed call and no untimed one), and the peer order
  rotates from round to round. Timing call by call, alternating sides, is wrong here: TF's pool
  threads keep spinning after a call and slow a torch call that follows at once.
* Per peer: the median and the interquartile range of the per-call times of the rounds. The
  ratio Keras `tf.function` / torch eager is the median of the per-round ratios (paired, so a
  load change during the run cancels), and the geometric mean of the ratios is given per shape.
* A steady allocator: glibc's malloc returns freed memory at the top of the heap to the system
  and serves large blocks with fresh mappings, so an op's multi-MB output can page-fault on
  every call, or not, depending on the heap's layout. Measured here (a VM, where a page fault
  is dear): torch's BAMBlock took 6 ms or 14-20 ms per call from one process to the next. The
  bench raises the trim and mmap thresholds (`mallopt`) for its process, as a long-running
  server with a caching allocator would have; `tune_malloc=False` (`--no-malloc-tuning`)
  leaves them.
* The environment fingerprint with the thread counts, and the machine's load average before and
  after the run (other processes make every number noisier).

`--harness` times `parity.assert_parity` against the bare forward of both sides (torch eager +
Keras eager, as the harness calls them) at the usage shapes. Timings are never asserted on.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import platform
import statistics
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from parity.environment import tf_onednn
from parity.isolation import framework_flags
from parity.layout import resolve_layouts
from parity.runner import build_pair, case_inputs
from parity.spec import Case, ExtraInput, ModuleSpec

PEERS = ("torch", "torch.compile", "keras eager", "tf.function", "xla", "floor")
HARNESS_PEERS = ("assert_parity", "bare forward")
FLOOR_CHECK_TOLERANCE = 1e-4  # float32: the floor computes the same math, in another op order
WITHIN_FLOOR = 1.2  # "at TF's floor": the port's tf.function within this factor of the floor

Progress = Callable[[str], None]


@dataclass(frozen=True)
class Timing:
    """Per-call milliseconds of one peer over the rounds."""

    samples: tuple[float, ...]

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    @property
    def quartiles(self) -> tuple[float, float]:
        if len(self.samples) < 2:
            return self.samples[0], self.samples[0]
        first, _, third = statistics.quantiles(self.samples, n=4, method="inclusive")
        return first, third

    @property
    def spread(self) -> float:
        """Half the interquartile range relative to the median (0.05 reads "+-5%")."""
        first, third = self.quartiles
        return (third - first) / 2 / self.median if self.median else float("nan")

    def as_dict(self) -> dict:
        first, third = self.quartiles
        return {
            "median_ms": self.median,
            "q1_ms": first,
            "q3_ms": third,
            "min_ms": min(self.samples),
            "rounds": len(self.samples),
            "samples_ms": list(self.samples),
        }


@dataclass
class BenchRow:
    """One block at one shape: a `Timing` per peer that ran, a reason per peer that did not."""

    block: str
    shape: str  # "upstream" or "batch N"
    case: str
    timings: dict[str, Timing] = field(default_factory=dict)
    unavailable: dict[str, str] = field(default_factory=dict)
    ratio: float = float("nan")  # median over rounds of tf.function / torch (or harness / bare)
    floor_ratio: float = float("nan")  # median over rounds of tf.function / floor
    floor_check: str = ""
    compile_seconds: float | None = None

    def median(self, peer: str) -> float:
        """The peer's median milliseconds per call (NaN when it did not run)."""
        timing = self.timings.get(peer)
        return timing.median if timing else float("nan")

    @property
    def at_floor(self) -> bool:
        return self.floor_ratio <= WITHIN_FLOOR

    def as_dict(self, harness: bool = False) -> dict:
        common = {
            "block": self.block,
            "shape": self.shape,
            "case": self.case,
            "timings": {peer: t.as_dict() for peer, t in self.timings.items()},
        }
        if harness:
            return {**common, "ratio_assert_parity_over_bare_forward": _finite(self.ratio)}
        return {
            **common,
            "unavailable": dict(self.unavailable),
            "ratio_tf_function_over_torch": _finite(self.ratio),
            "ratio_tf_function_over_floor": _finite(self.floor_ratio),
            "floor_check": self.floor_check,
            "torch_compile_seconds": self.compile_seconds,
        }


@dataclass
class BenchReport:
    """Every row, the method's parameters and the environment."""

    rows: list[BenchRow]
    peers: tuple[str, ...]
    rounds: int
    calls: int
    warmup: int
    environment: dict[str, str]
    overhead: dict[str, float] = field(default_factory=dict)
    seconds: float = 0.0
    harness: bool = False

    def shapes(self) -> list[str]:
        return list(dict.fromkeys(row.shape for row in self.rows))

    def geomean(self, shape: str) -> float:
        """Geometric mean of the tf.function / torch ratios (or assert_parity / bare) at `shape`."""
        ratios = [r.ratio for r in self.rows if r.shape == shape and math.isfinite(r.ratio)]
        if not ratios:
            return float("nan")
        return math.exp(sum(math.log(r) for r in ratios) / len(ratios))

    def as_dict(self) -> dict:
        return {
            "method": self.method(),
            "peers": list(self.peers),
            "rounds": self.rounds,
            "calls_per_round": self.calls,
            "warmup_calls": self.warmup,
            "harness": self.harness,
            "geometric_mean_ratio": {s: _finite(self.geomean(s)) for s in self.shapes()},
            "empty_call_ms": dict(self.overhead),
            "seconds": self.seconds,
            "environment": dict(self.environment),
            "rows": [row.as_dict(self.harness) for row in self.rows],
        }

    def method(self) -> str:
        return (
            f"{self.warmup} warm-up calls per peer, then {self.rounds} alternating rounds of 1 "
            f"untimed + up to {self.calls} timed calls per peer (about {ROUND_BUDGET_MS:.0f} ms "
            "of calls, at least one; order rotating); median per call, "
            "+-half the interquartile range; ratios are medians of per-round ratios"
        )


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


# ---------------------------------------------------------------------------------------------
# The cases.


def with_batch(case: Case, batch: int) -> Case:
    """`case` with every input's (and batch-sized keyword input's) leading axis set to `batch`."""
    old = case.input_shapes[0][0]
    shapes = tuple((batch, *shape[1:]) for shape in case.input_shapes)
    extras = {
        name: ExtraInput(extra.kind, (batch, *extra.shape[1:]))
        if extra.shape and extra.shape[0] == old
        else extra
        for name, extra in case.extra_inputs.items()
    }
    return replace(case, input_shapes=shapes, extra_inputs=extras, label=f"batch {batch}")


def bench_cases(spec: ModuleSpec, batch: int | None) -> list[tuple[str, Case]]:
    """The upstream usage case, and the same at `batch` when that differs (None: upstream only)."""
    cases = [("upstream", spec.upstream_case)]
    if batch and spec.upstream_case.input_shapes[0][0] != batch:
        cases.append((f"batch {batch}", with_batch(spec.upstream_case, batch)))
    return cases


# ---------------------------------------------------------------------------------------------
# Timing in rounds.


ROUND_BUDGET_MS = 20.0  # a peer's timed calls per round last about this long, at most `calls`


def _run_rounds(
    runners: dict[str, Callable[[], object]], rounds: int, calls: int, warmup: int
) -> dict[str, list[float]]:
    per_round, settle = {}, {}
    for name, run in runners.items():
        began = time.perf_counter()
        for _ in range(warmup):
            run()
        # The last warm-up calls tell how long a call takes: a slow peer gets fewer calls per
        # round (its own noise is small against its duration), never fewer than one.
        call_ms = (time.perf_counter() - began) * 1e3 / warmup
        per_round[name] = max(1, min(calls, int(ROUND_BUDGET_MS / max(call_ms, 1e-3))))
        settle[name] = call_ms < ROUND_BUDGET_MS
    names = list(runners)
    samples: dict[str, list[float]] = {name: [] for name in names}
    for index in range(rounds):
        offset = index % len(names)
        for name in names[offset:] + names[:offset]:
            run = runners[name]
            if settle[name]:
                run()  # untimed: the previous peer's threads go quiet, this one's caches fill
            began = time.perf_counter()
            for _ in range(per_round[name]):
                run()
            samples[name].append((time.perf_counter() - began) * 1e3 / per_round[name])
    return samples


def _paired_ratio(samples: dict[str, list[float]], numerator: str, denominator: str) -> float:
    if numerator not in samples or denominator not in samples:
        return float("nan")
    pairs = zip(samples[numerator], samples[denominator], strict=True)
    return statistics.median(a / b for a, b in pairs if b > 0)


def _reason(error: BaseException) -> str:
    """`n/a: <type>: <the line that says what failed>` for a peer that cannot run."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    if lines and lines[0].endswith("in user code:"):  # a traced function's error: the last line
        line = lines[-1]
    else:
        from parity.runner import informative_line

        line = informative_line(error)
        # "backend='inductor' raised:" and the like: the cause is on the next line.
        index = lines.index(line) if line in lines else -1
        if line.endswith(":") and 0 <= index < len(lines) - 1:
            line = f"{line} {lines[index + 1]}"
    return f"n/a: {type(error).__name__}: {line}"[:200]


def _max_rel(expected, actual) -> float:
    expected = [np.asarray(e, dtype=np.float64) for e in _as_list(expected)]
    actual = [np.asarray(a, dtype=np.float64) for a in _as_list(actual)]
    if len(expected) != len(actual) or any(e.shape != a.shape for e, a in zip(expected, actual)):  # noqa: B905
        return float("inf")
    worst = 0.0
    for e, a in zip(expected, actual, strict=True):
        scale = max(float(np.sqrt(np.mean(np.square(e)))) if e.size else 0.0, 1e-30)
        worst = max(worst, float(np.max(np.abs(e - a))) / scale if e.size else 0.0)
    return worst


def _as_list(value) -> list:
    return list(value) if isinstance(value, list | tuple) else [value]


@dataclass
class _Pair:
    """Both sides of one block at one shape, with weights, inputs and callables ready."""

    torch_module: object
    keras_layer: object
    torch_inputs: list
    torch_extras: dict
    keras_inputs: list
    keras_extras: dict
    arrays: list[np.ndarray]
    extras: dict[str, np.ndarray]


def _prepare_pair(spec: ModuleSpec, case: Case, dtype: str) -> _Pair:
    import tensorflow as tf
    import torch

    from parity.randomize import randomize_torch
    from parity.weights import transfer_weights

    torch_module, keras_layer = build_pair(spec, case, dtype)
    torch_module.to(getattr(torch, dtype)).eval()
    arrays, extras = case_inputs(case, seed=0, dtype=dtype)
    layouts = resolve_layouts(spec.layout_for(case), len(arrays))
    keras_inputs = [
        tf.convert_to_tensor(lay.torch_to_keras(x)) for lay, x in zip(layouts, arrays, strict=True)
    ]
    # Arrays become tensors; constants (kind "value", e.g. spatial_size) go to both as they are.
    keras_extras = {
        k: tf.convert_to_tensor(v) if isinstance(v, np.ndarray) else v for k, v in extras.items()
    }
    keras_layer(*keras_inputs, **keras_extras, training=False)  # build
    # The same (random) weights on both sides: the floor's check against the port means something.
    randomize_torch(torch_module, seed=0)
    transfer_weights(torch_module, keras_layer, overrides=spec.transfer_overrides)
    return _Pair(
        torch_module=torch_module,
        keras_layer=keras_layer,
        torch_inputs=[torch.from_numpy(np.ascontiguousarray(x)) for x in arrays],
        torch_extras={
            k: torch.from_numpy(np.ascontiguousarray(v)) if isinstance(v, np.ndarray) else v
            for k, v in extras.items()
        },
        keras_inputs=keras_inputs,
        keras_extras=keras_extras,
        arrays=arrays,
        extras=extras,
    )


def _inference(module, inputs: list, extras: dict) -> Callable[[], object]:
    import torch

    def run():
        with torch.inference_mode():
            return module(*inputs, **extras)

    return run


def _torch_runners(pair: _Pair, peers: Sequence[str], row: BenchRow) -> dict[str, Callable]:
    import torch

    inputs, extras = pair.torch_inputs, pair.torch_extras
    runners: dict[str, Callable] = {}
    if "torch" in peers:
        runners["torch"] = _inference(pair.torch_module, inputs, extras)
    if "torch.compile" in peers:
        began = time.perf_counter()
        try:
            with _quiet_torch_logs():
                compiled = _inference(torch.compile(pair.torch_module), inputs, extras)
                compiled()  # compiles
        except Exception as error:  # the inductor backend needs a C++ toolchain, etc.
            row.unavailable["torch.compile"] = _reason(error)
        else:
            row.compile_seconds = time.perf_counter() - began
            runners["torch.compile"] = compiled
    return runners


@contextlib.contextmanager
def _quiet_torch_logs() -> Iterator[None]:
    """torch.compile logs a failed compilation's traceback at ERROR level before raising; the
    bench reports the error's line in its `n/a` cell instead."""
    logger = logging.getLogger("torch")
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        logger.setLevel(level)


def _keras_runners(
    spec: ModuleSpec, pair: _Pair, peers: Sequence[str], row: BenchRow
) -> dict[str, Callable]:
    import tensorflow as tf

    layer, inputs, extras = pair.keras_layer, pair.keras_inputs, pair.keras_extras

    def forward(*xs, **kw):
        return layer(*xs, **kw, training=False)

    runners: dict[str, Callable] = {}
    if "keras eager" in peers:
        runners["keras eager"] = lambda: forward(*inputs, **extras)
    traced = tf.function(forward)
    if "tf.function" in peers or "floor" in peers:
        runners["tf.function"] = lambda: traced(*inputs, **extras)
    if "xla" in peers:
        xla = tf.function(forward, jit_compile=True)
        try:
            xla(*inputs, **extras)
            runners["xla"] = lambda: xla(*inputs, **extras)
        except Exception as error:
            row.unavailable["xla"] = _reason(error)
    if "floor" in peers:
        from parity.specs.floors import FLOORS

        builder = FLOORS.get(spec.name)
        if builder is None:
            row.unavailable["floor"] = "n/a: no floor written for this block"
        else:
            try:
                floor = tf.function(builder(layer))
                rel = _max_rel(traced(*inputs, **extras), floor(*inputs, **extras))
                if rel <= FLOOR_CHECK_TOLERANCE:
                    row.floor_check = f"same output as the port (max rel {rel:.1e})"
                    runners["floor"] = lambda: floor(*inputs, **extras)
                else:
                    row.floor_check = f"differs from the port (max rel {rel:.1e})"
                    row.unavailable["floor"] = f"n/a: the floor {row.floor_check}"
            except Exception as error:
                row.unavailable["floor"] = _reason(error)
    return runners


def bench_case(
    spec: ModuleSpec,
    case: Case,
    *,
    shape: str = "upstream",
    peers: Sequence[str] = PEERS,
    rounds: int = 25,
    calls: int = 5,
    warmup: int = 3,
    dtype: str = "float32",
) -> BenchRow:
    """Time the peers of `spec` on `case` in alternating rounds (see the module docstring)."""
    row = BenchRow(block=spec.name, shape=shape, case=case.describe())
    with framework_flags():
        pair = _prepare_pair(spec, case, dtype)
        runners = {**_torch_runners(pair, peers, row), **_keras_runners(spec, pair, peers, row)}
        samples = _run_rounds(runners, rounds, calls, warmup)
    row.timings = {peer: Timing(tuple(samples[peer])) for peer in PEERS if peer in samples}
    if "tf.function" not in peers:  # timed only as the floor's partner
        row.timings.pop("tf.function", None)
    row.ratio = _paired_ratio(samples, "tf.function", "torch")
    row.floor_ratio = _paired_ratio(samples, "tf.function", "floor")
    return row


def harness_case(
    spec: ModuleSpec,
    case: Case,
    *,
    shape: str = "upstream",
    rounds: int = 25,
    calls: int = 1,
    warmup: int = 2,
    dtype: str = "float32",
) -> BenchRow:
    """Time `parity.assert_parity` against the bare forward of both sides (torch eager + Keras
    eager, as the harness calls them); `ratio` is assert_parity / bare forward."""
    import torch

    from parity.api import assert_parity

    row = BenchRow(block=spec.name, shape=shape, case=case.describe())
    pair = _prepare_pair(spec, case, dtype)
    layout = spec.layout

    def bare():
        with torch.no_grad():
            pair.torch_module(*pair.torch_inputs, **pair.torch_extras)
        pair.keras_layer(*pair.keras_inputs, **pair.keras_extras, training=False)

    def harness():
        assert_parity(
            pair.torch_module,
            pair.keras_layer,
            *pair.arrays,
            layout=layout,
            output_layout=spec.resolved_output_layout,
            call_kwargs=pair.extras,
            overrides=spec.transfer_overrides,
            name=spec.name,
        )

    samples = _run_rounds({"assert_parity": harness, "bare forward": bare}, rounds, calls, warmup)
    row.timings = {peer: Timing(tuple(samples[peer])) for peer in HARNESS_PEERS}
    row.ratio = _paired_ratio(samples, "assert_parity", "bare forward")
    return row


# ---------------------------------------------------------------------------------------------
# The whole run.


def call_overhead(rounds: int = 25, calls: int = 20) -> dict[str, float]:
    """Milliseconds of an empty call: a `tf.function` returning its input, a torch no-op."""
    import tensorflow as tf
    import torch

    x = tf.zeros((1,))
    y = torch.zeros(1)

    @tf.function
    def identity(tensor):
        return tensor

    def torch_identity():
        with torch.inference_mode():
            return y.view(1)

    samples = _run_rounds(
        {"tf.function identity": lambda: identity(x), "torch no-op": torch_identity},
        rounds,
        calls,
        warmup=3,
    )
    return {name: statistics.median(values) for name, values in samples.items()}


_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # glibc's mallopt parameters (malloc.h)


def steady_allocator() -> str:
    """Keep freed memory in this process (glibc): no trimming of the heap, blocks up to 32 MiB
    from the heap rather than fresh mappings. Returns what was done, for the environment."""
    import ctypes
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return "unchanged (no glibc mallopt)"
    if mallopt(_M_TRIM_THRESHOLD, 1 << 30) != 1 or mallopt(_M_MMAP_THRESHOLD, 32 << 20) != 1:
        return "unchanged (mallopt refused)"
    return "glibc M_TRIM_THRESHOLD 1 GiB, M_MMAP_THRESHOLD 32 MiB (set by the bench)"


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _load() -> str:
    try:
        return " ".join(f"{value:.2f}" for value in os.getloadavg())
    except OSError:
        return "unknown"


def environment() -> dict[str, str]:
    """The report fingerprint plus thread counts and the machine."""
    import tensorflow as tf
    import torch

    from parity.environment import fingerprint

    info = fingerprint()
    tf_intra = tf.config.threading.get_intra_op_parallelism_threads()
    tf_inter = tf.config.threading.get_inter_op_parallelism_threads()
    info.update(
        {
            "cpu": _cpu_model(),
            "logical cpus": str(os.cpu_count()),
            "torch threads": (
                f"intra-op {torch.get_num_threads()}, inter-op {torch.get_num_interop_threads()}"
            ),
            # 0 is TensorFlow's default: as many threads as logical cpus.
            "tf threads": f"intra-op {tf_intra or 'default'}, inter-op {tf_inter or 'default'}",
            "tf oneDNN in effect": tf_onednn(),
            "torch mkldnn available": str(torch.backends.mkldnn.is_available()),
            "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "unset"),
            "TF_NUM_INTRAOP_THREADS": os.environ.get("TF_NUM_INTRAOP_THREADS", "unset"),
        }
    )
    return info


def run_bench(
    specs: Iterable[ModuleSpec],
    *,
    repeats: int = 25,
    calls: int = 5,
    warmup: int = 3,
    batch: int | None = 8,
    peers: Sequence[str] = PEERS,
    harness: bool = False,
    progress: Progress | None = None,
    tune_malloc: bool = True,
) -> BenchReport:
    """Time every spec at its upstream usage case (and at `batch`): see the module docstring.

    With `harness=True`, time `assert_parity` against the bare forward instead (upstream shapes).
    """
    began = time.perf_counter()
    allocator = steady_allocator() if tune_malloc else "unchanged (--no-malloc-tuning)"
    load_before = _load()
    work = [
        (spec, shape, case)
        for spec in specs
        for shape, case in bench_cases(spec, None if harness else batch)
    ]
    rows = []
    for index, (spec, shape, case) in enumerate(work, start=1):
        if progress:
            shapes = " ".join("x".join(map(str, s)) for s in case.input_shapes)
            progress(f"bench [{index}/{len(work)}] {spec.name} {shape} ({shapes})")
        try:
            if harness:
                row = harness_case(spec, case, shape=shape, rounds=repeats, warmup=min(warmup, 2))
            else:
                row = bench_case(
                    spec, case, shape=shape, peers=peers, rounds=repeats, calls=calls, warmup=warmup
                )
        except Exception as error:  # one block that cannot run must not lose the others' numbers
            row = BenchRow(block=spec.name, shape=shape, case=case.describe())
            named = HARNESS_PEERS if harness else peers
            row.unavailable = {peer: _reason(error) for peer in named}
        rows.append(row)
    overhead = {} if harness else call_overhead(rounds=repeats)
    info = environment()
    info["load average (1, 5, 15 min) before / after"] = f"{load_before} / {_load()}"
    info["allocator"] = allocator
    return BenchReport(
        rows=rows,
        peers=HARNESS_PEERS if harness else tuple(p for p in PEERS if p in peers),
        rounds=repeats,
        calls=1 if harness else calls,
        warmup=min(warmup, 2) if harness else warmup,
        environment=info,
        overhead=overhead,
        seconds=time.perf_counter() - began,
        harness=harness,
    )


# ---------------------------------------------------------------------------------------------
# Rendering.


def _cell(row: BenchRow, peer: str) -> str:
    timing = row.timings.get(peer)
    if timing is None:
        return "n/a" if peer in row.unavailable else "-"
    return f"{timing.median:.2f} ±{100 * timing.spread:.0f}%"


def _ratio(value: float) -> str:
    return f"{value:.2f}" if math.isfinite(value) else "-"


def _columns(report: BenchReport) -> tuple[list[str], list[list[str]]]:
    if report.harness:
        header = ["block", "shape", "assert_parity ms", "bare forward ms", "assert_parity/bare"]
        body = [
            [r.block, r.shape, _cell(r, "assert_parity"), _cell(r, "bare forward"), _ratio(r.ratio)]
            for r in report.rows
        ]
        return header, body
    header = ["block", "shape", *(f"{p} ms" for p in report.peers), "tf.function/torch"]
    with_floor = "floor" in report.peers
    if with_floor:
        header.append("tf.function/floor")
    body = []
    for r in report.rows:
        line = [r.block, r.shape, *(_cell(r, p) for p in report.peers), _ratio(r.ratio)]
        if with_floor:
            line.append(_ratio(r.floor_ratio) + (" *" if r.at_floor else ""))
        body.append(line)
    return header, body


def _summary(report: BenchReport) -> list[str]:
    what = "assert_parity / bare forward" if report.harness else "Keras tf.function / torch eager"
    lines = []
    for shape in report.shapes():
        rows = [r for r in report.rows if r.shape == shape]
        timed = sum(math.isfinite(r.ratio) for r in rows)
        count = f"{timed} blocks" if timed == len(rows) else f"{timed} of {len(rows)} blocks"
        lines.append(f"geometric mean {what}, {shape}: {_ratio(report.geomean(shape))} ({count})")
    if not report.harness and "floor" in report.peers:
        at = [r for r in report.rows if r.at_floor]
        lines.append(
            f"* tf.function within {WITHIN_FLOOR}x of the TF floor: {len(at)} of "
            f"{sum(math.isfinite(r.floor_ratio) for r in report.rows)} rows"
        )
    for name, value in report.overhead.items():
        lines.append(f"empty call, {name}: {value * 1e3:.0f} us")
    # One line per distinct reason, naming the rows it applies to (all rows: no list).
    where: dict[tuple[str, str], list[str]] = {}
    for r in report.rows:
        for peer, reason in r.unavailable.items():
            where.setdefault((peer, reason), []).append(f"{r.block} ({r.shape})")
    for (peer, reason), rows in sorted(where.items()):
        scope = "every row" if len(rows) == len(report.rows) else ", ".join(rows)
        lines.append(f"{peer} {reason} [{scope}]")
    lines.append(f"method: {report.method()}; {report.seconds:.0f} s in all")
    return lines


def render_table(report: BenchReport) -> str:
    """A plain-text table, a summary and the environment."""
    header, body = _columns(report)
    widths = [max(len(line[i]) for line in [header, *body]) for i in range(len(header))]
    lines = [
        "  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)) for line in [header, *body]
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    lines += ["", *_summary(report), ""]
    lines += [f"{key}: {value}" for key, value in report.environment.items()]
    return "\n".join(lines)


def render_markdown(report: BenchReport) -> str:
    """A Markdown table with the summary and the machine description."""
    header, body = _columns(report)
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in line) + " |" for line in body]
    lines += [""] + [f"- {line}" for line in _summary(report)]
    env = report.environment
    lines += [
        "",
        f"Machine: {env.get('cpu')}, {env.get('logical cpus')} logical cpus, {env.get('platform')}; "
        f"python {env.get('python')}, torch {env.get('torch')}, tensorflow {env.get('tensorflow')}, "
        f"keras {env.get('keras')}; torch threads {env.get('torch threads')}; TF threads "
        f"{env.get('tf threads')}; TF oneDNN in effect: {env.get('tf oneDNN in effect')}; load average before / after "
        f"{env.get('load average (1, 5, 15 min) before / after')}; allocator: "
        f"{env.get('allocator')}.",
    ]
    return "\n".join(lines)


def render_json(report: BenchReport) -> str:
    import json

    return json.dumps(report.as_dict(), indent=2)


RENDERERS = {"table": render_table, "markdown": render_markdown, "json": render_json}
