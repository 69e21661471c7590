"""Test set-up: our hypothesis profiles for this project's own suite.

The parity library registers and loads no profile (its pytest plugin must not change anyone
else's suite); this project's conftest does, for its own tests: `$HYPOTHESIS_PROFILE`
(dev / ci / thorough), else `ci` when `$CI` is set (replacing hypothesis' built-in `ci`), else dev.
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from hypothesis import settings

from parity.strategies import PROFILES

pytest_plugins = ["pytester"]

for _name, _values in PROFILES.items():
    settings.register_profile(_name, **_values)
PROFILE = os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") else "dev")
settings.load_profile(PROFILE)


def pytest_report_header(config) -> str:
    return f"hypothesis profile: {PROFILE}"
