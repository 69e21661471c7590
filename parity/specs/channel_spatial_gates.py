"""Channel and spatial gates: blocks that re-weight both channels and positions of an NCHW map.

One `ModuleSpec` per block pair, alphabetical; `FAMILY` lists them for the registry."""

from __future__ import annotations

import numpy as np
import torch
from hypothesis import strategies as st

import reference_torch
import tf_attention
from parity.api import compare
from parity.randomize import randomize_torch
from parity.spec import Case, InvalidConfig, ModuleSpec, Quirk, expect
from parity.strategies import batches, image_case, image_shapes, odd_kernels, sizes
from parity.weights import transfer_weights

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


def _check_coord_att_oup_one_broadcasts() -> None:
    module = reference_torch.CoordAtt(16, 1, reduction=4).double().eval()
    x = np.random.default_rng(0).standard_normal((2, 16, 5, 7))
    result = compare(module, tf_attention.CoordAtt(16, 1, reduction=4, dtype="float64"), x)
    expect(result.passed, result.message)
    with torch.no_grad():
        ratio = module(torch.from_numpy(x)).numpy() / x  # the gate a_w * a_h, one per position
    expect(np.allclose(ratio, ratio[:, :1], rtol=1e-12, atol=0), "the gate differs by channel")


def _check_triplet_bn_momentum() -> None:
    module = reference_torch.TripletAttention()
    randomize_torch(module, seed=0)
    layer = tf_attention.TripletAttention(dtype="float64")
    x = np.random.default_rng(1).standard_normal((3, 6, 5, 7))
    layer(np.moveaxis(x, 1, -1))
    transfer_weights(module, layer)
    gates = ("cw", "hc", "hw")
    before = {name: getattr(module, name).conv.bn.running_mean.clone() for name in gates}
    module.double().train()
    with torch.no_grad():
        module(torch.from_numpy(x))  # one training step on both sides
    layer(np.moveaxis(x, 1, -1), training=True)
    for name in gates:
        bn, keras_bn = getattr(module, name).conv.bn, getattr(layer, name).conv.bn
        expect(bn.momentum == 0.01 and bn.eps == 1e-5, f"{name}: torch BN {bn}")
        expect(abs(keras_bn.momentum - 0.99) < 1e-12, f"{name}: Keras momentum {keras_bn.momentum}")
        moved = float((bn.running_mean - before[name]).abs().max())
        expect(0 < moved < 0.1, f"{name}: a 1% step moved the running mean by {moved}")
        keras_mean = np.asarray(keras_bn.moving_mean)
        expect(
            np.allclose(keras_mean, bn.running_mean.numpy(), rtol=1e-12, atol=1e-14),
            f"{name}: running means differ after one step",
        )


def _check_triplet_branch_planes() -> None:
    module = reference_torch.TripletAttention().eval()
    shapes = {}

    def record(name):
        def hook(_module, _args, output):
            shapes[name] = tuple(output.shape)

        return hook

    hooks = [getattr(module, n).conv.register_forward_hook(record(n)) for n in ("cw", "hc", "hw")]
    with torch.no_grad():
        module(torch.randn(2, 9, 5, 7))  # (B, C, H, W)
    for hook in hooks:
        hook.remove()
    # cw pools H and convolves the (C, W) plane; hc pools W and convolves (H, C); hw pools C.
    expected = {"cw": (2, 1, 9, 7), "hc": (2, 1, 5, 9), "hw": (2, 1, 5, 7)}
    expect(shapes == expected, f"gate planes {shapes}")


def _check_triplet_sigmoid_in_place_on_a_temporary() -> None:
    module = reference_torch.TripletAttention().eval()
    randomize_torch(module, seed=2)
    x = torch.randn(2, 5, 6, 7)
    before = x.clone()
    with torch.no_grad():
        module(x)
    expect(torch.equal(x, before), "the input was modified")


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
# Coordinate Attention (Hou et al., 2021), https://arxiv.org/abs/2103.02907


@st.composite
def coord_att_cases(draw: st.DrawFn) -> Case:
    """CoordAtt: input C = inp; oup = inp or 1 (anything else cannot broadcast); any reduction
    >= 1 (mip = max(8, inp // reduction), so reduction > inp is fine); H and W independent."""
    inp = draw(sizes(max_size=64), label="inp")
    oup = draw(st.sampled_from((inp, 1)), label="oup")
    reduction = draw(st.integers(1, 64), label="reduction")
    shape = draw(image_shapes(inp), label="shape")
    return image_case({"inp": inp, "oup": oup, "reduction": reduction}, shape)


COORD_ATT = ModuleSpec(
    name="CoordAtt",
    torch_class=reference_torch.CoordAtt,
    keras_class=tf_attention.CoordAtt,
    layout="image",
    cases=coord_att_cases,
    # CoordAttention.py has no __main__; this is the README's usage.
    upstream_case=Case(
        {"inp": 96, "oup": 96, "reduction": 32}, ((2, 96, 56, 56),), label="upstream README"
    ),
    asymmetric_case=Case(
        {"inp": 48, "oup": 48, "reduction": 4}, ((2, 48, 7, 5),), label="asymmetric"
    ),
    smoke_cases=(
        Case({"inp": 512, "oup": 512}, ((2, 512, 7, 7),), label="CoordAtt(512, 512), MODULES-2"),
        Case({"inp": 16, "oup": 1, "reduction": 4}, ((2, 16, 5, 7),), label="oup=1"),
        Case(
            {"inp": 64, "oup": 64, "reduction": 4},
            ((2, 64, 3, 6),),
            label="mip = inp // reduction = 16 > 8",
        ),
        Case({"inp": 8, "oup": 8}, ((3, 8, 1, 1),), label="1x1 image"),
    ),
    invalid_configs=(
        InvalidConfig(
            {"inp": 16, "oup": 8},
            match="Received: oup=8, inp=16",
            reason="oup must equal inp or be 1; upstream fails at the final broadcast",
        ),
        InvalidConfig(
            {"inp": 16, "oup": 16, "reduction": 0},
            match="Received: reduction=0",
            reason="non-positive reduction (upstream divides by zero)",
        ),
        InvalidConfig({"inp": 0, "oup": 0}, match="Received: inp=0", reason="no channels"),
        InvalidConfig(
            {"inp": 8, "oup": 8},
            match="8 channels",
            input_shape=(2, 6, 5, 3),
            reason="input channel count differs from `inp`",
        ),
    ),
    quirks=(
        Quirk(
            "`oup` must be `inp` or 1",
            "the gates multiply the input: oup = 1 broadcasts one gate over every channel, any "
            "other oup != inp fails upstream at the broadcast (rejected here in __init__)",
            _check_coord_att_oup_one_broadcasts,
        ),
    ),
    paper="Hou et al., 2021, https://arxiv.org/abs/2103.02907",
    deviations_from_upstream="none",
)


# ----------------------------------------------------------------------------------------------
# Polarized Self-Attention (Liu et al., 2021), https://arxiv.org/abs/2107.00782; both layouts.


@st.composite
def polarized_self_attention_cases(draw: st.DrawFn) -> Case:
    """Parallel/SequentialPolarizedSelfAttention: channel >= 2 (odd allowed: half-width
    channel // 2), H and W independent, any batch (no cross-sample coupling)."""
    channel = draw(sizes(min_size=2, max_size=48), label="channel")
    shape = draw(image_shapes(channel), label="shape")
    return image_case({"channel": channel}, shape)


POLARIZED_SMOKE_CASES = (
    Case({"channel": 7}, ((3, 7, 6, 4),), label="odd channel (half-width 3)"),
    Case({"channel": 2}, ((2, 2, 4, 3),), label="channel=2: the spatial softmax is over one"),
    Case({"channel": 6}, ((2, 6, 1, 1),), label="1x1 image: the channel softmax is over one"),
)
POLARIZED_INVALID_CONFIGS = (
    InvalidConfig(
        {"channel": 1},
        match="Received: channel=1",
        reason="channel // 2 == 0: upstream builds a conv with 0 outputs",
    ),
    InvalidConfig({"channel": 0}, match="Received: channel=0", reason="no channels"),
    InvalidConfig(
        {"channel": 8},
        match="8 channels",
        input_shape=(2, 6, 5, 3),
        reason="input channel count differs from `channel`",
    ),
)

PARALLEL_POLARIZED_SELF_ATTENTION = ModuleSpec(
    name="ParallelPolarizedSelfAttention",
    torch_class=reference_torch.ParallelPolarizedSelfAttention,
    keras_class=tf_attention.ParallelPolarizedSelfAttention,
    layout="image",
    cases=polarized_self_attention_cases,
    # The README (and __main__) builds the Sequential class; the same call for this one.
    upstream_case=Case({"channel": 512}, ((1, 512, 7, 7),), label="upstream README"),
    asymmetric_case=Case({"channel": 9}, ((2, 9, 5, 7),), label="asymmetric"),
    smoke_cases=POLARIZED_SMOKE_CASES,
    invalid_configs=POLARIZED_INVALID_CONFIGS,
    paper="Liu et al., 2021, https://arxiv.org/abs/2107.00782",
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
# Polarized Self-Attention, sequential layout (Liu et al., 2021), https://arxiv.org/abs/2107.00782

SEQUENTIAL_POLARIZED_SELF_ATTENTION = ModuleSpec(
    name="SequentialPolarizedSelfAttention",
    torch_class=reference_torch.SequentialPolarizedSelfAttention,
    keras_class=tf_attention.SequentialPolarizedSelfAttention,
    layout="image",
    cases=polarized_self_attention_cases,
    upstream_case=Case({"channel": 512}, ((1, 512, 7, 7),), label="upstream README"),
    asymmetric_case=Case({"channel": 9}, ((2, 9, 5, 7),), label="asymmetric"),
    smoke_cases=POLARIZED_SMOKE_CASES,
    invalid_configs=POLARIZED_INVALID_CONFIGS,
    paper="Liu et al., 2021, https://arxiv.org/abs/2107.00782",
    deviations_from_upstream="none",
)


# ----------------------------------------------------------------------------------------------
# Triplet Attention, "Rotate to Attend" (Misra et al., 2021), https://arxiv.org/abs/2010.03045


@st.composite
def triplet_attention_cases(draw: st.DrawFn) -> Case:
    """TripletAttention: no size arguments; any C >= 1, H and W independent (C is a spatial axis
    of two 7x7 convs, so C above and below 7 both matter); with and without the `hw` branch."""
    no_spatial = draw(st.booleans(), label="no_spatial")
    channel = draw(sizes(max_size=32), label="channel")
    shape = draw(image_shapes(channel), label="shape")
    return image_case({"no_spatial": no_spatial}, shape)


TRIPLET_ATTENTION = ModuleSpec(
    name="TripletAttention",
    torch_class=reference_torch.TripletAttention,
    keras_class=tf_attention.TripletAttention,
    layout="image",
    cases=triplet_attention_cases,
    upstream_case=Case({}, ((50, 512, 7, 7),), label="upstream README"),
    asymmetric_case=Case({"no_spatial": False}, ((2, 10, 7, 5),), label="asymmetric"),
    smoke_cases=(
        Case({"no_spatial": True}, ((2, 10, 7, 5),), label="no_spatial=True: no hw branch"),
        Case({}, ((2, 1, 5, 9),), label="C=1: the cw and hc planes are one row or column"),
        Case({}, ((2, 16, 1, 1),), label="1x1 image: only C is a real conv axis"),
    ),
    invalid_configs=(
        InvalidConfig(
            {"no_spatial": "yes"},
            match="Received: no_spatial='yes'",
            reason="no_spatial must be a bool",
        ),
    ),
    quirks=(
        Quirk(
            "BN momentum 0.01",
            "upstream's BasicConv sets momentum=0.01 (Keras 0.99), not torch's default 0.1",
            _check_triplet_bn_momentum,
        ),
        Quirk(
            "`cw` pools H, `hc` pools W",
            "the branch names do not say what they pool; C is a spatial axis of both convs",
            _check_triplet_branch_planes,
        ),
        Quirk(
            "in-place `sigmoid_` on a temporary",
            "the gate is written into the BN output; the input is left alone",
            _check_triplet_sigmoid_in_place_on_a_temporary,
        ),
    ),
    paper="Misra et al., 2021, https://arxiv.org/abs/2010.03045",
    deviations_from_upstream="a non-bool `no_spatial` is rejected (upstream takes any truthy value)",
)


# ----------------------------------------------------------------------------------------------

FAMILY = (
    BAM_BLOCK,
    CBAM_BLOCK,
    COORD_ATT,
    PARALLEL_POLARIZED_SELF_ATTENTION,
    RESIDUAL_ATTENTION,
    SEQUENTIAL_POLARIZED_SELF_ATTENTION,
    TRIPLET_ATTENTION,
)
