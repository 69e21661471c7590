"""`ModuleSpec`: the one place a torch/Keras block pair is declared, as data.

A spec names the two classes, the activation layout, a hypothesis strategy of valid cases, the
fixed smoke cases (upstream README usage plus an asymmetric one), invalid configurations both
sides must reject, and every known deviation or transfer override, each with a written reason.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from parity.tolerance import Tolerance

Shape = tuple[int, ...]
ExtraKind = Literal["float", "mask", "value"]
EXTRA_KINDS = ("float", "mask", "value")


@dataclass(frozen=True)
class ExtraInput:
    """A keyword input of the forward call (e.g. `attention_mask`).

    `kind="mask"` draws a boolean array of `shape` (True = masked) from the case seed, leaving at
    least one False per row of the last axis; `kind="float"` draws standard-normal values of
    `shape`. `kind="value"` is a constant, not an array: `value` (e.g. GlobalFilter's
    `spatial_size=(4, 6)`) is passed to both sides unchanged, and has no shape. No layout
    conversion is applied to any kind.
    """

    kind: ExtraKind
    shape: Shape = ()
    value: Any = None

    def __post_init__(self) -> None:
        if self.kind not in EXTRA_KINDS:
            raise ValueError(
                f"Expected an ExtraInput kind in {EXTRA_KINDS}. Received: kind={self.kind!r}"
            )
        if self.kind == "value" and self.shape:
            raise ValueError(
                "An ExtraInput of kind 'value' is a constant passed as it is: give `value`, not "
                f"`shape`. Received: shape={self.shape!r}"
            )
        if self.kind != "value" and self.value is not None:
            raise ValueError(
                f"An ExtraInput of kind {self.kind!r} is drawn from the case seed: give `shape`, "
                f"not `value` (use kind='value' for a constant). Received: value={self.value!r}"
            )

    def describe(self) -> str:
        """The value itself for a constant, the shape (`2x1x7x7`) for a drawn array."""
        if self.kind == "value":
            return repr(self.value)
        return "x".join(map(str, self.shape))


@dataclass(frozen=True)
class Case:
    """One configuration of a block and the shapes of its inputs, in the torch layout."""

    config: Mapping[str, Any]
    input_shapes: tuple[Shape, ...]
    extra_inputs: Mapping[str, ExtraInput] = field(default_factory=dict)
    label: str = ""
    # Several positional inputs fed the same array (sequence blocks called as `(x, x, x)`).
    shared_input: bool = False
    # The inputs' standard deviation (a large scale exposes clamps such as ReLU6 for ReLU).
    input_scale: float = 1.0
    # The layout of this case's inputs and outputs when it is not the spec's: for a block whose
    # torch layout is a constructor argument (AxialAttention's `dim_index=-1` takes channels-last
    # torch input where `dim_index=1` takes NCHW). None: the spec's `layout`/`output_layout`.
    layout: str | None = None

    def describe(self) -> str:
        """A short human-readable description for reports and test ids."""
        shapes = ", ".join("x".join(map(str, s)) for s in self.input_shapes)
        extras = "".join(f", {k}={v.describe()}" for k, v in self.extra_inputs.items())
        scale = f" x{self.input_scale:g}" if self.input_scale != 1.0 else ""
        tag = f"{self.label}: " if self.label else ""
        layout = f" ({self.layout})" if self.layout else ""
        return f"{tag}{dict(self.config)} on ({shapes}{extras}){scale}{layout}"


@dataclass(frozen=True)
class InvalidConfig:
    """A configuration (optionally with inputs) that both frameworks must reject.

    `match` is a substring both `ValueError` messages must contain (the offending argument).
    `input_shape` is fed to every positional input (a sequence block gets `(x, x, x)`);
    `input_shapes` gives one shape per positional input instead (e.g. nq != nk). Shapes are in
    the torch layout.
    """

    config: Mapping[str, Any]
    match: str
    input_shape: Shape | None = None
    reason: str = ""
    input_shapes: tuple[Shape, ...] | None = None


@dataclass(frozen=True)
class KnownDeviation:
    """A documented difference between the pair: a tolerance override and why it is needed.

    Without `sub_layer`, `tolerance` replaces the output tolerance. With `sub_layer` (a torch
    module path such as `"act"`), it is a per-sub-layer allowance: a mismatch whose every local
    divergence lies in declared sub-layers, each within its tolerance, and whose output is within
    the largest of them, passes with the deviation named in the report (e.g. Keras' float64 erf
    GELU, 5e-9 off torch's).
    """

    reason: str
    tolerance: Tolerance | None = None
    dtypes: tuple[str, ...] = ("float32", "float64")
    applies_when: Callable[[Case], bool] | None = None
    sub_layer: str | None = None

    def __post_init__(self) -> None:
        if not self.reason.strip():
            raise ValueError("A KnownDeviation needs a non-empty `reason`. Received: reason=''")
        if self.sub_layer is not None and self.tolerance is None:
            raise ValueError(
                f"A per-sub-layer KnownDeviation needs a `tolerance`. Received: "
                f"sub_layer={self.sub_layer!r}, tolerance=None"
            )

    def applies(self, case: Case, dtype: str) -> bool:
        """Whether this deviation covers `case` run in `dtype`."""
        return dtype in self.dtypes and (self.applies_when is None or self.applies_when(case))


@dataclass(frozen=True)
class TransferOverride:
    """Maps a torch tensor key to a Keras variable that the path walk cannot find, with a reason.

    `keras_path` is the attribute path of the Keras variable (e.g. `"transform.kernel"`), and
    `to_keras` / `to_torch` convert the numpy array between the two shapes.
    """

    keras_path: str
    to_keras: Callable
    to_torch: Callable
    reason: str


@dataclass(frozen=True)
class CallSignature:
    """How a block is called: its positional inputs (one array each, in order) and the keyword
    inputs it accepts (masks, weights), by name. Generic tests read it instead of block names."""

    positional: tuple[str, ...] = ("x",)
    keyword: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.positional:
            raise ValueError("A call signature needs at least one positional input. Received: ()")


@dataclass(frozen=True)
class TiedAxes:
    """Axes of a block's first input that must have one size, with the reason (ViP's mlp_h and
    mlp_w fix H = W = seg_dim). The asymmetric case may repeat a size on exactly these axes."""

    axes: tuple[int, ...]
    reason: str

    def __post_init__(self) -> None:
        if len(self.axes) < 2 or not self.reason.strip():
            raise ValueError(
                "TiedAxes needs two or more axes and a reason. "
                f"Received: axes={self.axes!r}, reason={self.reason!r}"
            )


def expect(condition: object, message: str) -> None:
    """Raise `AssertionError(message)` unless `condition` holds (quirk checks run under -O too)."""
    if not condition:
        raise AssertionError(message)


@dataclass(frozen=True)
class Quirk:
    """An upstream behaviour the reference reproduces on purpose, with the check that proves it.

    `check()` raises `AssertionError` when the reference (or the port, for a numeric quirk) no
    longer behaves as upstream does; it runs in the generic quirk test.
    """

    name: str
    reason: str
    check: Callable[[], None]

    def __post_init__(self) -> None:
        if not self.reason.strip():
            raise ValueError(f"Quirk {self.name!r} needs a reason. Received: reason=''")


@dataclass(frozen=True)
class ModuleSpec:
    """The declaration of one torch/Keras block pair (see module docstring).

    Fixed cases have roles: `upstream_case` is upstream's own usage (README or `__main__`),
    `asymmetric_case` has H != W != C and batch > 1, `smoke_cases` are further labelled cases
    (quirks, boundaries).

    `constructor_differences` names the constructor arguments whose defaults cannot be equal on
    both sides (torch classes such as `act_layer=nn.GELU` where Keras takes a name), each with
    the mapping and why; names and order must still match, and cases leave them at their
    defaults. `tied_axes` declares input axes the block forces to one size. `case_layouts` maps
    each layout a case may declare besides `layout` to the configurations that use it.
    """

    name: str
    torch_class: type
    keras_class: type
    layout: str
    cases: Callable[[], Any]  # () -> hypothesis SearchStrategy[Case]
    upstream_case: Case
    asymmetric_case: Case
    smoke_cases: tuple[Case, ...] = ()
    signature: CallSignature = field(default_factory=CallSignature)
    output_layout: str | None = None
    invalid_configs: tuple[InvalidConfig, ...] = ()
    known_deviations: tuple[KnownDeviation, ...] = ()
    transfer_overrides: Mapping[str, TransferOverride] = field(default_factory=dict)
    quirks: tuple[Quirk, ...] = ()
    # Constructor arguments that switch random layers off for the `training` check.
    training_config: Mapping[str, Any] = field(default_factory=dict)
    # Keras-layout input axes the block's math fixes, kept known in the `compiled` check: reason.
    static_axes: Mapping[int, str] = field(default_factory=dict)
    # Checks that cannot apply to this block: check name -> the written reason.
    checks_not_applicable: Mapping[str, str] = field(default_factory=dict)
    paper: str = ""
    deviations_from_upstream: str = "none"
    constructor_differences: Mapping[str, str] = field(default_factory=dict)
    tied_axes: tuple[TiedAxes, ...] = ()
    case_layouts: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for role in ("upstream_case", "asymmetric_case"):
            if not isinstance(getattr(self, role), Case):
                raise ValueError(
                    f"Spec {self.name!r} needs `{role}` (a Case). Received: {getattr(self, role)!r}"
                )
        for case in self.fixed_cases:
            if len(case.input_shapes) != len(self.signature.positional):
                raise ValueError(
                    f"Spec {self.name!r}: case {case.describe()} has {len(case.input_shapes)} "
                    f"input shapes but the call signature has {len(self.signature.positional)} "
                    f"positional inputs {self.signature.positional}"
                )
            unknown = set(case.extra_inputs) - set(self.signature.keyword)
            if unknown:
                raise ValueError(
                    f"Spec {self.name!r}: case {case.describe()} passes keyword inputs "
                    f"{sorted(unknown)} not in the call signature {self.signature.keyword}"
                )
        for key, override in self.transfer_overrides.items():
            if not override.reason.strip():
                raise ValueError(
                    f"Transfer override for {key!r} in spec {self.name!r} needs a reason."
                )
        for case in self.fixed_cases:
            if case.layout not in (None, self.layout, *self.case_layouts):
                raise ValueError(
                    f"Spec {self.name!r}: case {case.describe()} declares layout "
                    f"{case.layout!r}, which is neither the spec's {self.layout!r} nor in its "
                    f"case_layouts {sorted(self.case_layouts)}"
                )
        for argument, reason in self.constructor_differences.items():
            if not reason.strip():
                raise ValueError(
                    f"Constructor difference {argument!r} in spec {self.name!r} needs a reason "
                    "(the torch and Keras values and how they map). Received: ''"
                )
            for case in self.fixed_cases:
                if argument in case.config:
                    raise ValueError(
                        f"Spec {self.name!r}: case {case.describe()} sets {argument!r}, whose "
                        "torch and Keras values differ; one config cannot build both sides"
                    )

    @property
    def fixed_cases(self) -> tuple[Case, ...]:
        """The upstream usage case, the asymmetric case, then the further smoke cases."""
        return (self.upstream_case, self.asymmetric_case, *self.smoke_cases)

    @property
    def resolved_output_layout(self) -> str:
        """The layout of the outputs (defaults to the input layout)."""
        return self.output_layout or self.layout

    def layout_for(self, case: Case) -> str:
        """The input layout of `case`: its own, else the spec's."""
        return case.layout or self.layout

    def output_layout_for(self, case: Case) -> str:
        """The output layout of `case`: its own layout (inputs and outputs), else the spec's."""
        return case.layout or self.resolved_output_layout

    def tolerance_for(self, case: Case, dtype: str) -> tuple[Tolerance | None, str]:
        """The overriding tolerance for `case` in `dtype` (or None) and the reason for it."""
        for deviation in self.known_deviations:
            if (
                deviation.tolerance is not None
                and deviation.sub_layer is None
                and deviation.applies(case, dtype)
            ):
                return deviation.tolerance, deviation.reason
        return None, ""

    def allowances_for(self, case: Case, dtype: str) -> tuple[KnownDeviation, ...]:
        """The per-sub-layer deviations that cover `case` in `dtype`."""
        return tuple(
            d for d in self.known_deviations if d.sub_layer is not None and d.applies(case, dtype)
        )

    def __str__(self) -> str:
        return self.name
