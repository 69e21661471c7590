"""Generic parity tests parameterised over the registry: one test body, every block pair."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

import parity
from parity.runner import run_case
from parity.strategies import SEEDS

SPECS = list(parity.SPECS.values())
DTYPES = ("float32", "float64")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("spec", SPECS, ids=str)
@given(data=st.data())
def test_generated_case_matches_reference(spec, dtype, data):
    """The Keras port matches the torch reference on generated configs, shapes and values."""
    case = data.draw(spec.cases(), label="case")
    seed = data.draw(SEEDS, label="seed")
    result = run_case(spec, case, dtype=dtype, seed=seed)
    assert result.passed, result.message


SMOKE = [(spec, case) for spec in SPECS for case in spec.fixed_cases]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(
    ("spec", "case"), SMOKE, ids=[f"{s.name}-{c.label or i}" for i, (s, c) in enumerate(SMOKE)]
)
def test_smoke_case_matches_reference(spec, case, dtype):
    """The upstream README usage and the asymmetric case of every block pass in both dtypes."""
    result = run_case(spec, case, dtype=dtype, seed=1234)
    assert result.passed, result.message
