"""The registry is complete and honest: every export has a spec, every override a reason."""

from __future__ import annotations

import inspect

import pytest

import parity
import reference_torch
import tf_attention

SPECS = list(parity.SPECS.values())


def test_every_keras_export_has_a_spec():
    keras_classes = {spec.keras_class for spec in SPECS}
    missing = [
        name for name in tf_attention.__all__ if getattr(tf_attention, name) not in keras_classes
    ]
    assert not missing, f"tf_attention exports without a spec in parity/specs.py: {missing}"


def test_every_torch_export_has_a_spec():
    torch_classes = {spec.torch_class for spec in SPECS}
    missing = [
        name
        for name in reference_torch.__all__
        if getattr(reference_torch, name) not in torch_classes
    ]
    assert not missing, f"reference_torch exports without a spec: {missing}"


@pytest.mark.parametrize("spec", SPECS, ids=str)
def test_spec_is_consistent(spec):
    assert spec.name == spec.keras_class.__name__ == spec.torch_class.__name__
    assert spec.layout in ("image", "sequence", "channels_last")
    assert set(spec.case_layouts) <= {"image", "sequence", "channels_last"} - {spec.layout}
    assert all(when.strip() for when in spec.case_layouts.values())
    assert spec.paper, "spec needs the paper it implements"
    for deviation in spec.known_deviations:
        assert deviation.reason.strip()
    fresh_keys = set(spec.torch_class(**spec.upstream_case.config).state_dict())
    for key, override in spec.transfer_overrides.items():
        assert key in fresh_keys, f"override key {key!r} not in a fresh state_dict"
        assert override.reason.strip()


@pytest.mark.parametrize("spec", SPECS, ids=str)
def test_keras_constructor_mirrors_torch(spec):
    """Same argument names, order and defaults on both sides; only the arguments the spec
    declares in `constructor_differences` (with the reason) may have different defaults."""
    torch_params = list(inspect.signature(spec.torch_class.__init__).parameters.values())[1:]
    keras_params = [
        p
        for p in list(inspect.signature(spec.keras_class.__init__).parameters.values())[1:]
        if p.kind is not p.VAR_KEYWORD
    ]
    assert [p.name for p in keras_params] == [p.name for p in torch_params]
    differing = {
        p.name
        for p, q in zip(keras_params, torch_params, strict=True)
        if p.default is not q.default and p.default != q.default
    }
    assert differing == set(spec.constructor_differences), (
        "defaults that differ between torch and Keras must be exactly the spec's "
        f"constructor_differences: differing {sorted(differing)}, declared "
        f"{sorted(spec.constructor_differences)}"
    )


def test_empty_deviation_reason_is_rejected():
    with pytest.raises(ValueError, match="reason"):
        parity.KnownDeviation(reason=" ")


@pytest.mark.parametrize("spec", SPECS, ids=str)
def test_report_draws_25_distinct_generated_cases(spec):
    """`parity report` promises at least 25 hypothesis examples per block."""
    from parity.cases import draw_cases

    drawn = draw_cases(spec, 25, seed=0)
    assert len({(case.describe(), seed) for case, seed in drawn}) == 25
    # Each drawn case fits the spec: a layout it declares (`case_layouts`), keyword inputs of
    # its call signature, and no `constructor_differences` argument (one config, both sides).
    for case, _seed in drawn:
        assert case.layout in (None, spec.layout, *spec.case_layouts), case.describe()
        assert set(case.extra_inputs) <= set(spec.signature.keyword), case.describe()
        assert not set(case.config) & set(spec.constructor_differences), case.describe()


@pytest.mark.parametrize("spec", SPECS, ids=str)
def test_asymmetric_case_breaks_every_symmetry(spec):
    """Batch > 1 and every other axis of the first input a different size (H != W != C, or
    tokens != features): a swapped axis cannot hide."""
    shape = spec.asymmetric_case.input_shapes[0]
    assert shape[0] > 1, f"asymmetric case has batch {shape[0]}"
    # Axes the block ties to one size (spec.tied_axes, each with its reason) count once.
    tied = {axis: tie.axes[0] for tie in spec.tied_axes for axis in tie.axes}
    representatives = sorted({tied.get(axis, axis) for axis in range(1, len(shape))})
    sizes = [shape[axis] for axis in representatives]
    assert len(set(sizes)) == len(sizes), f"asymmetric case has repeated sizes {shape}"
    for tie in spec.tied_axes:
        assert len({shape[axis] for axis in tie.axes}) == 1, f"{tie.axes} not tied in {shape}"


@pytest.mark.parametrize("spec", SPECS, ids=str)
def test_fixed_cases_fit_the_call_signature(spec):
    for case in spec.fixed_cases:
        assert len(case.input_shapes) == len(spec.signature.positional)
        assert set(case.extra_inputs) <= set(spec.signature.keyword)
