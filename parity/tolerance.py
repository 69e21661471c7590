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
    # float32: two correct float32 implementations differ by more than torch.testing's defaults
    # (rtol 1.3e-6, atol 1e-5) allow. Measured against the float64 result on ExternalAttention
    # (d_model=512, S=8) on (50, 49, 512): torch float32 alone is off by 1.0e-5 of the output RMS,
    # Keras float32 by 1.8e-5, the two by 2.7e-5 (softmax over 512-term dot products). 1e-4 leaves
    # a ~4x margin and still fails Keras' default BN epsilon (~5e-4) and every layout bug (>1e-2).
    "float32": Tolerance(rtol=1e-4, atol=1e-4),
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
