"""The per-dtype tolerance table and the rule that rtol and atol travel together.

Comparison rule (see `compare.py`): an element passes when
    |actual - expected| <= atol * scale + rtol * |expected|
where `scale` is the root-mean-square of the finite expected values. Scaling atol by the output's
own size means an output whose values are ~1e-3 is judged as strictly as one whose values are ~1:
atol cannot wave a tiny output through.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Tolerance:
    """An (rtol, atol) pair; atol is relative to the output's RMS scale (see module docstring)."""

    rtol: float
    atol: float

    def __post_init__(self) -> None:
        for name in ("rtol", "atol"):
            value = getattr(self, name)
            if not isinstance(value, int | float) or not np.isfinite(value) or value < 0:
                raise ValueError(
                    f"Expected `{name}` to be a finite non-negative number. Received: {name}={value!r}"
                )


# One row per dtype, each with its reason.
DEFAULT_TOLERANCES: dict[str, Tolerance] = {
    # float64 is the referee. Summation-order differences between oneDNN/Eigen and torch's
    # kernels are ~1e-15 of the output scale; 1e-10 leaves room for long reductions yet catches
    # an epsilon mistake (~5e-4), a missing bias or a transposed kernel by many orders.
    "float64": Tolerance(rtol=1e-10, atol=1e-10),
    # float32 near torch.testing's (rtol 1.3e-6, atol 1e-5). rtol is raised to 1e-5 because the
    # blocks chain reductions of up to ~4600 terms (512-channel 3x3 convs) and softmaxes, whose
    # float32 rounding differences between frameworks reach a few 1e-6 of the output scale.
    "float32": Tolerance(rtol=1e-5, atol=1e-5),
}


def resolve_tolerance(
    dtype: str, rtol: float | None = None, atol: float | None = None
) -> Tolerance:
    """Return the tolerance for `dtype`: the table's default, or the (rtol, atol) given together."""
    if (rtol is None) != (atol is None):
        raise ValueError(
            "Expected `rtol` and `atol` to be given together or not at all. "
            f"Received: rtol={rtol!r}, atol={atol!r}"
        )
    if rtol is not None:
        return Tolerance(rtol=float(rtol), atol=float(atol))
    try:
        return DEFAULT_TOLERANCES[dtype]
    except KeyError:
        raise ValueError(
            f"No default tolerance for dtype {dtype!r}; expected one of "
            f"{sorted(DEFAULT_TOLERANCES)}. Received: dtype={dtype!r}"
        ) from None
