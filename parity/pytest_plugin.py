"""pytest plugin (registered by the `pytest11` entry point): the `parity` fixture,
`--parity-profile`, readable test ids, and failures shown with the full parity report.

A user's own test is three lines:

    def test_my_port(parity):
        x = np.random.default_rng(0).standard_normal((2, 16, 9, 7))
        parity.check(MyTorchBlock(16), MyKerasBlock(16, dtype="float64"), x)

The plugin changes nothing outside its own fixture: it registers and loads no hypothesis profile
(the user's `HYPOTHESIS_PROFILE` and every other hypothesis test keep their settings) and imports
neither framework until a parity test runs.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

PROFILES = ("dev", "ci", "thorough")


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("parity", "attention-parity")
    group.addoption(
        "--parity-profile",
        choices=PROFILES,
        default=None,
        help="hypothesis settings for the parity fixture's own fuzzing (default: dev); other "
        "hypothesis tests are not affected",
    )
    group.addoption(
        "--parity-repro-dir",
        default=None,
        help="write repro files of failing checks here (default: the test's tmp_path)",
    )


def pytest_report_header(config: pytest.Config) -> str | None:
    chosen = config.getoption("--parity-profile", default=None)
    return f"parity: profile {chosen}" if chosen else None


def pytest_make_parametrize_id(config: pytest.Config, val: object, argname: str) -> str | None:
    # Only our own objects get ids; anything else is left to pytest (and to other plugins).
    spec_module = __import__("sys").modules.get("parity.spec")
    if spec_module is None:
        return None
    if isinstance(val, spec_module.ModuleSpec):
        return val.name
    if isinstance(val, spec_module.Case):
        return val.label.replace(" ", "_") if val.label else None
    return None


class ParityChecker:
    """What the `parity` fixture returns: `check` (assert) and `compare` (inspect)."""

    def __init__(self, repro_dir: Path, profile: str = "dev"):
        self.repro_dir = repro_dir
        self.profile = profile

    @property
    def settings(self):
        """The hypothesis `settings` of the chosen `--parity-profile` (for the user's fuzzing)."""
        from parity.strategies import profile_settings

        return profile_settings(self.profile)

    def compare(self, torch_module, keras_layer, *inputs, **options: Any):
        """`parity.compare` unchanged: returns a `ParityResult`."""
        from parity.api import compare

        return compare(torch_module, keras_layer, *inputs, **options)

    def check(
        self,
        torch_module,
        keras_layer,
        *inputs,
        layout: Any = "image",
        init: Mapping[str, Any] | None = None,
        **options: Any,
    ):
        """Assert parity; on failure raise `ParityError` with the full report.

        With `init` (the constructor arguments both classes take), a failing check also writes
        a repro file and the report ends with the `parity replay FILE` command.
        """
        __tracebackhide__ = True
        from parity.api import comparison_from_options
        from parity.errors import ParityError
        from parity.runner import run_comparison

        comparison = comparison_from_options(
            torch_module,
            keras_layer,
            inputs,
            layout=layout,
            init=init,
            repro_dir=self.repro_dir if init is not None else None,
            reproduce=None if init else "pass init={...} to parity.check() to get a repro file",
            **options,
        )
        result = run_comparison(comparison)
        if not result.passed:
            raise ParityError(result.message, result)
        return result


@pytest.fixture
def parity(request: pytest.FixtureRequest, tmp_path: Path) -> ParityChecker:
    """Check a torch module against its Keras port: `parity.check(torch, keras, *inputs)`."""
    configured = request.config.getoption("--parity-repro-dir")
    directory = Path(configured) if configured else tmp_path
    os.makedirs(directory, exist_ok=True)
    profile = request.config.getoption("--parity-profile") or "dev"
    return ParityChecker(directory, profile)
