"""The registry of our block pairs: one `ModuleSpec` each, alphabetical. The only module of
`parity` that names a block."""

from __future__ import annotations

from types import MappingProxyType

from hypothesis import strategies as st

import reference_torch
import tf_attention
from parity.spec import Case, ExtraInput, InvalidConfig, ModuleSpec
from parity.strategies import batches, image_case, image_shapes, odd_kernels, sizes

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
    smoke_cases=(
        Case(
            {"channel": 512, "reduction": 16, "dia_val": 2},
            ((50, 512, 7, 7),),
            label="upstream README (spatial branch collapses to 1x1)",
        ),
        Case({"channel": 48, "reduction": 4, "dia_val": 1}, ((2, 48, 7, 5),), label="asymmetric"),
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
    smoke_cases=(
        Case(
            {"channel": 512, "reduction": 16, "kernel_size": 7},
            ((50, 512, 7, 7),),
            label="upstream README",
        ),
        Case(
            {"channel": 48, "reduction": 8, "kernel_size": 5}, ((2, 48, 7, 5),), label="asymmetric"
        ),
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
    paper="Woo et al., 2018, https://arxiv.org/abs/1807.06521",
    deviations_from_upstream="none",
)


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
    smoke_cases=(
        # Upstream README uses batch 50; batch 2 keeps the 512-channel convs cheap (MODULES 3.10).
        Case(
            {"d_model": 512, "kernel_size": 3, "H": 7, "W": 7},
            ((2, 512, 7, 7),),
            label="upstream README",
        ),
        Case(
            {"d_model": 12, "kernel_size": 3, "H": 5, "W": 7}, ((2, 12, 5, 7),), label="asymmetric"
        ),
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
    paper="Fu et al., 2019, https://arxiv.org/abs/1809.02983",
    deviations_from_upstream=(
        "honours d_model, kernel_size, H, W (upstream always builds 512/3/7/7, issue #56)"
    ),
)


# ----------------------------------------------------------------------------------------------
# Efficient Channel Attention (Wang et al., 2020), https://arxiv.org/abs/1910.03151


@st.composite
def eca_attention_cases(draw: st.DrawFn) -> Case:
    """ECAAttention: odd kernel (may exceed the channel count), any C, H and W independent."""
    kernel_size = draw(odd_kernels(max_kernel=9), label="kernel_size")
    channel = draw(sizes(max_size=48), label="channel")
    shape = draw(image_shapes(channel), label="shape")
    return image_case({"kernel_size": kernel_size}, shape)


ECA_ATTENTION = ModuleSpec(
    name="ECAAttention",
    torch_class=reference_torch.ECAAttention,
    keras_class=tf_attention.ECAAttention,
    layout="image",
    cases=eca_attention_cases,
    smoke_cases=(
        Case({"kernel_size": 3}, ((50, 512, 7, 7),), label="upstream README"),
        Case({"kernel_size": 5}, ((2, 48, 7, 5),), label="asymmetric"),
    ),
    invalid_configs=(
        InvalidConfig(
            {"kernel_size": 4},
            match="Received: kernel_size=4",
            reason="even kernel: padding (k-1)//2 shrinks the channel sequence to C-1",
        ),
        InvalidConfig(
            {"kernel_size": 0}, match="Received: kernel_size=0", reason="non-positive kernel"
        ),
        InvalidConfig(
            {"kernel_size": 3},
            match="input",
            input_shape=(2, 8, 5),
            reason="3D input: ECA needs (batch, channel, height, width)",
        ),
    ),
    paper="Wang et al., 2020, https://arxiv.org/abs/1910.03151",
    deviations_from_upstream="none",
)


# ----------------------------------------------------------------------------------------------
# ResT's efficient multi-head self-attention (Zhang and Yang, 2021), https://arxiv.org/abs/2105.13677


def _emsa_reduced_side(side: int, ratio: int) -> int:
    """EMSA's reduction conv output size: kernel ratio + 1, stride ratio, padding ratio // 2."""
    return (side + 2 * (ratio // 2) - ratio - 1) // ratio + 1


@st.composite
def emsa_cases(draw: st.DrawFn) -> Case:
    """EMSA: d_model, d_k, d_v, h independent; ratio > 1 reads the queries as an H x W grid
    (nq = H * W, H and W >= ratio + 1 - 2 * (ratio // 2), keys and values ignored: their nk is
    drawn freely); ratio == 1 draws nq and nk. With the transform on (h > 1), the attention map
    has more than one element (nq * n' > 1). d_model >= 2 when ratio > 1 (see below). No masks (a masked entry makes its row non-finite);
    attention_weights, broadcastable to (B, h, nq, n'), are sometimes given."""
    batch = draw(batches(), label="batch")
    h = draw(st.integers(1, 4), label="h")
    apply_transform = draw(st.booleans(), label="apply_transform")
    transform_on = apply_transform and h > 1
    ratio = draw(st.integers(1, 4), label="ratio")
    # d_model = 1 with ratio > 1 is ill-conditioned: the LayerNorm over one feature maps every
    # reduced token to its bias (zero variance), so in exact arithmetic all keys are equal. Keras
    # computes LayerNorm as x * inv + (beta - mean * inv) with inv = 1/sqrt(1e-5) ~ 316, leaving
    # ~316 * |x| * eps of noise in the keys where torch leaves none; the softmax (and with the
    # transform on, the instance norm over exactly uniform rows) amplifies it: float32
    # differences of 2e-4 to 1e-3 of the output scale (float64 still ~1e-12).
    min_d_model = 2 if ratio > 1 else 1
    d_model = draw(st.integers(min_d_model, 48), label="d_model")
    d_k = draw(sizes(max_size=16), label="d_k")
    d_v = draw(sizes(max_size=16), label="d_v")
    config = {
        "d_model": d_model,
        "d_k": d_k,
        "d_v": d_v,
        "h": h,
        "ratio": ratio,
        "apply_transform": apply_transform,
    }
    if ratio > 1:
        min_side = ratio + 1 - 2 * (ratio // 2)  # 2 for odd ratios, 1 for even ones
        height = draw(st.integers(min_side, 12), label="H")
        # H = W = 1 (even ratio) gives a 1 x 1 attention map: the instance norm rejects it.
        min_width = 2 if transform_on and height == 1 else min_side
        width = draw(st.integers(min_width, 12), label="W")
        config.update(H=height, W=width)
        num_queries = height * width
        num_keys = draw(sizes(max_size=12), label="nk (ignored)")
        num_reduced = _emsa_reduced_side(height, ratio) * _emsa_reduced_side(width, ratio)
    else:
        num_queries = draw(sizes(max_size=12), label="nq")
        num_keys = draw(st.integers(2 if transform_on and num_queries == 1 else 1, 12), label="nk")
        num_reduced = num_keys
    extra_inputs = {}
    if draw(st.booleans(), label="with attention_weights"):
        weight_batch = draw(st.sampled_from((1, batch)), label="attention_weights batch")
        weight_heads = draw(st.sampled_from((1, h)), label="attention_weights heads")
        extra_inputs["attention_weights"] = ExtraInput(
            "float", (weight_batch, weight_heads, num_queries, num_reduced)
        )
    return Case(
        config=config,
        input_shapes=(
            (batch, num_queries, d_model),
            (batch, num_keys, d_model),
            (batch, num_keys, d_model),
        ),
        extra_inputs=extra_inputs,
    )


EMSA = ModuleSpec(
    name="EMSA",
    torch_class=reference_torch.EMSA,
    keras_class=tf_attention.EMSA,
    layout="sequence",
    cases=emsa_cases,
    smoke_cases=(
        Case(
            {
                "d_model": 512,
                "d_k": 512,
                "d_v": 512,
                "h": 8,
                "H": 8,
                "W": 8,
                "ratio": 2,
                "apply_transform": True,
            },
            ((50, 64, 512), (50, 64, 512), (50, 64, 512)),
            shared_input=True,
            label="upstream README",
        ),
        # H != W != d_model, d_k != d_v, odd ratio 3 (7 x 5 grid -> 2 x 2 reduced tokens).
        Case(
            {"d_model": 24, "d_k": 6, "d_v": 10, "h": 3, "H": 7, "W": 5, "ratio": 3},
            ((2, 35, 24), (2, 35, 24), (2, 35, 24)),
            shared_input=True,
            label="asymmetric",
        ),
        # ratio 1: keys and values used, nq != nk, with attention_weights.
        Case(
            {"d_model": 20, "d_k": 7, "d_v": 5, "h": 2, "ratio": 1},
            ((3, 6, 20), (3, 9, 20), (3, 9, 20)),
            extra_inputs={"attention_weights": ExtraInput("float", (1, 2, 6, 9))},
            label="ratio 1, nq != nk, attention_weights",
        ),
    ),
    invalid_configs=(
        InvalidConfig(
            {"d_model": 8, "d_k": 4, "d_v": 4, "h": 2, "H": 1, "W": 5, "ratio": 3},
            match="Received: H=1",
            reason="an odd ratio needs H, W >= 2 (upstream fails inside the reduction conv)",
        ),
        InvalidConfig(
            {"d_model": 8, "d_k": 4, "d_v": 4, "h": 2, "H": 1, "W": 1, "ratio": 2},
            match="apply_transform",
            reason="a 1 x 1 attention map: the instance norm needs more than one element",
        ),
        InvalidConfig(
            {"d_model": 8, "d_k": 4, "d_v": 4, "h": 2, "ratio": 1},
            match="apply_transform",
            input_shape=(2, 1, 8),
            reason="nq = nk = 1 with the transform on: a one-element attention map",
        ),
        InvalidConfig(
            {"d_model": 8, "d_k": 4, "d_v": 4, "h": 2, "H": 4, "W": 4, "ratio": 2},
            match="H * W",
            input_shape=(2, 15, 8),
            reason="ratio > 1 reads the queries as an H x W grid: nq must be H * W",
        ),
        InvalidConfig(
            {"d_model": 8, "d_k": 4, "d_v": 4, "h": 2, "ratio": 0},
            match="Received: ratio=0",
            reason="no reduction ratio (upstream silently treats ratio < 1 as 1)",
        ),
        InvalidConfig(
            {"d_model": 8, "d_k": 0, "d_v": 4, "h": 2},
            match="Received: d_k=0",
            reason="no features per head",
        ),
    ),
    paper="Zhang and Yang, 2021, https://arxiv.org/abs/2105.13677",
    deviations_from_upstream="none",
)


# ----------------------------------------------------------------------------------------------
# External Attention (Guo et al., 2021), https://arxiv.org/abs/2105.02358


@st.composite
def external_attention_cases(draw: st.DrawFn) -> Case:
    """ExternalAttention: B, N, d_model, S >= 1 and independent (N = 1 gives a uniform 1/S row)."""
    d_model = draw(sizes(max_size=48), label="d_model")
    S = draw(sizes(max_size=32), label="S")
    batch = draw(batches(), label="batch")
    tokens = draw(sizes(), label="tokens")
    return Case(config={"d_model": d_model, "S": S}, input_shapes=((batch, tokens, d_model),))


EXTERNAL_ATTENTION = ModuleSpec(
    name="ExternalAttention",
    torch_class=reference_torch.ExternalAttention,
    keras_class=tf_attention.ExternalAttention,
    layout="sequence",
    cases=external_attention_cases,
    smoke_cases=(
        Case({"d_model": 512, "S": 8}, ((50, 49, 512),), label="upstream README"),
        Case({"d_model": 24, "S": 5}, ((3, 7, 24),), label="asymmetric"),
    ),
    invalid_configs=(
        InvalidConfig({"d_model": 0, "S": 8}, match="Received: d_model=0", reason="no features"),
        InvalidConfig({"d_model": 8, "S": 0}, match="Received: S=0", reason="no memory slots"),
        InvalidConfig(
            {"d_model": 8, "S": 4},
            match="Expected `queries` to have 8 features",
            input_shape=(2, 5, 6),
            reason="queries with 6 features for d_model=8",
        ),
    ),
    paper="Guo et al., 2021, https://arxiv.org/abs/2105.02358",
    deviations_from_upstream="none",
)


# ----------------------------------------------------------------------------------------------
# MUSE: parallel multi-scale attention (Zhao et al., 2019), https://arxiv.org/abs/1911.09483


@st.composite
def muse_attention_cases(draw: st.DrawFn) -> Case:
    """MUSEAttention: d_model, d_k, d_v, h independent; nq = nk = N (the convolution branch has
    one token per key and is added to the attention output). attention_mask (never a fully
    masked row) and attention_weights, each broadcastable to (B, h, N, N), sometimes given."""
    batch = draw(batches(), label="batch")
    d_model = draw(sizes(max_size=48), label="d_model")
    d_k = draw(sizes(max_size=16), label="d_k")
    d_v = draw(sizes(max_size=16), label="d_v")
    h = draw(st.integers(1, 4), label="h")
    tokens = draw(sizes(max_size=12), label="N")
    extra_inputs = {}
    for name, kind in (("attention_mask", "mask"), ("attention_weights", "float")):
        if draw(st.booleans(), label=f"with {name}"):
            extra_batch = draw(st.sampled_from((1, batch)), label=f"{name} batch")
            extra_heads = draw(st.sampled_from((1, h)), label=f"{name} heads")
            extra_inputs[name] = ExtraInput(kind, (extra_batch, extra_heads, tokens, tokens))
    shared = draw(st.booleans(), label="shared input (x, x, x)")
    return Case(
        config={"d_model": d_model, "d_k": d_k, "d_v": d_v, "h": h},
        input_shapes=((batch, tokens, d_model),) * 3,
        extra_inputs=extra_inputs,
        shared_input=shared,
    )


MUSE_ATTENTION = ModuleSpec(
    name="MUSEAttention",
    torch_class=reference_torch.MUSEAttention,
    keras_class=tf_attention.MUSEAttention,
    layout="sequence",
    cases=muse_attention_cases,
    smoke_cases=(
        Case(
            {"d_model": 512, "d_k": 512, "d_v": 512, "h": 8},
            ((50, 49, 512), (50, 49, 512), (50, 49, 512)),
            shared_input=True,
            label="upstream README",
        ),
        # d_model != d_k != d_v, N != any feature size, separate queries/keys/values, both extras.
        Case(
            {"d_model": 20, "d_k": 6, "d_v": 10, "h": 3},
            ((2, 7, 20), (2, 7, 20), (2, 7, 20)),
            extra_inputs={
                "attention_mask": ExtraInput("mask", (2, 1, 7, 7)),
                "attention_weights": ExtraInput("float", (1, 3, 7, 7)),
            },
            label="asymmetric",
        ),
    ),
    invalid_configs=(
        InvalidConfig(
            {"d_model": 8, "d_k": 4, "d_v": 4, "h": 0}, match="Received: h=0", reason="no heads"
        ),
        InvalidConfig(
            {"d_model": 8, "d_k": 4, "d_v": 0, "h": 2},
            match="Received: d_v=0",
            reason="no value features per head",
        ),
        InvalidConfig(
            {"d_model": 8, "d_k": 4, "d_v": 4, "h": 2, "dropout": 1.5},
            match="dropout",
            reason="dropout rate outside [0, 1]",
        ),
        InvalidConfig(
            {"d_model": 8, "d_k": 4, "d_v": 4, "h": 2},
            match="nq == nk",
            input_shapes=((2, 3, 8), (2, 5, 8), (2, 5, 8)),
            reason="nq != nk: the conv branch's (B, nk, d_model) is added to the (B, nq, d_model) "
            "attention output",
        ),
    ),
    paper="Zhao et al., 2019, https://arxiv.org/abs/1911.09483",
    deviations_from_upstream=(
        "fix (c): forward does not overwrite the dy_paras Parameter (upstream replaces it by its "
        "softmax on every call); the output equals upstream's first call from the same state"
    ),
)


# ----------------------------------------------------------------------------------------------
# Pyramid Split Attention, EPSANet (Zhang et al., 2021), https://arxiv.org/abs/2105.14447


@st.composite
def psa_cases(draw: st.DrawFn) -> Case:
    """PSA: C = S * c', 1 <= reduction <= c' (so C // (S * reduction) >= 1); any H, W >= 1."""
    S = draw(st.integers(1, 4), label="S")
    split = draw(sizes(max_size=48 // S), label="channels per scale")
    channel = S * split
    reduction = draw(st.integers(1, split), label="reduction")
    shape = draw(image_shapes(channel), label="shape")
    return image_case({"channel": channel, "reduction": reduction, "S": S}, shape)


PSA = ModuleSpec(
    name="PSA",
    torch_class=reference_torch.PSA,
    keras_class=tf_attention.PSA,
    layout="image",
    cases=psa_cases,
    smoke_cases=(
        Case({"channel": 512, "reduction": 8}, ((50, 512, 7, 7),), label="upstream README"),
        Case({"channel": 36, "reduction": 3, "S": 3}, ((2, 36, 9, 5),), label="asymmetric"),
    ),
    invalid_configs=(
        InvalidConfig({"channel": 10, "S": 4}, match="channel", reason="channel % S != 0"),
        InvalidConfig(
            {"channel": 16, "reduction": 8, "S": 4},
            match="reduction",
            reason="no SE bottleneck unit",
        ),
        InvalidConfig({"channel": 16, "S": 0}, match="S", reason="no scale"),
        InvalidConfig(
            {"channel": 16, "reduction": 2, "S": 4},
            match="channel",
            input_shape=(1, 12, 4, 5),
            reason="wrong channels",
        ),
    ),
    paper="Zhang et al., 2021, https://arxiv.org/abs/2105.14447",
    deviations_from_upstream=(
        "convs and se_blocks registered as nn.ModuleList (upstream's plain lists leave state_dict "
        "empty; #14, PR #84); no in-place write into the input (#16); math unchanged"
    ),
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
    smoke_cases=(
        Case(
            {"channel": 512, "num_class": 1000, "la": 0.2},
            ((50, 512, 7, 7),),
            label="upstream README",
        ),
        Case({"channel": 48, "num_class": 10, "la": 0.7}, ((2, 48, 7, 5),), label="asymmetric"),
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
# Shared by ScaledDotProductAttention and SimplifiedScaledDotProductAttention (and usable by
# any block with the (queries, keys, values, attention_mask, attention_weights) call).


@st.composite
def broadcast_attention_shapes(
    draw: st.DrawFn, batch: int, heads: int, nq: int, nk: int
) -> tuple[int, ...]:
    """Shapes broadcastable to `(batch, heads, nq, nk)`: rank 2 to 4, each leading axis either
    full or 1, the key axis always full (so a mask row can keep one unmasked key).
    Shrinks towards rank 2 `(1, nk)`."""
    rank = draw(st.integers(2, 4), label="rank")
    leading = [
        draw(st.sampled_from((1, size)), label=axis)
        for axis, size in (("batch", batch), ("heads", heads), ("nq", nq))
    ]
    return (*leading[3 - (rank - 1) :], nk)


@st.composite
def attention_call_extras(
    draw: st.DrawFn, batch: int, heads: int, nq: int, nk: int
) -> dict[str, ExtraInput]:
    """Sometimes an `attention_mask` (no fully masked row), sometimes `attention_weights`."""
    extras = {}
    if draw(st.booleans(), label="with attention_mask"):
        shape = draw(broadcast_attention_shapes(batch, heads, nq, nk), label="mask shape")
        extras["attention_mask"] = ExtraInput("mask", shape)
    if draw(st.booleans(), label="with attention_weights"):
        shape = draw(broadcast_attention_shapes(batch, heads, nq, nk), label="weights shape")
        extras["attention_weights"] = ExtraInput("float", shape)
    return extras


# ----------------------------------------------------------------------------------------------
# Scaled dot-product attention (Vaswani et al., 2017), https://arxiv.org/abs/1706.03762


@st.composite
def scaled_dot_product_attention_cases(draw: st.DrawFn) -> Case:
    """ScaledDotProductAttention: d_model, d_k, d_v, h, nq, nk all drawn independently (d_k and
    d_v are the per-head sizes, never d_model); sometimes self-attention `(x, x, x)`; optional
    broadcastable mask and weights."""
    d_model = draw(sizes(max_size=32), label="d_model")
    d_k = draw(sizes(max_size=16), label="d_k")
    d_v = draw(sizes(max_size=16), label="d_v")
    h = draw(sizes(max_size=4), label="h")
    batch = draw(batches(), label="batch")
    shared = draw(st.booleans(), label="self-attention (x, x, x)")
    nq = draw(sizes(), label="nq")
    nk = nq if shared else draw(sizes(), label="nk")
    return Case(
        config={"d_model": d_model, "d_k": d_k, "d_v": d_v, "h": h},
        input_shapes=((batch, nq, d_model), (batch, nk, d_model), (batch, nk, d_model)),
        extra_inputs=draw(attention_call_extras(batch, h, nq, nk), label="extra inputs"),
        shared_input=shared,
    )


SCALED_DOT_PRODUCT_ATTENTION = ModuleSpec(
    name="ScaledDotProductAttention",
    torch_class=reference_torch.ScaledDotProductAttention,
    keras_class=tf_attention.ScaledDotProductAttention,
    layout="sequence",
    cases=scaled_dot_product_attention_cases,
    smoke_cases=(
        Case(
            {"d_model": 512, "d_k": 512, "d_v": 512, "h": 8},
            ((50, 49, 512),) * 3,
            label="upstream README",
            shared_input=True,
        ),
        Case(
            {"d_model": 20, "d_k": 6, "d_v": 5, "h": 3},
            ((2, 7, 20), (2, 9, 20), (2, 9, 20)),
            extra_inputs={
                "attention_mask": ExtraInput("mask", (2, 1, 7, 9)),
                "attention_weights": ExtraInput("float", (1, 3, 1, 9)),
            },
            label="asymmetric",
        ),
    ),
    invalid_configs=(
        InvalidConfig(
            {"d_model": 8, "d_k": 0, "d_v": 4, "h": 2},
            match="Received: d_k=0",
            reason="empty heads",
        ),
        InvalidConfig(
            {"d_model": 8, "d_k": 4, "d_v": 4, "h": 0}, match="Received: h=0", reason="no heads"
        ),
        InvalidConfig(
            {"d_model": 8, "d_k": 4, "d_v": 4, "h": 2, "dropout": 1.5},
            match="Received: dropout=1.5",
            reason="dropout is a probability",
        ),
    ),
    paper="Vaswani et al., 2017, https://arxiv.org/abs/1706.03762",
    deviations_from_upstream="none",
)


# ----------------------------------------------------------------------------------------------
# Squeeze-and-Excitation (Hu et al., 2018), https://arxiv.org/abs/1709.01507


@st.composite
def se_attention_cases(draw: st.DrawFn) -> Case:
    """SEAttention: any channel count, 1 <= reduction <= channel, H and W independent."""
    channel = draw(sizes(max_size=48), label="channel")
    reduction = draw(st.integers(1, channel), label="reduction")
    shape = draw(image_shapes(channel), label="shape")
    return image_case({"channel": channel, "reduction": reduction}, shape)


SE_ATTENTION = ModuleSpec(
    name="SEAttention",
    torch_class=reference_torch.SEAttention,
    keras_class=tf_attention.SEAttention,
    layout="image",
    cases=se_attention_cases,
    smoke_cases=(
        Case({"channel": 512, "reduction": 8}, ((50, 512, 7, 7),), label="upstream README"),
        Case({"channel": 48, "reduction": 8}, ((2, 48, 7, 5),), label="asymmetric"),
    ),
    invalid_configs=(
        InvalidConfig(
            {"channel": 8, "reduction": 16}, match="reduction", reason="no bottleneck unit"
        ),
        InvalidConfig({"channel": 8, "reduction": 0}, match="reduction", reason="zero reduction"),
        InvalidConfig({"channel": 0, "reduction": 1}, match="channel", reason="no channels"),
    ),
    paper="Hu et al., 2018, https://arxiv.org/abs/1709.01507",
)


# ----------------------------------------------------------------------------------------------
# Simplified scaled dot-product attention, no q/k/v projections (after Vaswani et al., 2017),
# https://arxiv.org/abs/1706.03762


@st.composite
def simplified_scaled_dot_product_attention_cases(draw: st.DrawFn) -> Case:
    """SimplifiedScaledDotProductAttention: d_model = h * m (m features per head), nq and nk
    independent; sometimes self-attention `(x, x, x)`; optional broadcastable mask and weights."""
    h = draw(sizes(max_size=4), label="h")
    per_head = draw(sizes(max_size=8), label="d_model // h")
    d_model = h * per_head
    batch = draw(batches(), label="batch")
    shared = draw(st.booleans(), label="self-attention (x, x, x)")
    nq = draw(sizes(), label="nq")
    nk = nq if shared else draw(sizes(), label="nk")
    return Case(
        config={"d_model": d_model, "h": h},
        input_shapes=((batch, nq, d_model), (batch, nk, d_model), (batch, nk, d_model)),
        extra_inputs=draw(attention_call_extras(batch, h, nq, nk), label="extra inputs"),
        shared_input=shared,
    )


SIMPLIFIED_SCALED_DOT_PRODUCT_ATTENTION = ModuleSpec(
    name="SimplifiedScaledDotProductAttention",
    torch_class=reference_torch.SimplifiedScaledDotProductAttention,
    keras_class=tf_attention.SimplifiedScaledDotProductAttention,
    layout="sequence",
    cases=simplified_scaled_dot_product_attention_cases,
    smoke_cases=(
        Case(
            {"d_model": 512, "h": 8},
            ((50, 49, 512),) * 3,
            label="upstream README",
            shared_input=True,
        ),
        Case(
            {"d_model": 12, "h": 3},
            ((2, 5, 12), (2, 8, 12), (2, 8, 12)),
            extra_inputs={
                "attention_mask": ExtraInput("mask", (1, 3, 5, 8)),
                "attention_weights": ExtraInput("float", (2, 1, 5, 8)),
            },
            label="asymmetric",
        ),
    ),
    invalid_configs=(
        InvalidConfig(
            {"d_model": 10, "h": 4},
            match="Received: d_model=10, h=4",
            reason="d_model not divisible by h (upstream fails later with a view error)",
        ),
        InvalidConfig({"d_model": 8, "h": 0}, match="Received: h=0", reason="no heads"),
        InvalidConfig({"d_model": 0, "h": 1}, match="Received: d_model=0", reason="no features"),
    ),
    paper="Vaswani et al., 2017, https://arxiv.org/abs/1706.03762",
    deviations_from_upstream=(
        "d_model % h != 0 is rejected in __init__ with a ValueError (upstream fails in forward)"
    ),
)


# ----------------------------------------------------------------------------------------------
# Selective Kernel Networks (Li et al., 2019), https://arxiv.org/abs/1903.06586


@st.composite
def sk_attention_cases(draw: st.DrawFn) -> Case:
    """SKAttention: 1-4 odd kernels (repeats allowed), channel % group == 0, L >= 1; the squeeze
    width d = max(L, channel // reduction) comes from either term."""
    group = draw(st.integers(1, 4), label="group")
    channel = group * draw(sizes(max_size=48 // group), label="channels per group")
    kernels = draw(st.lists(odd_kernels(max_kernel=7), min_size=1, max_size=4), label="kernels")
    reduction = draw(st.integers(1, 2 * channel), label="reduction")
    L = draw(st.integers(1, 40), label="L")
    shape = draw(image_shapes(channel), label="shape")
    config = {
        "channel": channel,
        "kernels": kernels,
        "reduction": reduction,
        "group": group,
        "L": L,
    }
    return image_case(config, shape)


SK_ATTENTION = ModuleSpec(
    name="SKAttention",
    torch_class=reference_torch.SKAttention,
    keras_class=tf_attention.SKAttention,
    layout="image",
    cases=sk_attention_cases,
    smoke_cases=(
        Case({"channel": 512, "reduction": 8}, ((50, 512, 7, 7),), label="upstream README"),
        Case(
            {"channel": 24, "kernels": [1, 3, 5], "reduction": 4, "group": 3, "L": 4},
            ((2, 24, 9, 5),),
            label="asymmetric",
        ),
    ),
    invalid_configs=(
        InvalidConfig({"channel": 8, "kernels": [1, 2]}, match="kernels", reason="even kernel"),
        InvalidConfig({"channel": 8, "kernels": []}, match="kernels", reason="no branch"),
        InvalidConfig({"channel": 6, "group": 4}, match="group", reason="channel % group != 0"),
        InvalidConfig({"channel": 8, "L": 0}, match="L", reason="empty squeeze layer"),
        InvalidConfig({"channel": 8, "reduction": 0}, match="reduction", reason="zero reduction"),
        InvalidConfig(
            {"channel": 8}, match="channel", input_shape=(1, 6, 4, 5), reason="wrong channels"
        ),
    ),
    paper="Li et al., 2019, https://arxiv.org/abs/1903.06586",
    deviations_from_upstream="none",
)


# ----------------------------------------------------------------------------------------------
# SA-Net shuffle attention (Zhang and Yang, 2021), https://arxiv.org/abs/2102.00240


@st.composite
def shuffle_attention_cases(draw: st.DrawFn) -> Case:
    """ShuffleAttention: C = 2 * G * c''; B * G * H * W > 1 (torch's GroupNorm rejects a single
    value per channel); `reduction` is unused but still varied."""
    G = draw(st.integers(1, 4), label="G")
    half = draw(sizes(max_size=48 // (2 * G)), label="channels per half group")
    channel = 2 * G * half
    reduction = draw(st.integers(1, 16), label="reduction")
    batch = draw(batches(), label="batch")
    height = draw(sizes(), label="height")
    # Without assume(): a 1x1 image with B * G == 1 needs a second position.
    single = batch * G * height == 1
    width = draw(sizes(min_size=2 if single else 1), label="width")
    config = {"channel": channel, "reduction": reduction, "G": G}
    return image_case(config, (batch, channel, height, width))


SHUFFLE_ATTENTION = ModuleSpec(
    name="ShuffleAttention",
    torch_class=reference_torch.ShuffleAttention,
    keras_class=tf_attention.ShuffleAttention,
    layout="image",
    cases=shuffle_attention_cases,
    smoke_cases=(
        Case({"channel": 512, "G": 8}, ((50, 512, 7, 7),), label="upstream README"),
        Case({"channel": 36, "reduction": 4, "G": 3}, ((2, 36, 9, 5),), label="asymmetric"),
    ),
    invalid_configs=(
        InvalidConfig({"channel": 12, "G": 4}, match="channel", reason="channel % (2 * G) != 0"),
        InvalidConfig({"channel": 16, "G": 0}, match="G", reason="no group"),
        InvalidConfig(
            {"channel": 16, "G": 2},
            match="channel",
            input_shape=(1, 8, 4, 5),
            reason="wrong channels",
        ),
    ),
    paper="Zhang and Yang, 2021, https://arxiv.org/abs/2102.00240",
    deviations_from_upstream="none",
)


# ----------------------------------------------------------------------------------------------
# Spatial Group-wise Enhance (Li et al., 2019), https://arxiv.org/abs/1905.09646


@st.composite
def spatial_group_enhance_cases(draw: st.DrawFn) -> Case:
    """SpatialGroupEnhance: C = G * c'; H * W >= 2 (one position gives NaN on both sides, left to a
    dedicated test)."""
    groups = draw(st.integers(1, 6), label="groups")
    channel = groups * draw(sizes(max_size=48 // groups), label="channels per group")
    batch = draw(batches(), label="batch")
    height = draw(sizes(), label="height")
    # Without assume(): a single row needs at least two columns.
    width = draw(sizes(min_size=2 if height == 1 else 1), label="width")
    return image_case({"groups": groups}, (batch, channel, height, width))


SPATIAL_GROUP_ENHANCE = ModuleSpec(
    name="SpatialGroupEnhance",
    torch_class=reference_torch.SpatialGroupEnhance,
    keras_class=tf_attention.SpatialGroupEnhance,
    layout="image",
    cases=spatial_group_enhance_cases,
    smoke_cases=(
        Case({"groups": 8}, ((50, 512, 7, 7),), label="upstream README"),
        Case({"groups": 3}, ((2, 36, 9, 5),), label="asymmetric"),
    ),
    invalid_configs=(
        InvalidConfig({"groups": 0}, match="groups", reason="no group"),
        InvalidConfig(
            {"groups": 5},
            match="groups",
            input_shape=(2, 12, 4, 4),
            reason="channels % groups != 0",
        ),
    ),
    paper="Li et al., 2019, https://arxiv.org/abs/1905.09646",
    deviations_from_upstream="none",
)


# ----------------------------------------------------------------------------------------------

_ALL = (
    BAM_BLOCK,
    CBAM_BLOCK,
    DA_MODULE,
    ECA_ATTENTION,
    EMSA,
    EXTERNAL_ATTENTION,
    MUSE_ATTENTION,
    PSA,
    RESIDUAL_ATTENTION,
    SCALED_DOT_PRODUCT_ATTENTION,
    SE_ATTENTION,
    SIMPLIFIED_SCALED_DOT_PRODUCT_ATTENTION,
    SK_ATTENTION,
    SHUFFLE_ATTENTION,
    SPATIAL_GROUP_ENHANCE,
)

SPECS = MappingProxyType({spec.name: spec for spec in sorted(_ALL, key=lambda s: s.name)})
