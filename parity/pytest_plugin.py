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

    def fuzz(
        self,
        torch_class: type,
        keras_class: type,
        *,
        shapes: Any,
        dims: Mapping[str, tuple[int, int]] | None = None,
        init: Mapping[str, Any] | None = None,
        torch_init: Mapping[str, Any] | None = None,
        keras_init: Mapping[str, Any] | None = None,
        init_ranges: Mapping[str, Any] | None = None,
        layout: Any = "image",
        output_layout: Any = None,
        dtypes: Any = ("float32", "float64"),
        examples: int | None = None,
        seed: int = 0,
        rtol: float | None = None,
        atol: float | None = None,
        **options: Any,
    ):
        """Check the pair on shapes and configurations drawn by hypothesis, like `parity check`:

            parity.fuzz(TorchBlock, KerasBlock, init={"channels": 16}, shapes=["B,16,H,W"],
                        dims={"B": (1, 4), "H": (1, 16), "W": (1, 16)})

        `shapes` are torch-layout shapes (one per positional input) whose names are drawn from
        `dims`; `init_ranges` draws constructor arguments (`{"heads": [1, 2, 4]}`). A concrete
        shape without names runs it plus the derived variants (batch, H != W, odd sizes, large
        inputs). `examples` defaults to the `--parity-profile`'s (dev 5, ci 10, thorough 100).
        A failure is shrunk to the smallest case and raised as `ParityError` with its report and
        a repro file. `options` go to the comparison (`converters`, `name_map`, `allow`, ...).
        """
        __tracebackhide__ = True
        from parity.check import CheckOptions, PairSource, check_pair
        from parity.errors import ParityError
        from parity.fuzz import parse_shape

        parsed = [parse_shape(s) if isinstance(s, str) else tuple(s) for s in shapes]
        source = PairSource(
            torch_class, keras_class, dict(init or {}), dict(torch_init or {}),
            dict(keras_init or {}), torch_class.__name__,
        )  # fmt: skip
        check = CheckOptions(
            input_shapes=parsed,
            layout=layout,
            output_layout=output_layout,
            dtypes=(dtypes,) if isinstance(dtypes, str) else tuple(dtypes),
            examples=examples or self.settings.max_examples,
            seed=seed,
            dims=dict(dims or {}),
            init_ranges=dict(init_ranges or {}),
            rtol=rtol,
            atol=atol,
            comparison=options,
            repro_dir=self.repro_dir,
        )
        if not check.fuzzing:
            check.examples = 1
        outcomes = check_pair(source, check)
        failed = [o for o in outcomes if o.verdict not in ("pass", "not applicable")]
        if failed:
            raise ParityError("\n\n".join(o.message for o in failed), failed[-1])
        return outcomes


@pytest.fixture
def parity(request: pytest.FixtureRequest, tmp_path: Path) -> ParityChecker:
    """Check a torch module against its Keras port: `parity.check(torch, keras, *inputs)`."""
    configured = request.config.getoption("--parity-repro-dir")
    directory = Path(configured) if configured else tmp_path
    os.makedirs(directory, exist_ok=True)
    profile = request.config.getoption("--parity-profile") or "dev"
    return ParityChecker(directory, profile)
