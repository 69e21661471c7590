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


def _shape(text: str) -> tuple[int, ...]:
    try:
        shape = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated positive integers such as 2,64,14,14; received {text!r}"
        ) from None
    if not shape or any(d < 1 for d in shape):
        raise argparse.ArgumentTypeError(f"expected positive sizes; received {text!r}")
    return shape


def _add_output_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--format", choices=FORMATS, default="table")
    parser.add_argument("--out", default=None, help="write the rendered report to this file")
    parser.add_argument(
        "--repro-dir",
        default="parity-repro",
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
    report.add_argument("--block", action="append", default=None, help="only this block (repeat)")
    report.add_argument("--no-smoke", action="store_true", help="skip the fixed smoke cases")
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
    check.add_argument("--input-shape", type=_shape, action="append", required=True,
                       help="an input's shape in the torch layout; repeat per positional input")  # fmt: skip
    check.add_argument("--layout", default=None, help="image|sequence|plain, or one per input a,b")
    check.add_argument(
        "--output-layout", default=None, help="layout of the outputs (default: --layout)"
    )
    check.add_argument("--extra", action="append", default=[], help="NAME=mask|float:SHAPE")
    check.add_argument("--shared-input", action="store_true", help="feed one array to all inputs")
    check.add_argument("--dtype", type=_dtypes, default=("float32", "float64"))
    check.add_argument("--examples", type=int, default=1, help="seeds to try (seed, seed+1, ...)")
    check.add_argument("--seed", type=int, default=0)
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
    bench.add_argument("--block", action="append", default=None, help="only this block (repeat)")
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


def _lookup_specs(names: Sequence[str] | None):
    from parity.specs import SPECS

    if not names:
        return list(SPECS.values())
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


def _parse_extra(text: str):
    from parity.spec import ExtraInput

    try:
        name, rest = text.split("=", 1)
        kind, shape = rest.split(":", 1)
    except ValueError:
        raise UsageError(f"--extra expects NAME=mask|float:SHAPE; received {text!r}") from None
    if not name.isidentifier():
        raise UsageError(f"--extra NAME must be a keyword argument name; received {name!r}")
    if kind not in ("mask", "float"):
        raise UsageError(f"--extra kind must be mask or float; received {kind!r} in {text!r}")
    try:
        return name, ExtraInput(kind, _shape(shape))
    except argparse.ArgumentTypeError as error:
        raise UsageError(f"--extra {text!r}: {error}") from None


def _json_object(text: str) -> dict:
    try:
        config = json.loads(text)
    except json.JSONDecodeError as error:
        raise UsageError(
            f"--init is not valid JSON ({error.msg} at column {error.colno})"
        ) from None
    if not isinstance(config, dict):
        raise UsageError(f"--init must be a JSON object; received {text!r}")
    return config


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
    try:
        return cls(**config, **extra)
    except Exception as error:
        raise UsageError(
            f"{name}(**{config}) rejected: {type(error).__name__}: {_first_line(error)}"
        ) from None


def _cmd_check(args) -> int:
    import time

    import keras
    import torch

    from parity.errors import ModuleCallError, WeightTransferError
    from parity.layout import resolve_layouts
    from parity.report import BlockSummary, Report, outcome_from_result
    from parity.runner import case_comparison, reproduce_command, run_comparison
    from parity.spec import Case

    config = _json_object(args.init)
    if args.examples < 1:
        raise UsageError(f"--examples must be >= 1; received {args.examples}")
    case = Case(
        config=config,
        input_shapes=tuple(args.input_shape),
        extra_inputs=dict(_parse_extra(e) for e in args.extra),
        shared_input=args.shared_input,
    )
    _check_sizes(case)
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
        overrides = spec.transfer_overrides
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
        overrides = None
    layouts = layout.split(",") if "," in layout else layout
    out_layouts = output_layout.split(",") if "," in output_layout else output_layout
    try:
        resolve_layouts(layouts, len(case.input_shapes))
    except ValueError as error:
        raise UsageError(_first_line(error)) from None

    state = None
    if args.torch_weights:
        from parity.checkpoint import load_state_dict

        try:
            state = load_state_dict(args.torch_weights)
        except ValueError as error:
            raise UsageError(_first_line(error)) from None

    summary = BlockSummary(name)
    for dtype in args.dtype:
        for seed in range(args.seed, args.seed + args.examples):
            began = time.perf_counter()
            torch_module = _construct(name, torch_class, config)
            keras_layer = _construct(name, keras_class, config, dtype=dtype)
            if state is not None:
                from parity.checkpoint import load_into

                try:
                    load_into(
                        torch_module,
                        {k: v.to(getattr(torch, dtype)) for k, v in state.items()},
                    )
                except ValueError as error:
                    raise UsageError(_first_line(error)) from None
            try:
                comparison = case_comparison(
                    torch_module,
                    keras_layer,
                    case,
                    dtype=dtype,
                    seed=seed,
                    layout=layouts,
                    output_layout=out_layouts,
                    name=name,
                    randomize=state is None,
                    overrides=overrides,
                    reproduce=reproduce_command(spec, case, seed, dtype)
                    if args.keras is None
                    else None,
                    repro_dir=args.repro_dir,
                )
                result = run_comparison(comparison)
            except WeightTransferError as error:
                raise UsageError(str(error)) from None  # every key, with its fix
            except ModuleCallError as error:
                shapes = " ".join(",".join(map(str, s)) for s in case.input_shapes)
                raise UsageError(
                    f"{name} rejected the input (shapes {shapes}, {dtype}): {_first_line(error)}"
                ) from None
            except MemoryError:
                raise UsageError(
                    f"out of memory running {name} on input shapes "
                    + " ".join(",".join(map(str, s)) for s in case.input_shapes)
                ) from None
            except ValueError as error:
                shapes = " ".join(",".join(map(str, s)) for s in case.input_shapes)
                raise UsageError(
                    f"{name} rejected the input (shapes {shapes}, {dtype}): {_first_line(error)}"
                ) from None
            summary.outcomes.append(
                outcome_from_result(
                    name, "check", case.describe(), result, time.perf_counter() - began
                )
            )
            if not result.passed and result.context.get("reproduce"):
                print(f"replay: {result.context['reproduce']}", file=sys.stderr)
    from parity.environment import fingerprint

    report = Report([summary], tuple(args.dtype), args.examples, args.seed, 0.0, fingerprint())
    report.seconds = sum(o.seconds for o in summary.outcomes)
    report.note = (
        f"{args.examples} seed(s) from {args.seed} x {len(args.dtype)} dtype(s) on input shapes "
        + " ".join(",".join(map(str, s)) for s in case.input_shapes)
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
    summary = BlockSummary(result.context.get("name", "replay"))
    summary.outcomes.append(
        outcome_from_result(summary.block, "replay", args.file, result, time.perf_counter() - began)
    )
    report = Report([summary], (result.dtype,), 0, result.context.get("seed", 0),
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
