"""Draw a deterministic list of generated cases from a spec's hypothesis strategy (for reports)."""

from __future__ import annotations

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import seed as hypothesis_seed

from parity.spec import Case, ModuleSpec
from parity.strategies import SEEDS


def draw_cases(spec: ModuleSpec, count: int, seed: int = 0) -> list[tuple[Case, int]]:
    """Up to `count` distinct `(case, value_seed)` pairs from `spec.cases()`, reproducible by `seed`.

    Uses hypothesis' generation phase only (no shrinking, no database) so a report is a plain
    sample of the strategy; fewer are returned only if the strategy's space is smaller.
    """
    if count < 0:
        raise ValueError(f"Expected `count` >= 0. Received: count={count}")
    if count == 0:
        return []
    collected: dict[tuple[str, int], tuple[Case, int]] = {}
    # Hypothesis may stop short of max_examples (overruns, a small space): top up with further
    # seeded rounds until `count` distinct cases are drawn or the space is clearly exhausted.
    for round_index in range(8):
        if len(collected) >= count:
            break
        before = len(collected)

        @hypothesis_seed(seed * 1000 + round_index)
        @settings(
            max_examples=count,
            database=None,
            phases=[Phase.generate],
            deadline=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(case=spec.cases(), value_seed=SEEDS)
        def collect(case: Case, value_seed: int) -> None:
            collected.setdefault((case.describe(), value_seed), (case, value_seed))

        collect()
        if round_index > 0 and len(collected) == before:
            break
    return list(collected.values())[:count]
