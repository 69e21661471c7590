"""Test set-up: quiet TF, load our hypothesis profile (dev, ci, thorough)."""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from parity.strategies import load_profile

PROFILE = load_profile()


def pytest_report_header(config):
    return f"hypothesis profile: {PROFILE} (set HYPOTHESIS_PROFILE=dev|ci|thorough)"
