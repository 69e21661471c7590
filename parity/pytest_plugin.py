"""pytest plugin (registered by the `pytest11` entry point): the `parity` fixture,
`--parity-profile`, readable test ids, and failures shown with the full parity report.

A user's own test is three lines:

    def test_my_port(parity):
        x = np.random.default_rng(0).standard_normal((2, 16, 9, 7))
        parity.check(MyTorchBlock(16), MyKerasBlock(16, dtype="float64"), x)
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
        help="hypothesis profile for parity tests (default: $HYPOTHESIS_PROFILE, ci when $CI is set, else dev)",
    )
    group.addoption(
        "--parity-repro-dir",
        default=None,
        help="write repro files of failing checks here (default: the test's tmp_path)",
    )


def pytest_configure(config: pytest.Config) -> None:
    from parity.strategies import load_profile

    config._parity_profile = load_profile(config.getoption("--parity-profile"))


def pytest_report_header(config: pytest.Config) -> str:
    return f"parity: hypothesis profile {getattr(config, '_parity_profile', '?')}"


def pytest_make_parametrize_id(config: pytest.Config, val: object, argname: str) -> str | None:
    from parity.spec import Case, ModuleSpec

    if isinstance(val, ModuleSpec):
        return val.name
    if isinstance(val, Case):
        return val.label.replace(" ", "_") if val.label else None
    return None


class ParityChecker:
    """What the `parity` fixture returns: `check` (assert) and `compare` (inspect)."""

    def __init__(self, repro_dir: Path):
        self.repro_dir = repro_dir

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
        from parity.api import compare
        from parity.errors import ParityError

        result = compare(torch_module, keras_layer, *inputs, layout=layout, **options)
        if result.passed:
            return result
        if init is not None:
            from parity.repro import write_repro

            path = write_repro(
                self.repro_dir / f"{type(torch_module).__name__}-{result.dtype}.npz",
                torch_module=torch_module,
                keras_layer=keras_layer,
                init=init,
                inputs=inputs,
                extras=options.get("call_kwargs") or {},
                layout=layout,
                output_layout=options.get("output_layout") or layout,
                dtype=result.dtype,
                seed=options.get("seed", 0),
                rtol=result.rtol,
                atol=result.atol,
                name=type(torch_module).__name__,
                message=result.message,
            )
            result.context["reproduce"] = f"parity replay {path}"
        else:
            result.context["reproduce"] = "pass init={...} to parity.check() to get a repro file"
        raise ParityError(result.message, result)


@pytest.fixture
def parity(request: pytest.FixtureRequest, tmp_path: Path) -> ParityChecker:
    """Check a torch module against its Keras port: `parity.check(torch, keras, *inputs)`."""
    configured = request.config.getoption("--parity-repro-dir")
    directory = Path(configured) if configured else tmp_path
    os.makedirs(directory, exist_ok=True)
    return ParityChecker(directory)
