"""Test set-up: our hypothesis profiles for this project's own suite.

The parity library registers and loads no profile (its pytest plugin must not change anyone
else's suite); this project's conftest does, for its own tests: `$HYPOTHESIS_PROFILE`
(dev / ci / thorough), else `ci` when `$CI` is set (replacing hypothesis' built-in `ci`), else dev.
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pytest
from hypothesis import settings

from parity.strategies import PROFILES

pytest_plugins = ["pytester"]

for _name, _values in PROFILES.items():
    settings.register_profile(_name, **_values)
PROFILE = os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") else "dev")
settings.load_profile(PROFILE)


@pytest.fixture(autouse=True)
def _repro_files_in_tmp(monkeypatch, tmp_path):
    """CLI calls without --repro-dir write their repro files under the test's tmp_path, not
    into the working tree (the CLI's own default stays ./parity-repro)."""
    monkeypatch.setattr("parity.cli.DEFAULT_REPRO_DIR", str(tmp_path / "parity-repro"))


def pytest_report_header(config) -> str:
    return f"hypothesis profile: {PROFILE}"
