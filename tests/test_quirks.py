"""Upstream quirks the references keep (each spec's `quirks`, checked generically), the three
documented fixes (MODULES.md §1), and the harness's verdict on a quirk that produces NaN."""

from __future__ import annotations

import pytest
import torch

import parity
import reference_torch
from parity.randomize import randomize_torch
from parity.runner import run_case
from parity.spec import Case

QUIRKS = [(spec, quirk) for spec in parity.SPECS.values() for quirk in spec.quirks]


@pytest.mark.parametrize(
    ("spec", "quirk"), QUIRKS, ids=[f"{spec.name}-{quirk.name}" for spec, quirk in QUIRKS]
)
def test_reference_keeps_the_upstream_quirk(spec, quirk):
    """Each quirk's check proves the reference (and, where numeric, the port) behaves as
    upstream does."""
    quirk.check()


def test_sge_gives_nan_at_one_pixel_on_both_sides():
    """Unbiased std over a single position: zero degrees of freedom, NaN in torch and Keras at
    every element. The harness compares nothing there, so its verdict is inconclusive, not pass."""
    spec = parity.SPECS["SpatialGroupEnhance"]
    case = Case({"groups": 2}, ((2, 4, 1, 1),))
    for dtype in ("float32", "float64"):
        with pytest.warns(UserWarning, match="degrees of freedom"):  # torch warns, as upstream
            result = run_case(spec, case, dtype=dtype, seed=3)
        assert result.verdict == "inconclusive", result.message
        assert result.mismatched == 0 and result.nonfinite_agreed == result.total == 8
    module = reference_torch.SpatialGroupEnhance(groups=2).eval()
    with torch.no_grad(), pytest.warns(UserWarning, match="degrees of freedom"):
        assert torch.isnan(module(torch.randn(2, 4, 1, 1))).all()


def test_muse_does_not_overwrite_its_parameter():
    """Fix (c): upstream replaces dy_paras by its softmax on every call."""
    module = reference_torch.MUSEAttention(d_model=8, d_k=4, d_v=4, h=2).eval()
    randomize_torch(module, seed=0)
    before = module.dy_paras.detach().clone()
    x = torch.randn(2, 5, 8)
    with torch.no_grad():
        first, second = module(x, x, x), module(x, x, x)
    torch.testing.assert_close(module.dy_paras.detach(), before, rtol=0, atol=0)
    torch.testing.assert_close(first, second, rtol=0, atol=0)


def test_psa_registers_its_layers_and_leaves_the_input_alone():
    """Fix (a): ModuleLists (a non-empty state_dict, .double() reaches them), no in-place write."""
    module = reference_torch.PSA(channel=16, reduction=2, S=4).double().eval()
    assert all(t.dtype == torch.float64 for t in module.state_dict().values())
    x = torch.randn(2, 16, 5, 3, dtype=torch.float64)
    original = x.clone()
    with torch.no_grad():
        module(x)
    torch.testing.assert_close(x, original, rtol=0, atol=0)


def test_da_module_honours_its_arguments():
    """Fix (b): upstream always builds 512/3/7/7."""
    module = reference_torch.DAModule(d_model=8, kernel_size=5, H=3, W=4)
    assert module.position_attention_module.cnn.weight.shape == (8, 8, 5, 5)
    assert module.channel_attention_module.pa.fc_o.weight.shape == (12, 12)
