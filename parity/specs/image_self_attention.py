"""Self-attention over the positions of an NCHW map.

One `ModuleSpec` per block pair, alphabetical; `FAMILY` lists them for the registry."""

from __future__ import annotations

from hypothesis import strategies as st

import reference_torch
import tf_attention
from parity.spec import Case, InvalidConfig, ModuleSpec, Quirk, expect
from parity.strategies import batches, image_case, odd_kernels, sizes

# ----------------------------------------------------------------------------------------------
# Upstream quirks the references keep, each with the check that proves it.


def _check_da_module_has_no_residual_gamma_or_bn() -> None:
    keys = reference_torch.DAModule(d_model=8, kernel_size=3, H=3, W=4).state_dict()
    extra = [key for key in keys if "gamma" in key or "bn" in key or "norm" in key]
    expect(not extra, f"unexpected keys {extra}")


# ----------------------------------------------------------------------------------------------
# Dual Attention Network (Fu et al., 2019), https://arxiv.org/abs/1809.02983


@st.composite
def da_module_cases(draw: st.DrawFn) -> Case:
    """DAModule: C = d_model, odd kernel, input H_in = H, W_in = W drawn independently."""
    d_model = draw(sizes(max_size=48), label="d_model")
    kernel_size = draw(odd_kernels(), label="kernel_size")
    H = draw(sizes(), label="H")
    W = draw(sizes(), label="W")
    batch = draw(batches(), label="batch")
    config = {"d_model": d_model, "kernel_size": kernel_size, "H": H, "W": W}
    return image_case(config, (batch, d_model, H, W))


DA_MODULE = ModuleSpec(
    name="DAModule",
    torch_class=reference_torch.DAModule,
    keras_class=tf_attention.DAModule,
    layout="image",
    cases=da_module_cases,
    # Upstream README uses batch 50; batch 2 keeps the 512-channel convs cheap (MODULES 3.10).
    upstream_case=Case(
        {"d_model": 512, "kernel_size": 3, "H": 7, "W": 7},
        ((2, 512, 7, 7),),
        label="upstream README",
    ),
    asymmetric_case=Case(
        {"d_model": 12, "kernel_size": 3, "H": 5, "W": 7}, ((2, 12, 5, 7),), label="asymmetric"
    ),
    smoke_cases=(
        # Only H_in * W_in must equal H * W (upstream accepts 1x49 at 7/7).
        Case(
            {"d_model": 16, "kernel_size": 5, "H": 7, "W": 7},
            ((2, 16, 1, 49),),
            label="1x49 input for H = W = 7",
        ),
    ),
    invalid_configs=(
        InvalidConfig(
            {"d_model": 8, "kernel_size": 4, "H": 3, "W": 4},
            match="Received: kernel_size=4",
            reason="even kernel: padding (k-1)//2 shrinks the map to (H-1)x(W-1)",
        ),
        InvalidConfig(
            {"d_model": 0, "kernel_size": 3, "H": 3, "W": 4},
            match="Received: d_model=0",
            reason="no channels",
        ),
        InvalidConfig(
            {"d_model": 8, "kernel_size": 3, "H": 0, "W": 4},
            match="Received: H=0",
            reason="empty map",
        ),
        InvalidConfig(
            {"d_model": 8, "kernel_size": 3, "H": 3, "W": 4},
            match="H * W = 12",
            input_shape=(1, 8, 4, 4),
            reason="input H_in * W_in = 16 differs from the constructor's H * W = 12",
        ),
        InvalidConfig(
            {"d_model": 8, "kernel_size": 3, "H": 3, "W": 4},
            match="8 channels",
            input_shape=(1, 6, 3, 4),
            reason="6 input channels for d_model=8",
        ),
    ),
    quirks=(
        Quirk(
            "no residual, gamma or BN",
            "unlike DANet's paper, upstream sums the two branches as they are",
            _check_da_module_has_no_residual_gamma_or_bn,
        ),
    ),
    paper="Fu et al., 2019, https://arxiv.org/abs/1809.02983",
    deviations_from_upstream=(
        "honours d_model, kernel_size, H, W (upstream always builds 512/3/7/7, issue #56)"
    ),
)


# ----------------------------------------------------------------------------------------------

FAMILY = (DA_MODULE,)
