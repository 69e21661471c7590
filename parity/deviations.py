"""Per-sub-layer known deviations ("allowances"): a mismatch that is one framework op's own
precision, declared with a reason, passes and is named in the report.

    compare(..., allow={"act": (1e-8, "TF's float64 erf GELU")})
    parity check ... --allow act=1e-8:"TF's float64 erf GELU"

The rule, after localisation: every sub-layer that fails when fed torch's input (a local
divergence) must be declared, its local error within its tolerance, and the output within the
largest declared tolerance. Anything else keeps the mismatch verdict. A tiny float64 mismatch
localised to one sub-layer gets a hint saying how to declare it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from parity.spec import KnownDeviation
from parity.tolerance import Tolerance

# A float64 mismatch smaller than this, localised to one sub-layer, looks like one framework
# op's float64 precision (TF's erf GELU: 5e-9; MultiHeadAttention: 2.9e-8) rather than a bug
# (an epsilon mistake is ~5e-4, a layout bug ~1).
FLOAT64_OP_PRECISION = 1e-6


def normalize_allow(allow: Any) -> tuple[KnownDeviation, ...]:
    """`allow` as per-sub-layer `KnownDeviation`s.

    Accepts a mapping `{path: tolerance}`, `{path: (tolerance, reason)}` or
    `{path: KnownDeviation}`, or a sequence of `KnownDeviation`s with `sub_layer` set.
    """
    if allow is None:
        return ()
    deviations = []
    if isinstance(allow, Mapping):
        for path, value in allow.items():
            if not isinstance(path, str) or not path:
                raise ValueError(f"`allow` keys are torch sub-layer paths. Received: {path!r}")
            if isinstance(value, KnownDeviation):
                deviations.append(_with_path(value, path))
                continue
            tolerance, reason = (value, "") if not isinstance(value, tuple | list) else (*value,)
            if not isinstance(tolerance, int | float) or isinstance(tolerance, bool):
                raise ValueError(
                    f"`allow[{path!r}]` must be a tolerance or (tolerance, reason). "
                    f"Received: {value!r}"
                )
            deviations.append(
                KnownDeviation(
                    reason=reason or "declared by the caller",
                    tolerance=Tolerance(rtol=float(tolerance), atol=float(tolerance)),
                    sub_layer=path,
                )
            )
        return tuple(deviations)
    if isinstance(allow, Sequence) and not isinstance(allow, str):
        for value in allow:
            if not isinstance(value, KnownDeviation) or value.sub_layer is None:
                raise ValueError(
                    "A sequence `allow` holds KnownDeviation(sub_layer=..., tolerance=..., "
                    f"reason=...). Received: {value!r}"
                )
            deviations.append(value)
        return tuple(deviations)
    raise ValueError(
        f"Expected `allow` to be a mapping of sub-layer path -> tolerance. Received: {allow!r}"
    )


def _with_path(deviation: KnownDeviation, path: str) -> KnownDeviation:
    if deviation.sub_layer not in (None, path):
        raise ValueError(
            f"`allow[{path!r}]` holds a deviation for sub-layer {deviation.sub_layer!r}"
        )
    return KnownDeviation(
        reason=deviation.reason,
        tolerance=deviation.tolerance,
        dtypes=deviation.dtypes,
        applies_when=deviation.applies_when,
        sub_layer=path,
    )


def _covering(path: str, allowances: Sequence[KnownDeviation]) -> KnownDeviation | None:
    for allowance in allowances:
        name = allowance.sub_layer
        if path == name or path.startswith(name + ".") or path.startswith(name + "["):
            return allowance
    return None


def local_divergences(rows) -> list:
    """The localisation rows that fail on torch's own input (or, without a local check, the
    first propagated failure)."""
    local = [row for row in rows if row.local_passed is False]
    if local:
        return local
    return [row for row in rows if row.first]


def excuse(result, allowances: Sequence[KnownDeviation]) -> None:
    """Turn `result` into a pass when its mismatch is fully covered by `allowances` (see the
    module docstring); otherwise add the float64-precision hint where it applies."""
    if result.verdict != "mismatch" or result.problem or result.audit or not result.localization:
        return
    divergences = local_divergences(result.localization)
    if allowances and divergences:
        covered = []
        for row in divergences:
            allowance = _covering(row.path, allowances)
            error = row.local_max_rel if row.local_max_rel is not None else row.propagated_max_rel
            if allowance is None or error is None:
                break
            bound = allowance.tolerance.rtol + allowance.tolerance.atol
            if error > bound:
                break
            covered.append((row, allowance, error, bound))
        else:
            widest = max(bound for *_, bound in covered)
            if result.max_rel <= widest:
                result.passed = True
                result.allowed = [
                    f"{row.path}: {allowance.reason} (local max rel {error:.1e} <= {bound:.0e})"
                    for row, allowance, error, bound in covered
                ]
                result.notes.append("passed with declared deviations: " + "; ".join(result.allowed))
                return
    if (
        result.dtype == "float64"
        and result.max_rel < FLOAT64_OP_PRECISION
        and len(divergences) == 1
    ):
        row = divergences[0]
        error = row.local_max_rel if row.local_max_rel is not None else row.propagated_max_rel
        if error is None or not 0 < error < FLOAT64_OP_PRECISION:
            return
        suggestion = f"{10.0 ** math.ceil(math.log10(2 * max(error, 1e-300))):.0e}"
        result.notes.append(
            f"this looks like one framework op's float64 precision, not a bug: max rel "
            f"{result.max_rel:.1e}, localised to `{row.path}` ({row.torch_type} -> "
            f"{row.keras_type}, local {error:.1e}). If that is expected, declare it: "
            f"--allow {row.path}={suggestion}:'why' (Python: allow={{{row.path!r}: "
            f"({suggestion}, 'why')}})"
        )
