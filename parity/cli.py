"""The `parity` command line: `parity report` over the registry, `parity check` one case.

Exit status: 0 all passed, 1 a parity mismatch, 2 a usage or input error (with a one-line
message, not a traceback).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

EXIT_PASS, EXIT_MISMATCH, EXIT_USAGE = 0, 1, 2
FORMATS = ("table", "markdown", "json", "html", "junit")  # the keys of parity.report.RENDERERS


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


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="parity", description="Prove Keras ports equal to their PyTorch originals."
    )
    commands = parser.add_subparsers(dest="command", required=True)

    report = commands.add_parser("report", help="parity report over every registered block pair")
    report.add_argument("--examples", type=int, default=25, help="generated cases per block (25)")
    report.add_argument("--dtype", type=_dtypes, default=("float32", "float64"))
    report.add_argument("--seed", type=int, default=0, help="seed of the generated cases (0)")
    report.add_argument("--block", action="append", default=None, help="only this block (repeat)")
    report.add_argument("--no-smoke", action="store_true", help="skip the fixed smoke cases")
    report.add_argument("--format", choices=FORMATS, default="table")
    report.add_argument("--out", default=None, help="write the rendered report to this file")

    check = commands.add_parser("check", help="check one case of a registered block pair")
    check.add_argument("block", help="a registered block name (see `parity report`)")
    check.add_argument("--init", default="{}", help="constructor arguments as JSON")
    check.add_argument("--input-shape", type=_shape, action="append", required=True)
    check.add_argument("--extra", action="append", default=[], help="NAME=mask|float:SHAPE")
    check.add_argument("--shared-input", action="store_true", help="feed one array to all inputs")
    check.add_argument("--dtype", type=_dtypes, default=("float32", "float64"))
    check.add_argument("--seed", type=int, default=0)
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
    from parity.report import RENDERERS, run_report

    if args.examples < 0:
        raise UsageError(f"--examples must be >= 0; received {args.examples}")
    specs = _lookup_specs(args.block)
    report = run_report(
        specs,
        examples=args.examples,
        dtypes=args.dtype,
        seed=args.seed,
        smoke=not args.no_smoke,
        progress=lambda line: print(line, file=sys.stderr, flush=True),
    )
    text = RENDERERS[args.format](report)
    if args.out:
        with open(args.out, "w", encoding="utf-8") as handle:
            handle.write(text + "\n")
        print(f"wrote {args.format} report to {args.out}", file=sys.stderr)
        if args.format != "table":
            print(RENDERERS["table"](report))
    else:
        print(text)
    return EXIT_PASS if report.passed else EXIT_MISMATCH


def _parse_extra(text: str):
    from parity.spec import ExtraInput

    try:
        name, rest = text.split("=", 1)
        kind, shape = rest.split(":", 1)
    except ValueError:
        raise UsageError(f"--extra expects NAME=mask|float:SHAPE; received {text!r}") from None
    if kind not in ("mask", "float"):
        raise UsageError(f"--extra kind must be mask or float; received {kind!r} in {text!r}")
    try:
        return name, ExtraInput(kind, _shape(shape))
    except argparse.ArgumentTypeError as error:
        raise UsageError(f"--extra {text!r}: {error}") from None


def _cmd_check(args) -> int:
    from parity.runner import run_case
    from parity.spec import Case

    (spec,) = _lookup_specs([args.block])
    try:
        config = json.loads(args.init)
    except json.JSONDecodeError as error:
        raise UsageError(
            f"--init is not valid JSON ({error.msg} at column {error.colno})"
        ) from None
    if not isinstance(config, dict):
        raise UsageError(f"--init must be a JSON object; received {args.init!r}")
    case = Case(
        config=config,
        input_shapes=tuple(args.input_shape),
        extra_inputs=dict(_parse_extra(e) for e in args.extra),
        shared_input=args.shared_input,
    )
    worst = EXIT_PASS
    for dtype in args.dtype:
        try:
            result = run_case(spec, case, dtype=dtype, seed=args.seed)
        except (ValueError, TypeError) as error:
            raise UsageError(f"{spec.name} rejected the case: {error}".splitlines()[0]) from None
        print(result.message)
        if not result.passed:
            worst = EXIT_MISMATCH
    return worst


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `parity` console script."""
    import os

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        if args.command == "report":
            return _cmd_report(args)
        return _cmd_check(args)
    except UsageError as error:
        print(f"parity {args.command}: error: {error}", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
