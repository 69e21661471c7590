"""The `parity` command line: `parity report` over the registry, `parity check` one pair,
`parity replay` a repro file, `parity bench` timings.

Exit status: 0 every case passed; 1 a parity mismatch (and only that); 2 anything else that kept
the harness from deciding: a usage or input error, a module that raised, a case with nothing to
compare, a run of no cases. Errors are one line on stderr (a weight-transfer problem prints its
full list of keys), never a traceback unless `-v`.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import sys
from collections.abc import Iterator, Sequence

EXIT_PASS, EXIT_MISMATCH, EXIT_USAGE = 0, 1, 2
FORMATS = ("table", "markdown", "json", "html", "junit")  # the keys of parity.report.RENDERERS
# parity.bench.PEERS, spelled out so that `--help` needs no framework import.
_BENCH_PEERS = ("torch", "torch.compile", "keras eager", "tf.function", "xla", "floor")
# Refuse an input larger than this fraction of the machine's memory before allocating it: the
# harness holds several copies (torch and Keras layouts, both outputs).
_MEMORY_FRACTION = 0.25


class UsageError(Exception):
    """A bad command line or input; reported as one line with exit status 2."""


def _dtypes(text: str) -> tuple[str, ...]:
    dtypes = tuple(d.strip() for d in text.split(",") if d.strip())
    bad = [d for d in dtypes if d not in ("float32", "float64")]
    if bad or not dtypes:
        raise argparse.ArgumentTypeError(
            f"expected a comma-separated list of float32,float64; received {text!r}"
        )
    return dtypes


def _shape(text: str) -> tuple[int | str, ...]:
    from parity.fuzz import parse_shape

    parts = [part.strip() for part in text.split(",")]
    if any(part.lstrip("-").isdigit() and int(part) < 1 for part in parts):
        raise argparse.ArgumentTypeError(f"expected positive sizes; received {text!r}")
    try:
        return parse_shape(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated positive integers (or size names such as H) like "
            f"2,64,14,14; received {text!r}"
        ) from None


def _concrete_shape(text: str) -> tuple[int, ...]:
    shape = _shape(text)
    if any(isinstance(d, str) for d in shape):
        raise argparse.ArgumentTypeError(f"expected concrete sizes; received {text!r}")
    return shape


def _checks(text: str) -> tuple[str, ...]:
    from parity.checks import parse_checks

    try:
        return parse_checks(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


DEFAULT_REPRO_DIR = "parity-repro"  # relative to the working directory


def _add_output_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--format", choices=FORMATS, default="table")
    parser.add_argument("--out", default=None, help="write the rendered report to this file")
    parser.add_argument(
        "--repro-dir",
        default=DEFAULT_REPRO_DIR,
        help="where failing cases write their .npz repro files (default ./parity-repro)",
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="parity", description="Prove Keras ports equal to their PyTorch originals."
    )
    parser.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="show TensorFlow's start-up logs and the traceback of an error",
    )
    commands = parser.add_subparsers(dest="command", required=True)

    report = commands.add_parser("report", help="parity report over every registered block pair")
    report.add_argument("--examples", type=int, default=25, help="generated cases per block (25)")
    report.add_argument("--dtype", type=_dtypes, default=("float32", "float64"))
    report.add_argument("--seed", type=int, default=0, help="seed of the generated cases (0)")
    report.add_argument(
        "--block",
        action="append",
        default=None,
        help="only this block (repeat, or comma-separated)",
    )
    report.add_argument("--no-smoke", action="store_true", help="skip the fixed smoke cases")
    report.add_argument("--checks", type=_checks, default=("forward",), metavar="NAMES",
                        help="forward,gradients,training,compiled,saved,float16,bfloat16 or all "
                        "(beyond forward: on the asymmetric and the first generated cases)")  # fmt: skip
    report.add_argument(
        "--readme",
        default=None,
        metavar="FILE",
        help="also write the results table (markdown) into FILE's results section",
    )
    _add_output_options(report)

    check = commands.add_parser(
        "check",
        help="check a torch/Keras pair: a registered block, or TORCH_IMPORT KERAS_IMPORT",
        description=(
            "Check one pair on seeded inputs. TARGET is a registered block name, or a torch "
            "import path package.module:Class followed by the Keras one."
        ),
    )
    check.add_argument("target", help="block name, or torch import path package.module:Class")
    check.add_argument(
        "keras", nargs="?", default=None, help="Keras import path (with a torch one)"
    )
    check.add_argument("--init", default="{}", help="constructor arguments as JSON (both sides)")
    check.add_argument("--torch-init", default="{}", metavar="JSON",
                       help='torch-only constructor arguments (a class: {"import": "torch.nn:LayerNorm"})')  # fmt: skip
    check.add_argument("--keras-init", default="{}", metavar="JSON",
                       help="Keras-only constructor arguments")  # fmt: skip
    check.add_argument("--input-shape", type=_shape, action="append", required=True,
                       help="an input's shape in the torch layout, sizes or names (B,16,H,W); "
                       "repeat per positional input")  # fmt: skip
    check.add_argument("--dim", action="append", default=[], metavar="NAME=LOW:HIGH",
                       help="the range of a named size in --input-shape (fuzzed by hypothesis)")  # fmt: skip
    check.add_argument("--init-range", action="append", default=[], metavar="NAME=V1,V2,...",
                       help="values of a constructor argument to fuzz (both sides)")  # fmt: skip
    check.add_argument("--input-scale", type=_input_scale, default=1.0, metavar="FACTOR",
                       help="multiply the seeded inputs by FACTOR (replays a scale variant)")  # fmt: skip
    check.add_argument("--no-variants", action="store_true",
                       help="check only the given shape (no batch/H!=W/odd/scale variants)")  # fmt: skip
    check.add_argument(
        "--layout", default=None, help="image|sequence|channels_last|plain, or one per input a,b"
    )
    check.add_argument(
        "--output-layout", default=None, help="layout of the outputs (default: --layout)"
    )
    check.add_argument("--extra", action="append", default=[],
                       help="NAME=mask|float:SHAPE, or NAME=value:JSON for a constant")  # fmt: skip
    check.add_argument("--shared-input", action="store_true", help="feed one array to all inputs")
    check.add_argument("--dtype", type=_dtypes, default=("float32", "float64"))
    check.add_argument("--examples", type=int, default=None,
                       help="seeds per case (default 1), or drawn cases when fuzzing (default 20)")  # fmt: skip
    check.add_argument("--seed", type=int, default=0)
    check.add_argument("--checks", type=_checks, default=("forward",), metavar="NAMES",
                       help="forward,gradients,training,compiled,saved,float16,bfloat16 or all")  # fmt: skip
    check.add_argument("--rtol", type=float, default=None, help="with --atol: the tolerance")
    check.add_argument("--atol", type=float, default=None, help="with --rtol (x output RMS)")
    check.add_argument("--allow", action="append", default=[], metavar="PATH=TOL[:REASON]",
                       help="a sub-layer's known deviation, e.g. act=1e-8:'TF float64 erf GELU'")  # fmt: skip
    check.add_argument("--converters", action="append", default=[], metavar="MODULE:NAME",
                       help="a parity.Converter (or a list of them) for your own layer types")  # fmt: skip
    check.add_argument("--name-map", default=None, metavar="FILE|JSON",
                       help="torch module path -> Keras attribute path, a JSON file or inline JSON")  # fmt: skip
    check.add_argument("--torch-weights", default=None,
                       help="a .safetensors or torch state-dict file (loaded weights_only)")  # fmt: skip
    _add_output_options(check)

    bench = commands.add_parser(
        "bench",
        help="time torch vs Keras forward passes (and their peers) on each block's usage case",
        description=(
            "Time every block at its upstream usage shape and at --batch: torch eager, "
            "torch.compile, Keras eager, Keras tf.function, Keras XLA and the TF floor, in "
            "alternating rounds after a warm-up (see parity.bench). With --harness, time "
            "assert_parity against the bare forward of both sides instead. Threads: set "
            "OMP_NUM_THREADS and TF_NUM_INTRAOP_THREADS before starting."
        ),
    )
    bench.add_argument(
        "--block",
        action="append",
        default=None,
        help="only this block (repeat, or comma-separated)",
    )
    bench.add_argument(
        "--repeats", type=int, default=25, help="timed rounds after the warm-up (25)"
    )
    bench.add_argument("--calls", type=int, default=5, help="timed calls per peer per round (5)")
    bench.add_argument("--warmup", type=int, default=3, help="untimed calls per peer first (3)")
    bench.add_argument(
        "--batch", type=int, default=8, help="also time this batch size; 0: upstream shapes only"
    )
    bench.add_argument(
        "--peers",
        default=None,
        help="comma-separated subset of " + ",".join(_BENCH_PEERS) + " (default: all)",
    )
    bench.add_argument(
        "--harness",
        action="store_true",
        help="time assert_parity against the bare forward of both sides (upstream shapes)",
    )
    bench.add_argument(
        "--no-malloc-tuning",
        action="store_true",
        help="leave glibc's malloc trim/mmap thresholds as they are (see parity.bench)",
    )
    bench.add_argument("--format", choices=("table", "markdown", "json"), default="table")
    bench.add_argument("--out", default=None, help="write the rendered results to this file")
    bench.add_argument(
        "--readme",
        default=None,
        metavar="FILE",
        help="also write the markdown table into FILE's bench section",
    )

    docs = commands.add_parser(
        "docs", help="write (or --check) the README's blocks table, generated from the registry"
    )
    docs.add_argument("--readme", default="README.md", metavar="FILE", help="(README.md)")
    docs.add_argument(
        "--check", action="store_true", help="exit 1 if the table in FILE is stale; write nothing"
    )

    replay = commands.add_parser(
        "replay",
        help="replay a repro file written on failure",
        description=(
            "Rebuild both modules from a repro file and compare again. Only our own packages "
            "and the modules given with --allow-import are imported."
        ),
    )
    replay.add_argument("file", help="a .npz repro file")
    replay.add_argument(
        "--allow-import",
        action="append",
        default=[],
        metavar="MODULE",
        help="a module or package the repro file may import its classes from (repeat)",
    )
    replay.add_argument("--format", choices=FORMATS, default="table")
    replay.add_argument("--out", default=None)
    return parser


def _input_scale(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"expected a finite factor > 0, got {text!r}")
    return value


def _lookup_specs(names: Sequence[str] | None):
    from parity.specs import SPECS

    if not names:
        return list(SPECS.values())
    names = [name.strip() for entry in names for name in entry.split(",") if name.strip()]
    unknown = [n for n in names if n not in SPECS]
    if unknown:
        raise UsageError(f"unknown block {unknown[0]!r}; registered: {', '.join(SPECS)}")
    return [SPECS[n] for n in names]


def _cmd_report(args) -> int:
    from parity.report import run_report

    if args.examples < 0:
        raise UsageError(f"--examples must be >= 0; received {args.examples}")
    if args.examples == 0 and args.no_smoke:
        raise UsageError("--examples 0 with --no-smoke runs no case: nothing would be checked")
    specs = _lookup_specs(args.block)
    report = run_report(
        specs,
        examples=args.examples,
        dtypes=args.dtype,
        seed=args.seed,
        smoke=not args.no_smoke,
        repro_dir=args.repro_dir,
        progress=lambda line: print(line, file=sys.stderr, flush=True),
        checks=args.checks,
    )
    if args.readme:
        from parity.docs import write_section
        from parity.report import render_markdown

        try:
            write_section(args.readme, "results", render_markdown(report))
        except (OSError, ValueError) as error:
            print(render_markdown(report))
            raise UsageError(f"cannot update --readme {args.readme!r}: {error}") from None
        print(f"wrote the results table into {args.readme}", file=sys.stderr)
    return _emit(report, args)


def _emit(report, args) -> int:
    from parity.report import RENDERERS

    text = RENDERERS[args.format](report)
    if args.out:
        try:
            with open(args.out, "w", encoding="utf-8") as handle:
                handle.write(text + "\n")
        except OSError as error:
            print(RENDERERS["table"](report))  # the report is never lost to a bad --out
            raise UsageError(
                f"cannot write --out {args.out!r}: {error.strerror or error}"
            ) from None
        print(f"wrote {args.format} report to {args.out}", file=sys.stderr)
        if args.format != "table":
            print(RENDERERS["table"](report))
    else:
        print(text)
    problems = {o.repro_error for b in report.blocks for o in b.outcomes if o.repro_error}
    for problem in sorted(problems):
        print(f"parity: warning: {problem}", file=sys.stderr)
    status = report.exit_status()
    if status == EXIT_USAGE:
        print(
            "parity: nothing was decided for some cases (inconclusive or a module raised; see "
            "the report): exit status 2",
            file=sys.stderr,
        )
    return status


def _tuples(value):
    """JSON arrays back to tuples (a constant such as `spatial_size=(4, 6)` is a tuple)."""
    if isinstance(value, list):
        return tuple(_tuples(item) for item in value)
    return value


def _parse_extra(text: str):
    from parity.spec import ExtraInput

    try:
        name, rest = text.split("=", 1)
        kind, shape = rest.split(":", 1)
    except ValueError:
        raise UsageError(
            f"--extra expects NAME=mask|float:SHAPE or NAME=value:JSON; received {text!r}"
        ) from None
    if not name.isidentifier():
        raise UsageError(f"--extra NAME must be a keyword argument name; received {name!r}")
    if kind == "value":
        try:
            return name, ExtraInput("value", value=_tuples(json.loads(shape)))
        except json.JSONDecodeError as error:
            raise UsageError(f"--extra {text!r}: the value is not JSON ({error.msg})") from None
    if kind not in ("mask", "float"):
        raise UsageError(
            f"--extra kind must be mask, float or value; received {kind!r} in {text!r}"
        )
    try:
        return name, ExtraInput(kind, _concrete_shape(shape))
    except argparse.ArgumentTypeError as error:
        raise UsageError(f"--extra {text!r}: {error}") from None


def _json_object(text: str, flag: str = "--init") -> dict:
    try:
        config = json.loads(text)
    except json.JSONDecodeError as error:
        raise UsageError(
            f"{flag} is not valid JSON ({error.msg} at column {error.colno})"
        ) from None
    if not isinstance(config, dict):
        raise UsageError(f"{flag} must be a JSON object; received {text!r}")
    return config


def _name_map(text: str | None) -> dict | None:
    """--name-map: a JSON file's path, or inline JSON."""
    if text is None:
        return None
    from pathlib import Path

    from parity.name_map import parse_name_map

    source = text
    if not text.lstrip().startswith("{"):
        path = Path(text)
        if not path.is_file():
            raise UsageError(f"--name-map: no such file {text!r} (or give inline JSON)")
        source = path.read_text(encoding="utf-8")
    mapping = _json_object(source, "--name-map")
    try:
        return parse_name_map(mapping)
    except ValueError as error:
        raise UsageError(f"--name-map: {error}") from None


def _converters(paths: Sequence[str]) -> tuple:
    from parity.converters import Converter
    from parity.repro import _import_object

    found = []
    for path in paths:
        try:
            value = _import_object(path, None)
        except ValueError as error:
            raise UsageError(f"--converters: {error}") from None
        values = list(value) if isinstance(value, list | tuple) else [value]
        bad = [type(v).__name__ for v in values if not isinstance(v, Converter)]
        if bad:
            raise UsageError(
                f"--converters {path!r} must name a parity.Converter or a list of them; "
                f"received {', '.join(bad)}"
            )
        found += values
    return tuple(found)


def _allowances(texts: Sequence[str]) -> dict:
    allowed = {}
    for text in texts:
        path, sep, rest = text.partition("=")
        tolerance, _, reason = rest.partition(":")
        try:
            value = float(tolerance)
        except ValueError:
            value = -1.0
        if not sep or not path.strip() or value < 0:
            raise UsageError(
                f"--allow expects PATH=TOLERANCE[:REASON] such as act=1e-8:'TF erf GELU'; "
                f"received {text!r}"
            )
        allowed[path.strip()] = (value, reason.strip() or "declared on the command line")
    return allowed


def _first_line(error: BaseException) -> str:
    from parity.runner import informative_line

    return informative_line(error)


def _physical_memory() -> int | None:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


def _check_sizes(case) -> None:
    """Refuse inputs too large for this machine before a single byte is allocated."""
    import math

    shapes = [*case.input_shapes, *(extra.shape for extra in case.extra_inputs.values())]
    needed = sum(8 * math.prod(shape) for shape in shapes)
    memory = _physical_memory()
    if memory is not None and needed > _MEMORY_FRACTION * memory:
        shown = " ".join(",".join(map(str, s)) for s in case.input_shapes)
        raise UsageError(
            f"input shape(s) {shown} need {needed / 2**30:.1f} GiB per copy; this machine has "
            f"{memory / 2**30:.1f} GiB. Use smaller shapes"
        )


def _construct(name: str, cls, config: dict, **extra):
    from parity.runner import dtype_policy

    try:
        if "dtype" in extra:  # sub-layers the port does not pass `dtype` to get it too
            with dtype_policy(extra["dtype"]):
                return cls(**config, **extra)
        return cls(**config, **extra)
    except Exception as error:
        raise UsageError(
            f"{name}(**{config}) rejected: {type(error).__name__}: {_first_line(error)}"
        ) from None


def _cmd_check(args) -> int:
    import keras
    import torch

    from parity.check import CheckOptions, ConstructionError, PairSource, check_pair
    from parity.errors import ModuleCallError, WeightTransferError
    from parity.fuzz import parse_dim, parse_init_range, symbols
    from parity.layout import resolve_layouts
    from parity.report import BlockSummary, Report
    from parity.repro import reproduce_command, resolve_imports
    from parity.spec import Case

    init = _json_object(args.init)
    try:
        torch_init = resolve_imports(_json_object(args.torch_init, "--torch-init"))
        keras_init = resolve_imports(_json_object(args.keras_init, "--keras-init"))
    except ValueError as error:
        raise UsageError(str(error)) from None
    if (args.rtol is None) != (args.atol is None):
        raise UsageError("--rtol and --atol go together (or neither)")
    try:
        dims = {name: (low, high) for name, low, high in map(parse_dim, args.dim)}
        init_ranges = dict(map(parse_init_range, args.init_range))
    except ValueError as error:
        raise UsageError(str(error)) from None
    shapes = [tuple(s) for s in args.input_shape]
    fuzzing = bool(symbols(shapes) or init_ranges)
    unused = sorted(set(dims) - set(symbols(shapes)))
    if unused:
        raise UsageError(f"--dim {unused[0]} names no size in --input-shape {shapes}")
    missing = [name for name in symbols(shapes) if name not in dims]
    if missing:
        raise UsageError(
            f"size {missing[0]!r} in --input-shape has no range: add --dim {missing[0]}=LOW:HIGH"
        )
    examples = args.examples if args.examples is not None else (20 if fuzzing else 1)
    if examples < 1:
        raise UsageError(f"--examples must be >= 1; received {examples}")
    extras = dict(_parse_extra(e) for e in args.extra)
    if not fuzzing:
        _check_sizes(Case(config={}, input_shapes=tuple(shapes), extra_inputs=extras))
    else:
        largest = {name: high for name, (_, high) in dims.items()}
        from parity.fuzz import concrete

        _check_sizes(
            Case(config={}, input_shapes=tuple(concrete(shapes, largest)), extra_inputs=extras)
        )
    comparison_options: dict = {}
    reproduce = None
    registered = None
    if args.keras is None:
        if ":" in args.target:
            raise UsageError(
                f"{args.target!r} looks like an import path: give the Keras one too "
                "(parity check TORCH_IMPORT KERAS_IMPORT ...)"
            )
        (spec,) = _lookup_specs([args.target])
        name, torch_class, keras_class = spec.name, spec.torch_class, spec.keras_class
        layout = args.layout or spec.layout
        output_layout = args.output_layout or (args.layout or spec.resolved_output_layout)
        comparison_options["overrides"] = spec.transfer_overrides
        registered = spec

        def reproduce(case, seed, dtype):
            return reproduce_command(spec.name, case, seed, dtype)
    else:
        from parity.repro import import_class

        try:
            torch_class = import_class(args.target, base=torch.nn.Module)
            keras_class = import_class(args.keras, base=keras.layers.Layer)
        except ValueError as error:
            raise UsageError(str(error)) from None
        name = torch_class.__name__
        layout = args.layout or "image"
        output_layout = args.output_layout or layout
    layouts = layout.split(",") if "," in layout else layout
    out_layouts = output_layout.split(",") if "," in output_layout else output_layout
    try:
        resolve_layouts(layouts, len(shapes))
    except ValueError as error:
        raise UsageError(_first_line(error)) from None
    comparison_options["converters"] = _converters(args.converters)
    comparison_options["name_map"] = _name_map(args.name_map)
    comparison_options["allow"] = _allowances(args.allow)

    state = None
    if args.torch_weights:
        from parity.checkpoint import load_state_dict

        try:
            state = load_state_dict(args.torch_weights)
        except ValueError as error:
            raise UsageError(_first_line(error)) from None
    source = PairSource(torch_class, keras_class, init, torch_init, keras_init, name, state)
    options = CheckOptions(
        input_shapes=shapes,
        layout=layouts,
        output_layout=out_layouts,
        extras=extras,
        shared_input=args.shared_input,
        dtypes=args.dtype,
        examples=examples,
        seed=args.seed,
        variants=not args.no_variants,
        dims=dims,
        init_ranges=init_ranges,
        rtol=args.rtol,
        atol=args.atol,
        comparison=comparison_options,
        repro_dir=args.repro_dir,
        reproduce=reproduce,
        spec=registered,
        checks=args.checks,
        case_layout=args.layout if args.layout and "," not in args.layout else None,
        input_scale=args.input_scale,
    )
    shown = " ".join(",".join(map(str, s)) for s in shapes)
    try:
        outcomes = check_pair(source, options)
    except ConstructionError as error:
        raise UsageError(str(error)) from None
    except WeightTransferError as error:
        raise UsageError(str(error)) from None  # every key, with its fix
    except ModuleCallError as error:
        raise UsageError(f"{name} rejected the input (shapes {shown}, {args.dtype[0]}): "
                         f"{_first_line(error)}") from None  # fmt: skip
    except MemoryError:
        raise UsageError(f"out of memory running {name} on input shapes {shown}") from None
    except ValueError as error:
        raise UsageError(
            f"{name} rejected the input (shapes {shown}): {_first_line(error)}"
        ) from None
    summary = BlockSummary(name, outcomes)
    for outcome in outcomes:
        if not outcome.passed and outcome.reproduce:
            print(f"replay: {outcome.reproduce}", file=sys.stderr)
    from parity.environment import fingerprint

    report = Report([summary], tuple(args.dtype), examples, args.seed, 0.0, fingerprint(),
                    checks=tuple(args.checks))  # fmt: skip
    report.seconds = sum(o.seconds for o in outcomes)
    if fuzzing:
        report.note = (
            f"{examples} hypothesis-drawn case(s) per dtype on input shapes {shown}"
            + "".join(f", {n}={lo}:{hi}" for n, (lo, hi) in dims.items())
            + "".join(f", {n} in {v}" for n, v in init_ranges.items())
        )
    else:
        variants = len({o.case for o in outcomes}) - 1
        report.note = (
            f"{examples} seed(s) from {args.seed} x {len(args.dtype)} dtype(s) on input shapes "
            f"{shown}" + (f" and {variants} derived variant(s)" if variants > 0 else "")
        )
    return _emit(report, args)


def _cmd_bench(args) -> int:
    from parity.bench import RENDERERS, render_markdown, run_bench

    for option in ("repeats", "calls"):
        if getattr(args, option) < 1:
            raise UsageError(f"--{option} must be >= 1; received {getattr(args, option)}")
    if args.warmup < 1:
        raise UsageError(f"--warmup must be >= 1 (the first call traces); received {args.warmup}")
    if args.batch < 0:
        raise UsageError(f"--batch must be >= 0; received {args.batch}")
    peers = _BENCH_PEERS
    if args.peers is not None:
        peers = tuple(p.strip() for p in args.peers.split(",") if p.strip())
        unknown = [p for p in peers if p not in _BENCH_PEERS]
        if unknown or not peers:
            raise UsageError(
                f"--peers takes a comma-separated subset of {','.join(_BENCH_PEERS)}; "
                f"received {args.peers!r}"
            )
    if args.harness and args.peers is not None:
        raise UsageError("--harness times assert_parity and the bare forward; drop --peers")
    report = run_bench(
        _lookup_specs(args.block),
        repeats=args.repeats,
        calls=args.calls,
        warmup=args.warmup,
        batch=args.batch or None,
        peers=peers,
        harness=args.harness,
        progress=lambda line: print(line, file=sys.stderr, flush=True),
        tune_malloc=not args.no_malloc_tuning,
    )
    text = RENDERERS[args.format](report)
    if args.out:
        try:
            with open(args.out, "w", encoding="utf-8") as handle:
                handle.write(text + "\n")
        except OSError as error:
            print(RENDERERS["table"](report))  # the timings are never lost to a bad --out
            raise UsageError(
                f"cannot write --out {args.out!r}: {error.strerror or error}"
            ) from None
        print(f"wrote {args.format} bench results to {args.out}", file=sys.stderr)
    else:
        print(text)
    if args.readme:
        from parity.docs import write_section

        try:
            write_section(args.readme, "bench", render_markdown(report))
        except (OSError, ValueError) as error:
            raise UsageError(f"cannot update --readme {args.readme!r}: {error}") from None
        print(f"wrote the bench table into {args.readme}", file=sys.stderr)
    return EXIT_PASS


def _cmd_docs(args) -> int:
    from parity.docs import blocks_table, read_section, write_section
    from parity.specs import SPECS

    table = blocks_table(SPECS.values())
    try:
        if args.check:
            with open(args.readme, encoding="utf-8") as handle:
                current = read_section(handle.read(), "blocks")
            if current.strip() != table.strip():
                print(f"{args.readme}: the blocks table is stale; run `parity docs`")
                return EXIT_MISMATCH
            print(f"{args.readme}: the blocks table is up to date")
            return EXIT_PASS
        changed = write_section(args.readme, "blocks", table)
    except (OSError, ValueError) as error:
        raise UsageError(f"cannot update {args.readme!r}: {error}") from None
    print(f"{args.readme}: blocks table {'rewritten' if changed else 'already up to date'}")
    return EXIT_PASS


def _cmd_replay(args) -> int:
    import time

    from parity.environment import fingerprint
    from parity.errors import ModuleCallError
    from parity.report import BlockSummary, Report, outcome_from_result
    from parity.repro import replay

    began = time.perf_counter()
    try:
        result = replay(args.file, allow_imports=tuple(args.allow_import))
    except ModuleCallError as error:
        raise UsageError(f"{_first_line(error)}") from None
    except ValueError as error:
        raise UsageError(str(error) if "transfer" in str(error) else _first_line(error)) from None
    summary = BlockSummary(result.context.name)
    summary.outcomes.append(
        outcome_from_result(summary.block, "replay", args.file, result, time.perf_counter() - began)
    )
    report = Report([summary], (result.dtype,), 0, result.context.seed or 0,
                    time.perf_counter() - began, fingerprint())  # fmt: skip
    if args.format == "table" and not args.out:
        print(result.message)
        return report.exit_status()
    return _emit(report, args)


@contextlib.contextmanager
def _quiet_stderr(enabled: bool) -> Iterator[None]:
    """Silence file descriptor 2 (TensorFlow's C++/absl start-up logs bypass Python)."""
    if not enabled:
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(null)


def _load_frameworks(quiet: bool) -> None:
    """Import both frameworks and run one op each, with their start-up noise silenced."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    with _quiet_stderr(quiet):
        import tensorflow as tf
        import torch

        tf.constant(1.0) + 1.0
        torch.ones(1) + 1
    if quiet:
        # TensorFlow's Python warnings too: Keras runs every grouped convolution on CPU through
        # a fresh XLA tf.function, which logs a "retracing" warning per call (ACmix's dep_conv).
        tf.get_logger().setLevel("ERROR")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `parity` console script."""
    parser = _parser()
    args = parser.parse_args(argv)
    # Like `python -m`, resolve the user's own modules (`package.module:Class`) from the working
    # directory.
    if os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.insert(0, os.getcwd())
    commands = {
        "report": _cmd_report,
        "check": _cmd_check,
        "replay": _cmd_replay,
        "bench": _cmd_bench,
        "docs": _cmd_docs,
    }
    try:
        _load_frameworks(quiet=not args.verbose)  # the registry imports both frameworks
        return commands[args.command](args)
    except UsageError as error:
        print(f"parity {args.command}: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print(f"parity {args.command}: interrupted", file=sys.stderr)
        return EXIT_USAGE
    except Exception as error:  # a bug of ours or an environment problem: still one line
        if args.verbose:
            raise
        print(
            f"parity {args.command}: error: unexpected {type(error).__name__}: "
            f"{_first_line(error)} (rerun with -v for the traceback)",
            file=sys.stderr,
        )
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
