"""Shapes and configurations beyond the one a user typed: derived variants and hypothesis fuzzing.

A port that is right only at batch 1, only for square images, only for one head or only at unit
input scale passes a check at one shape. Two remedies:

* **Derived variants** of one concrete shape (the default of `parity check`): batch 1 and batch
  > 1, H != W (or H and W swapped), odd sizes, and inputs 100x larger (run in float64, where the
  comparison is exact enough not to flag saturating softmaxes). A variant torch itself rejects is
  *not applicable*, with torch's message, never a failure.
* **Symbolic shapes** drawn by hypothesis: `B,16,H,W` with `--dim B=1:4 --dim H=1:32`, and
  configuration ranges (`--init-range heads=1,2,4`). Failures shrink to the smallest shape and
  configuration, are stored in the hypothesis database (`.hypothesis/` in the working directory)
  so the next run tries them first, and get a repro file.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

Dimension = int | str
SCALE = 100.0
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def parse_shape(text: str) -> tuple[Dimension, ...]:
    """`"2,16,H,W"` -> `(2, 16, "H", "W")`; `ValueError` naming the bad part."""
    parts = [part.strip() for part in str(text).split(",")]
    shape: list[Dimension] = []
    for part in parts:
        if part.isdigit() and int(part) >= 1:
            shape.append(int(part))
        elif _NAME.match(part):
            shape.append(part)
        else:
            raise ValueError(
                f"expected positive sizes or dimension names such as 2,16,H,W; received {text!r} "
                f"(bad part {part!r})"
            )
    return tuple(shape)


def parse_dim(text: str) -> tuple[str, int, int]:
    """`"H=1:32"` -> `("H", 1, 32)`."""
    match = re.fullmatch(r"\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(\d+)\s*:\s*(\d+)\s*", text)
    if not match:
        raise ValueError(f"--dim expects NAME=LOW:HIGH such as H=1:32; received {text!r}")
    name, low, high = match.group(1), int(match.group(2)), int(match.group(3))
    if low < 1 or low > high:
        raise ValueError(f"--dim {text!r}: expected 1 <= LOW <= HIGH")
    return name, low, high


def parse_init_range(text: str) -> tuple[str, list[Any]]:
    """`"heads=1,2,4"` -> `("heads", [1, 2, 4])` (each value read as JSON, else a string)."""
    name, sep, rest = text.partition("=")
    name = name.strip()
    if not sep or not _NAME.match(name) or not rest.strip():
        raise ValueError(
            f"--init-range expects NAME=V1,V2,... such as heads=1,2,4; received {text!r}"
        )
    values = []
    for raw in rest.split(","):
        raw = raw.strip()
        try:
            values.append(json.loads(raw))
        except json.JSONDecodeError:
            values.append(raw)
    return name, values


def symbols(shapes: Sequence[Sequence[Dimension]]) -> list[str]:
    """The dimension names used in `shapes`, in order of first use."""
    names: list[str] = []
    for shape in shapes:
        for dim in shape:
            if isinstance(dim, str) and dim not in names:
                names.append(dim)
    return names


def concrete(shapes: Sequence[Sequence[Dimension]], sizes: Mapping[str, int]) -> list[tuple]:
    """`shapes` with every name replaced by its size."""
    return [tuple(sizes[d] if isinstance(d, str) else d for d in shape) for shape in shapes]


# ---------------------------------------------------------------------------------------------
# Derived variants of one concrete shape.


@dataclass(frozen=True)
class Variant:
    """One derived case: its label, the input shapes and the input scale."""

    label: str
    shapes: tuple[tuple[int, ...], ...]
    scale: float = 1.0


def _spatial_axes(layout_name: str, rank: int) -> tuple[int, ...]:
    if layout_name == "image" and rank >= 4:
        return (2, 3)
    if layout_name == "channels_last" and rank == 4:
        return (1, 2)
    if layout_name == "sequence":
        return (1,)
    return ()


def derived_variants(
    shapes: Sequence[tuple[int, ...]], layouts: Sequence[str], *, with_extras: bool = False
) -> list[Variant]:
    """Variants of concrete `shapes` (one layout name per input) that break the symmetries a port
    can hide behind. With keyword extras (masks sized to the inputs), only the scale changes."""
    shapes = [tuple(s) for s in shapes]
    variants: list[Variant] = []

    def add(label: str, new: list[tuple[int, ...]], scale: float = 1.0) -> None:
        candidate = Variant(label, tuple(new), scale)
        if (candidate.shapes, scale) != (tuple(shapes), 1.0) and all(
            (v.shapes, v.scale) != (candidate.shapes, scale) for v in variants
        ):
            variants.append(candidate)

    if not with_extras:
        batch = shapes[0][0]
        other = 1 if batch > 1 else 2
        add(f"batch {other}", [(other, *s[1:]) for s in shapes])
        axes = [_spatial_axes(lay, len(s)) for lay, s in zip(layouts, shapes, strict=True)]
        if all(len(a) == 2 for a in axes) and all(axes):
            first = shapes[0]
            h, w = first[axes[0][0]], first[axes[0][1]]
            label = f"H and W swapped ({w}x{h})" if h != w else f"H != W ({h}x{w + 1})"

            def reshape(shape, ax, new_h, new_w):
                values = list(shape)
                values[ax[0]], values[ax[1]] = new_h, new_w
                return tuple(values)

            if h != w:
                add(
                    label,
                    [reshape(s, a, s[a[1]], s[a[0]]) for s, a in zip(shapes, axes, strict=True)],
                )
            else:
                add(
                    label,
                    [
                        reshape(s, a, s[a[0]], s[a[1]] + 1)
                        for s, a in zip(shapes, axes, strict=True)
                    ],
                )
            odd = [
                reshape(s, a, _odd(s[a[0]]), _odd(s[a[1]] + 2))
                for s, a in zip(shapes, axes, strict=True)
            ]
            add("odd sizes", odd)
        elif all(len(a) == 1 for a in axes) and all(axes):
            add("one token more", [tuple(d + 1 if i == a[0] else d for i, d in enumerate(s))
                                   for s, a in zip(shapes, axes, strict=True)])  # fmt: skip
    add(f"inputs x{SCALE:g}", list(shapes), SCALE)
    return variants


def _odd(size: int) -> int:
    return size + 1 if size % 2 == 0 else size + 2


# ---------------------------------------------------------------------------------------------
# Hypothesis fuzzing of symbolic shapes and configuration ranges.


@dataclass
class FuzzOutcome:
    """What a fuzz run found: every example's result, the minimal failure if any."""

    results: list[tuple[dict, list[tuple], int, Any]] = field(default_factory=list)
    not_applicable: list[str] = field(default_factory=list)
    failure: tuple[dict, list[tuple], int, Any] | None = (
        None  # shrunk: config, shapes, seed, result
    )


class _FailedExampleError(Exception):
    def __init__(self, example):
        super().__init__("parity mismatch")
        self.example = example


def fuzz(
    run_one: Callable[[dict, list[tuple], int], Any],
    *,
    shapes: Sequence[Sequence[Dimension]],
    dims: Mapping[str, tuple[int, int]],
    init_ranges: Mapping[str, Sequence[Any]] | None = None,
    examples: int = 10,
    seed: int = 0,
    identity: str = "",
    database: Any = "default",
    is_not_applicable: Callable[[BaseException], str] | None = None,
) -> FuzzOutcome:
    """Draw `examples` (config, shapes, seed) cases with hypothesis and run `run_one` on each.

    `run_one(config_changes, concrete_shapes, value_seed)` returns a result with `.passed` (and
    raises for errors). `seed` 0 draws afresh and keeps failures in the database; another seed
    reproduces its draws exactly (and uses no database). An exception for which
    `is_not_applicable` returns a message is an example
    torch rejects: hypothesis is told to discard it. The first failure is shrunk to the smallest
    example; `identity` keys the hypothesis database entry (one per pair and template).
    """
    from hypothesis import HealthCheck, Phase, given, reject, settings
    from hypothesis import seed as hypothesis_seed
    from hypothesis import strategies as st

    names = symbols(shapes)
    missing = [name for name in names if name not in dims]
    if missing:
        raise ValueError(f"dimension(s) {missing} have no range: add --dim {missing[0]}=LOW:HIGH")
    strategy = st.fixed_dictionaries(
        {
            "sizes": st.fixed_dictionaries({n: st.integers(*dims[n]) for n in names}),
            "config": st.fixed_dictionaries(
                {
                    name: st.sampled_from(list(values))
                    for name, values in (init_ranges or {}).items()
                }
            ),
            "seed": st.integers(0, 2**31 - 1),
        }
    )
    outcome = FuzzOutcome()

    def body(example):
        sizes, config, value_seed = example["sizes"], example["config"], example["seed"]
        concrete_shapes = concrete(shapes, sizes)
        try:
            result = run_one(dict(config), concrete_shapes, value_seed)
        except Exception as error:
            reason = is_not_applicable(error) if is_not_applicable else ""
            if reason:
                outcome.not_applicable.append(f"{concrete_shapes} {config}: {reason}")
                reject()
            raise
        outcome.results.append((dict(config), concrete_shapes, value_seed, result))
        if not result.passed:
            raise _FailedExampleError((dict(config), concrete_shapes, value_seed, result))

    options = {
        "max_examples": examples,
        "deadline": None,
        "suppress_health_check": list(HealthCheck),
        "phases": [Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink],
        "print_blob": False,
        "report_multiple_bugs": False,
    }
    if database == "default":
        # Resolved now, in the working directory of this run (hypothesis' own default is fixed
        # when it is imported), so failures are found again by the next run from here.
        import os

        from hypothesis.database import DirectoryBasedExampleDatabase

        database = DirectoryBasedExampleDatabase(
            os.path.join(os.getcwd(), ".hypothesis", "examples")
        )
    options["database"] = database
    # Hypothesis' own defaults, not whatever profile the caller loaded (a `derandomize` profile
    # would silently switch the database off).
    base = settings.get_profile("default")
    test = settings(base, **options)(given(example=strategy)(body))
    if seed:
        # A fixed seed reproduces the draws exactly; hypothesis then keeps no database.
        test = hypothesis_seed(seed)(test)
    test._hypothesis_internal_add_digest = hashlib.sha256(identity.encode()).digest()
    try:
        test()
    except _FailedExampleError as failure:
        outcome.failure = failure.example
    return outcome
