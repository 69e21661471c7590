"""Hypothesis strategies: configurations and input shapes that satisfy each block's constraints.

Primitives here are block-agnostic; each block's `Case` strategy lives next to its spec in
`specs.py` and is composed from these. Values never come from hypothesis' `arrays()` (which fills
most elements with one value and hides transposed axes): a case carries shapes, and the runner
draws values from a numpy RNG seeded by a hypothesis-drawn seed.
"""

from __future__ import annotations

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

from parity.spec import Case

SEEDS = st.integers(min_value=0, max_value=2**32 - 1)


def _check_bounds(name: str, low: int, high: int) -> None:
    if low > high:
        raise InvalidArgument(f"min_{name}={low} is larger than max_{name}={high}")
    if low < 1:
        raise InvalidArgument(f"min_{name} must be at least 1. Received: min_{name}={low}")


def sizes(*, min_size: int = 1, max_size: int = 12) -> st.SearchStrategy[int]:
    """Positive sizes in `[min_size, max_size]`; defaults 1 and 12. Shrinks towards `min_size`."""
    _check_bounds("size", min_size, max_size)
    return st.integers(min_size, max_size)


def batches(*, max_batch: int = 3) -> st.SearchStrategy[int]:
    """Batch sizes in `[1, max_batch]`; defaults to 3. Shrinks towards batch 1."""
    _check_bounds("batch", 1, max_batch)
    return st.integers(1, max_batch)


def odd_kernels(*, max_kernel: int = 7) -> st.SearchStrategy[int]:
    """Odd kernel sizes in `[1, max_kernel]`; defaults to 7. Shrinks towards 1."""
    _check_bounds("kernel", 1, max_kernel)
    return st.integers(0, (max_kernel - 1) // 2).map(lambda i: 2 * i + 1)


@st.composite
def image_shapes(
    draw: st.DrawFn, channel: int, *, max_side: int = 12, max_batch: int = 3, min_side: int = 1
) -> tuple[int, int, int, int]:
    """NCHW shapes `(B, channel, H, W)` with H and W drawn independently.

    * max_side: largest height or width; defaults to 12.
    * min_side: smallest height or width; defaults to 1.
    * max_batch: largest batch; defaults to 3.
    Shrinks towards batch 1 and a `min_side` x `min_side` image.
    """
    _check_bounds("side", min_side, max_side)
    batch = draw(batches(max_batch=max_batch), label="batch")
    height = draw(st.integers(min_side, max_side), label="height")
    width = draw(st.integers(min_side, max_side), label="width")
    return (batch, channel, height, width)


def image_case(config: dict, shape: tuple[int, ...]) -> Case:
    """A `Case` with one NCHW image input."""
    return Case(config=config, input_shapes=(tuple(shape),))


# Our hypothesis profiles, as data. The harness never registers or loads a profile globally (that
# would change every other hypothesis test in the process): our own test suite registers them in
# its conftest, and the pytest plugin applies the chosen one to parity's own fixture only.
_COMMON = {
    "deadline": None,  # the first Keras call traces; timings belong in benchmarks
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large],
    "print_blob": True,
}
PROFILES: dict[str, dict] = {
    "dev": {"max_examples": 5, **_COMMON},
    "ci": {"max_examples": 10, "derandomize": True, "database": None, **_COMMON},
    "thorough": {"max_examples": 100, **_COMMON},
}


def profile_settings(name: str) -> settings:
    """The hypothesis `settings` of our profile `name` (`dev`, `ci` or `thorough`)."""
    if name not in PROFILES:
        raise ValueError(
            f"Expected a parity profile, one of {sorted(PROFILES)}. Received: {name!r}"
        )
    return settings(**PROFILES[name])
