"""Test set-up. The hypothesis profile is loaded by the parity pytest plugin
(`--parity-profile`, else $HYPOTHESIS_PROFILE, else ci under $CI, else dev)."""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

pytest_plugins = ["pytester"]
