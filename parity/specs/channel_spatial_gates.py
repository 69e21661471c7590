"""Channel and spatial gates: blocks that re-weight both channels and positions of an NCHW map.

One `ModuleSpec` per block pair, alphabetical; `FAMILY` lists them for the registry."""

from __future__ import annotations

import numpy as np
import torch
from hypothesis import strategies as st

import reference_torch
import tf_attention
from parity.spec import Case, InvalidConfig, ModuleSpec, Quirk, expect
from parity.strategies import batches, image_case, image_shapes, odd_kernels, sizes

# ----------------------------------------------------------------------------------------------
# Upstream quirks the references keep, each with the check that proves it.


def _check_bam_spatial_branch_collapses() -> None:
    module = reference_torch.BAMBlock(channel=8, reduction=2, dia_val=2).eval()
    with torch.no_grad():
        spatial = module.sa.sa(torch.randn(2, 8, 7, 7))  # before expand_as
    expect(tuple(spatial.shape[2:]) == (1, 1), f"spatial map {tuple(spatial.shape)}")


def _check_cbam_adds_the_input() -> None:
    module = reference_torch.CBAMBlock(channel=8, reduction=2, kernel_size=3).eval()
    with torch.no_grad():
        for parameter in module.parameters():
            parameter.zero_()  # both gates become sigmoid(0) = 0.5
        x = torch.randn(2, 8, 5, 3)
        output = module(x)
    np.testing.assert_allclose(output.numpy(), 1.25 * x.numpy(), rtol=1e-6)


# ----------------------------------------------------------------------------------------------
# Bottleneck Attention Module (Park et al., 2018), https://arxiv.org/abs/1807.06514


@st.composite
def bam_block_cases(draw: st.DrawFn) -> Case:
    """BAMBlock: 1 <= reduction <= channel; dia_val = 1 with H, W independent, or dia_val = 2 with
    H = W = 6 * 2 - 5 = 7 (the only size whose spatial branch broadcasts back, as a 1x1 map).

    dia_val = 3 needs 13x13, beyond the generated-size bound; it is a smoke case instead.
    """
    channel = draw(sizes(max_size=48), label="channel")
    reduction = draw(st.integers(1, channel), label="reduction")
    dia_val = draw(st.sampled_from((1, 2)), label="dia_val")
    if dia_val == 1:
        shape = draw(image_shapes(channel), label="shape")
    else:
        side = 6 * dia_val - 5
        shape = (draw(batches(), label="batch"), channel, side, side)
    return image_case({"channel": channel, "reduction": reduction, "dia_val": dia_val}, shape)


BAM_BLOCK = ModuleSpec(
    name="BAMBlock",
    torch_class=reference_torch.BAMBlock,
    keras_class=tf_attention.BAMBlock,
    layout="image",
    cases=bam_block_cases,
    upstream_case=Case(
        {"channel": 512, "reduction": 16, "dia_val": 2},
        ((50, 512, 7, 7),),
        label="upstream README (spatial branch collapses to 1x1)",
    ),
    asymmetric_case=Case(
        {"channel": 48, "reduction": 4, "dia_val": 1}, ((2, 48, 7, 5),), label="asymmetric"
    ),
    smoke_cases=(
        Case(
            {"channel": 24, "reduction": 4, "dia_val": 3},
            ((2, 24, 13, 13),),
            label="dia_val=3 collapses at 13x13",
        ),
    ),
    invalid_configs=(
        InvalidConfig(
            {"channel": 8, "reduction": 16},
            match="Received: reduction=16",
            reason="no bottleneck unit (channel // reduction == 0)",
        ),
        InvalidConfig(
            {"channel": 8, "reduction": 2, "dia_val": 0},
            match="Received: dia_val=0",
            reason="non-positive dilation",
        ),
        InvalidConfig(
            {"channel": 8, "reduction": 2, "dia_val": 2},
            match="H=8, W=8, dia_val=2",
            input_shape=(2, 8, 8, 8),
            reason="padding=1 with dilation 2 leaves a 2x2 map that cannot broadcast to 8x8",
        ),
        InvalidConfig(
            {"channel": 8, "reduction": 2, "dia_val": 2},
            match="H=7, W=5, dia_val=2",
            input_shape=(2, 8, 7, 5),
            reason="dia_val > 1 needs a square 6*dia_val-5 input; 7x5 shrinks to 1x-1",
        ),
        InvalidConfig(
            {"channel": 8, "reduction": 2, "dia_val": 1},
            match="8 channels",
            input_shape=(2, 6, 5, 3),
            reason="input channel count differs from `channel`",
        ),
    ),
    quirks=(
        Quirk(
            "`padding=1` with dilation",
            "the spatial branch keeps padding 1 for every dia_val, so only dia_val=1 or H = W = 6*dia_val - 5 run, and there the map collapses to 1x1",
            _check_bam_spatial_branch_collapses,
        ),
    ),
    paper="Park et al., 2018, https://arxiv.org/abs/1807.06514",
    deviations_from_upstream="none",
)


# ----------------------------------------------------------------------------------------------
# Convolutional Block Attention Module (Woo et al., 2018), https://arxiv.org/abs/1807.06521


@st.composite
def cbam_block_cases(draw: st.DrawFn) -> Case:
    """CBAMBlock: 1 <= reduction <= channel, odd kernel (may exceed H, W), H and W independent."""
    channel = draw(sizes(max_size=48), label="channel")
    reduction = draw(st.integers(1, channel), label="reduction")
    kernel_size = draw(odd_kernels(max_kernel=15), label="kernel_size")
    shape = draw(image_shapes(channel), label="shape")
    config = {"channel": channel, "reduction": reduction, "kernel_size": kernel_size}
    return image_case(config, shape)


CBAM_BLOCK = ModuleSpec(
    name="CBAMBlock",
    torch_class=reference_torch.CBAMBlock,
    keras_class=tf_attention.CBAMBlock,
    layout="image",
    cases=cbam_block_cases,
    upstream_case=Case(
        {"channel": 512, "reduction": 16, "kernel_size": 7},
        ((50, 512, 7, 7),),
        label="upstream README",
    ),
    asymmetric_case=Case(
        {"channel": 48, "reduction": 8, "kernel_size": 5}, ((2, 48, 7, 5),), label="asymmetric"
    ),
    smoke_cases=(
        Case(
            {"channel": 32, "reduction": 16, "kernel_size": 49},
            ((2, 32, 6, 9),),
            label="default kernel_size 49, larger than the image",
        ),
    ),
    invalid_configs=(
        InvalidConfig(
            {"channel": 8, "reduction": 16},
            match="Received: reduction=16",
            reason="no bottleneck unit (channel // reduction == 0)",
        ),
        InvalidConfig(
            {"channel": 8, "reduction": 2, "kernel_size": 4},
            match="Received: kernel_size=4",
            reason="even kernel: padding k//2 grows the map by one and breaks the broadcast",
        ),
        InvalidConfig(
            {"channel": 8, "reduction": 2, "kernel_size": 3},
            match="8 channels",
            input_shape=(2, 6, 5, 3),
            reason="input channel count differs from `channel`",
        ),
    ),
    quirks=(
        Quirk(
            "residual `out + x`",
            "upstream adds the input back after both gates",
            _check_cbam_adds_the_input,
        ),
    ),
    paper="Woo et al., 2018, https://arxiv.org/abs/1807.06521",
    deviations_from_upstream="none",
)


# ----------------------------------------------------------------------------------------------
# Residual Attention for multi-label recognition (Zhu and Wu, 2021), https://arxiv.org/abs/2108.02456


@st.composite
def residual_attention_cases(draw: st.DrawFn) -> Case:
    """ResidualAttention: any channel and class counts, `la` of either sign, H and W independent."""
    channel = draw(sizes(max_size=48), label="channel")
    num_class = draw(sizes(max_size=24), label="num_class")
    la = draw(st.floats(min_value=-2.0, max_value=2.0, allow_nan=False), label="la")
    shape = draw(image_shapes(channel), label="shape")
    return image_case({"channel": channel, "num_class": num_class, "la": la}, shape)


RESIDUAL_ATTENTION = ModuleSpec(
    name="ResidualAttention",
    torch_class=reference_torch.ResidualAttention,
    keras_class=tf_attention.ResidualAttention,
    layout="image",
    output_layout="plain",  # (batch, num_class) in both frameworks
    cases=residual_attention_cases,
    upstream_case=Case(
        {"channel": 512, "num_class": 1000, "la": 0.2},
        ((50, 512, 7, 7),),
        label="upstream README",
    ),
    asymmetric_case=Case(
        {"channel": 48, "num_class": 10, "la": 0.7}, ((2, 48, 7, 5),), label="asymmetric"
    ),
    invalid_configs=(
        InvalidConfig(
            {"channel": 8, "num_class": 0}, match="Received: num_class=0", reason="no classes"
        ),
        InvalidConfig(
            {"channel": 0, "num_class": 4}, match="Received: channel=0", reason="no channels"
        ),
        InvalidConfig(
            {"channel": 8, "num_class": 4, "la": "0.2"},
            match="Received: la=",
            reason="non-numeric la (upstream fails at the first forward)",
        ),
        InvalidConfig(
            {"channel": 8, "num_class": 4},
            match="8 channels",
            input_shape=(2, 6, 5, 3),
            reason="input channel count differs from `channel`",
        ),
    ),
    paper="Zhu and Wu, 2021, https://arxiv.org/abs/2108.02456",
    deviations_from_upstream="none",
)


# ----------------------------------------------------------------------------------------------

FAMILY = (
    BAM_BLOCK,
    CBAM_BLOCK,
    RESIDUAL_ATTENTION,
)
