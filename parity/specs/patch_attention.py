"""Attention over local windows and patches: outlook (unfold/fold), ACmix (reflect-padded
windows plus a shift convolution) and MobileViT (a transformer over patches).

One `ModuleSpec` per block pair, alphabetical; `FAMILY` lists them for the registry."""

from __future__ import annotations

import keras
import numpy as np
import torch
from hypothesis import strategies as st

import reference_torch
import tf_attention
from parity.spec import Case, InvalidConfig, ModuleSpec, Quirk, expect
from parity.strategies import batches, image_case, odd_kernels, sizes

# ----------------------------------------------------------------------------------------------
# Upstream quirks the references keep, each with the check that proves it.


def _expect_both_reject(config: dict, match: str, classes: tuple[type, type]) -> None:
    for cls in classes:
        try:
            cls(**config)
        except ValueError as error:
            expect(match in str(error), f"{cls.__module__}: {error}")
        else:
            raise AssertionError(f"{cls.__module__}.{cls.__name__} accepted {config}")


def _check_acmix_dep_conv_bias_removed() -> None:
    """upstream assigns init_rate_0's None to dep_conv.bias; rate1 = rate2 = 0.5; dep_conv's
    kernel is the one-hot shift kernels W[o, i, a, b] = [i == 3a + b]. Same init in Keras."""
    module = reference_torch.ACmix(in_planes=4, out_planes=6, kernel_att=3, head=2)
    expect(module.dep_conv.bias is None, "torch dep_conv has a bias")
    expect("dep_conv.bias" not in module.state_dict(), "dep_conv.bias in the state_dict")
    expect(module.rate1.item() == module.rate2.item() == 0.5, "rates are not 0.5")
    layer = tf_attention.ACmix(in_planes=4, out_planes=6, kernel_att=3, head=2)
    layer(np.zeros((1, 5, 4, 4), "float32"))
    expect(not layer.dep_conv.use_bias, "Keras dep_conv has a bias")
    expect(float(layer.rate1.numpy()[0]) == float(layer.rate2.numpy()[0]) == 0.5, "Keras rates")
    torch_kernel = module.dep_conv.weight.detach().numpy().transpose(2, 3, 1, 0)  # (a, b, i, o)
    expect(np.array_equal(layer.dep_conv.kernel.numpy(), torch_kernel), "Keras shift kernels")
    for i in range(9):
        one_hot = np.zeros((3, 3))
        one_hot[i // 3, i % 3] = 1.0
        expect(np.array_equal(torch_kernel[:, :, i, 0], one_hot), f"torch kernel {i}")


def _check_acmix_dilation_and_kernel_conv_unusable() -> None:
    """Upstream builds these and fails in forward (the Unfold ignores dilation; dep_conv's
    padding is hard-coded to 1): both sides reject them in the constructor."""
    classes = (reference_torch.ACmix, tf_attention.ACmix)
    base = {"in_planes": 8, "out_planes": 8, "head": 2}
    _expect_both_reject({**base, "dilation": 2}, "Received: dilation=2", classes)
    for kernel_conv in (1, 5):
        config = {**base, "kernel_conv": kernel_conv}
        _expect_both_reject(config, f"Received: kernel_conv={kernel_conv}", classes)


def _check_acmix_position_is_torch_linspace() -> None:
    """Upstream's position() is torch.linspace in the default dtype (its .cuda() branch is taken
    only for CUDA inputs); the Keras table equals torch.linspace bit for bit in float32 (numpy's
    linspace differs by up to 6e-8) and within one ulp in float64."""
    from reference_torch.acmix import position
    from tf_attention.acmix import linspace_like_torch

    for height, width in ((7, 7), (5, 12), (1, 3)):
        table = position(height, width, torch.float32, torch.device("cpu"))
        upstream_w = torch.linspace(-1.0, 1.0, width).unsqueeze(0).repeat(height, 1)
        upstream_h = torch.linspace(-1.0, 1.0, height).unsqueeze(1).repeat(1, width)
        expect(torch.equal(table, torch.stack([upstream_w, upstream_h])[None]), "torch table")
    for steps in range(1, 33):
        expected = torch.linspace(-1.0, 1.0, steps).numpy()
        actual = keras.ops.convert_to_numpy(linspace_like_torch(steps, "float32"))
        expect(np.array_equal(actual, expected), f"float32 linspace of {steps} steps")
        expected64 = torch.linspace(-1.0, 1.0, steps, dtype=torch.float64).numpy()
        actual64 = keras.ops.convert_to_numpy(linspace_like_torch(steps, "float64"))
        expect(np.abs(actual64 - expected64).max() <= 2.3e-16, f"float64, {steps} steps")


def _check_mobilevit_transformer_ignores_dim() -> None:
    """depth 3, 8 heads x 64, MLP 1024 whatever dim is: at dim=4 to_qkv is (1536, 4)."""
    module = reference_torch.MobileViTAttention(in_channel=2, dim=4, kernel_size=3, patch_size=2)
    expect(len(module.trans.layers) == 3, "torch depth")
    expect(module.trans.layers[0][0].fn.to_qkv.weight.shape == (1536, 4), "torch to_qkv")
    expect(module.trans.layers[2][1].fn.net[0].weight.shape == (1024, 4), "torch MLP")
    layer = tf_attention.MobileViTAttention(in_channel=2, dim=4, kernel_size=3, patch_size=2)
    layer(np.zeros((1, 4, 4, 2), "float32"))
    expect(len(layer.trans.layers) == 3, "Keras depth")
    expect(tuple(layer.trans.layers[0][0].fn.to_qkv.kernel.shape) == (4, 1536), "Keras to_qkv")


def _check_mobilevit_dropout_is_zero() -> None:
    """Every dropout is 0: training mode gives the eval output on both sides."""
    from parity.randomize import randomize_torch

    x = np.random.default_rng(4).standard_normal((2, 2, 4, 6))
    config = {"in_channel": 2, "dim": 6, "kernel_size": 3, "patch_size": 2}
    module = reference_torch.MobileViTAttention(**config).double().eval()
    randomize_torch(module, 0)
    with torch.no_grad():
        eval_out = module(torch.from_numpy(x))
        train_out = module.train()(torch.from_numpy(x))
    expect(torch.equal(train_out, eval_out), "torch: training mode differs")
    layer = tf_attention.MobileViTAttention(**config, dtype="float64")
    keras_x = np.moveaxis(x, 1, -1)
    trained = np.asarray(layer(keras_x, training=True))
    expect(np.array_equal(trained, np.asarray(layer(keras_x))), "Keras: training mode differs")


def _check_outlook_swapped_unfold_arguments() -> None:
    """Upstream's positional `nn.Unfold(kernel_size, padding, stride)` gives the unfold
    dilation=padding and padding=stride: the reference keeps it, and both sides reject every
    window but (3, 1, 1), saying why."""
    module = reference_torch.OutlookAttention(dim=8)
    expect(repr(module.unflod) == "Unfold(kernel_size=3, dilation=1, padding=1, stride=1)", "")
    swapped = torch.nn.Unfold(5, 2, 1)  # VOLO's 5x5 setting, passed the same way
    expect((swapped.dilation, swapped.padding) == (2, 1), "nn.Unfold's positional order")
    classes = (reference_torch.OutlookAttention, tf_attention.OutlookAttention)
    for kernel_size, padding, stride in ((5, 2, 1), (3, 0, 1), (3, 1, 2), (1, 1, 1)):
        config = {"dim": 8, "kernel_size": kernel_size, "padding": padding, "stride": stride}
        match = f"Received: kernel_size={kernel_size}, padding={padding}, stride={stride}"
        _expect_both_reject(config, match, classes)
        _expect_both_reject(config, "dilation=padding", classes)


def _check_outlook_proj_drop_reuses_attn_drop() -> None:
    module = reference_torch.OutlookAttention(dim=8, attn_drop=0.3)
    layer = tf_attention.OutlookAttention(dim=8, attn_drop=0.3)
    expect(module.proj_drop.p == module.attn_drop.p == 0.3, "torch proj_drop rate")
    expect(layer.proj_drop.rate == layer.attn_drop.rate == 0.3, "Keras proj_drop rate")


# ----------------------------------------------------------------------------------------------
# ACmix (Pan et al., 2022), https://arxiv.org/abs/2111.14556


@st.composite
def acmix_cases(draw: st.DrawFn) -> Case:
    """ACmix: out_planes = head * head_dim, in_planes independent; odd kernel_att; kernel_conv 3
    and dilation 1 (nothing else runs upstream); stride 1-3 with H and W multiples of it and
    larger than the reflection padding (kernel_att - 1) // 2, drawn independently."""
    head = draw(st.integers(1, 4), label="head")
    head_dim = draw(st.integers(1, 6), label="head_dim")
    in_planes = draw(sizes(max_size=16), label="in_planes")
    kernel_att = draw(odd_kernels(max_kernel=7), label="kernel_att")
    stride = draw(st.integers(1, 3), label="stride")
    padding = (kernel_att - 1) // 2
    # Multiples of stride in (padding, 12]; never empty since stride <= 3 and padding <= 3.
    side = st.integers(padding // stride + 1, 12 // stride).map(lambda m: m * stride)
    config = {
        "in_planes": in_planes,
        "out_planes": head * head_dim,
        "kernel_att": kernel_att,
        "head": head,
        "stride": stride,
    }
    shape = (
        draw(batches(), label="batch"),
        in_planes,
        draw(side, label="height"),
        draw(side, label="width"),
    )
    return image_case(config, shape)


ACMIX = ModuleSpec(
    name="ACmix",
    torch_class=reference_torch.ACmix,
    keras_class=tf_attention.ACmix,
    layout="image",
    cases=acmix_cases,
    # Upstream's __main__ runs batch 50: its float64 run peaks at 2.5 GB RSS (0.76 GB of it the
    # two frameworks) and takes 6.5 s (float32 3.2 s). Batch 4: 1.0 GB and 0.7 s, same windows.
    upstream_case=Case(
        {"in_planes": 256, "out_planes": 256}, ((4, 256, 7, 7),), label="upstream README"
    ),
    asymmetric_case=Case(
        {"in_planes": 6, "out_planes": 8, "kernel_att": 3, "head": 2},
        ((2, 6, 5, 7),),
        label="asymmetric",
    ),
    smoke_cases=(
        Case(
            {"in_planes": 6, "out_planes": 8, "kernel_att": 5, "head": 2, "stride": 2},
            ((2, 6, 6, 10),),
            label="stride 2: subsampled queries and explicitly padded dep_conv",
        ),
        Case(
            {"in_planes": 8, "out_planes": 12},
            ((2, 8, 4, 6),),
            label="default kernel_att 7 on the smallest height it allows (H = 4 > 3)",
        ),
        Case(
            {"in_planes": 4, "out_planes": 6, "kernel_att": 1, "head": 3},
            ((2, 4, 1, 3),),
            label="kernel_att 1: a one-position window (softmax of 1), H = 1",
        ),
    ),
    invalid_configs=(
        InvalidConfig(
            {"in_planes": 8, "out_planes": 8, "head": 3},
            match="Received: out_planes=8, head=3",
            reason="out_planes % head != 0 (upstream fails at a view in forward)",
        ),
        InvalidConfig(
            {"in_planes": 8, "out_planes": 8, "kernel_att": 4, "head": 2},
            match="Received: kernel_att=4",
            reason="even kernel_att",
        ),
        InvalidConfig(
            {"in_planes": 8, "out_planes": 8, "head": 2, "kernel_conv": 5},
            match="Received: kernel_conv=5",
            reason="dep_conv's padding is hard-coded to 1",
        ),
        InvalidConfig(
            {"in_planes": 8, "out_planes": 8, "head": 2, "dilation": 2},
            match="Received: dilation=2",
            reason="the Unfold ignores dilation",
        ),
        InvalidConfig(
            {"in_planes": 8, "out_planes": 8, "kernel_att": 3, "head": 2, "stride": 2},
            match="Received: H=5, W=5, stride=2",
            input_shape=(2, 8, 5, 5),
            reason="H, W not divisible by stride",
        ),
        InvalidConfig(
            {"in_planes": 8, "out_planes": 8, "head": 2},
            match="Received: H=3, W=3, kernel_att=7",
            input_shape=(2, 8, 3, 3),
            reason="reflection padding 3 needs H, W > 3",
        ),
        InvalidConfig(
            {"in_planes": 8, "out_planes": 8, "kernel_att": 3, "head": 2},
            match="8 channels",
            input_shape=(2, 6, 5, 5),
            reason="input channel count differs from `in_planes`",
        ),
    ),
    quirks=(
        Quirk(
            "dep_conv bias removed",
            "reset_parameters assigns init_rate_0's return value (None) to dep_conv.bias",
            _check_acmix_dep_conv_bias_removed,
        ),
        Quirk(
            "dilation and kernel_conv != 3 unusable",
            "the Unfold ignores dilation and dep_conv's padding is hard-coded to 1: upstream "
            "fails in forward; both sides reject them in the constructor",
            _check_acmix_dilation_and_kernel_conv_unusable,
        ),
        Quirk(
            "torch.linspace position table",
            "position() builds its grid with torch.linspace, whose values differ from numpy's "
            "by up to 6e-8 in float32: the port reproduces torch's rounding",
            _check_acmix_position_is_torch_linspace,
        ),
    ),
    paper="Pan et al., 2022, https://arxiv.org/abs/2111.14556",
    deviations_from_upstream=(
        "position() builds its table in the input's dtype and on its device (no hard-coded "
        ".cuda(); on CPU in float32 this is upstream's path, bit for bit); unusable "
        "configurations raise ValueError in __init__ or forward"
    ),
)


# ----------------------------------------------------------------------------------------------
# MobileViT (Mehta and Rastegari, 2022), https://arxiv.org/abs/2110.02178


@st.composite
def mobilevit_attention_cases(draw: st.DrawFn) -> Case:
    """MobileViTAttention: odd kernel_size; patch_size 1-3 with H and W multiples of it (<= 12),
    drawn independently; small in_channel and dim (the inner transformer is 512/1024 wide
    whatever dim is)."""
    in_channel = draw(st.integers(1, 4), label="in_channel")
    dim = draw(sizes(max_size=16), label="dim")
    kernel_size = draw(odd_kernels(max_kernel=5), label="kernel_size")
    patch_size = draw(st.integers(1, 3), label="patch_size")
    side = st.integers(1, 12 // patch_size).map(lambda m: m * patch_size)
    config = {
        "in_channel": in_channel,
        "dim": dim,
        "kernel_size": kernel_size,
        "patch_size": patch_size,
    }
    shape = (
        draw(batches(max_batch=2), label="batch"),
        in_channel,
        draw(side, label="height"),
        draw(side, label="width"),
    )
    return image_case(config, shape)


MOBILEVIT_ATTENTION = ModuleSpec(
    name="MobileViTAttention",
    torch_class=reference_torch.MobileViTAttention,
    keras_class=tf_attention.MobileViTAttention,
    layout="image",
    cases=mobilevit_attention_cases,
    upstream_case=Case({}, ((1, 3, 49, 49),), label="upstream README"),
    asymmetric_case=Case(
        {"in_channel": 3, "dim": 8, "kernel_size": 3, "patch_size": 2},
        ((2, 3, 4, 6),),
        label="asymmetric",
    ),
    smoke_cases=(
        Case(
            {"in_channel": 2, "dim": 6, "kernel_size": 5, "patch_size": 1},
            ((2, 2, 3, 5),),
            label="patch_size 1: one pixel per patch, attention over all pixels",
        ),
        Case(
            {"in_channel": 3, "dim": 10, "kernel_size": 1, "patch_size": 3},
            ((1, 3, 3, 9),),
            label="kernel_size 1, one patch row (nh = 1)",
        ),
    ),
    invalid_configs=(
        InvalidConfig(
            {"in_channel": 3, "dim": 8, "kernel_size": 4},
            match="Received: kernel_size=4",
            reason="even kernel: padding k//2 grows the map",
        ),
        InvalidConfig(
            {"in_channel": 3, "dim": 8, "patch_size": 0},
            match="Received: patch_size=0",
            reason="no patch",
        ),
        InvalidConfig(
            {"in_channel": 3, "dim": 8, "patch_size": 2},
            match="patch_size=2",
            input_shape=(2, 3, 5, 6),
            reason="H not divisible by patch_size (einops' error upstream)",
        ),
        InvalidConfig(
            {"in_channel": 3, "dim": 8, "patch_size": 2},
            match="3 channels",
            input_shape=(2, 4, 4, 4),
            reason="input channel count differs from `in_channel`",
        ),
    ),
    quirks=(
        Quirk(
            "transformer fixed (depth 3, 8x64, MLP 1024)",
            "upstream hard-codes Transformer(dim, 3, 8, 64, 1024) whatever dim is",
            _check_mobilevit_transformer_ignores_dim,
        ),
        Quirk(
            "every dropout 0",
            "the transformer's dropouts are all built with rate 0: training mode is inference",
            _check_mobilevit_dropout_is_zero,
        ),
    ),
    paper="Mehta and Rastegari, 2022, https://arxiv.org/abs/2110.02178",
    deviations_from_upstream=(
        "einops rearranges written as reshape/permute (same element order); the dead "
        "x.clone() left out; even kernel_size and H, W not divisible by patch_size raise "
        "ValueError"
    ),
)


# ----------------------------------------------------------------------------------------------
# VOLO's outlook attention (Yuan et al., 2021), https://arxiv.org/abs/2106.13112


@st.composite
def outlook_attention_cases(draw: st.DrawFn) -> Case:
    """OutlookAttention: kernel_size=3, padding=1, stride=1 (the only window upstream runs);
    num_heads divides dim (dim = num_heads * head_dim <= 64); H and W independent, 1x1 included;
    channels-last input (B, H, W, dim) on both sides."""
    num_heads = draw(st.integers(1, 4), label="num_heads")
    head_dim = draw(sizes(max_size=16), label="head_dim")
    dim = num_heads * head_dim
    qkv_bias = draw(st.booleans(), label="qkv_bias")
    attn_drop = draw(st.sampled_from((0.1, 0.0, 0.5)), label="attn_drop (inactive in eval)")
    batch = draw(batches(), label="batch")
    height = draw(sizes(), label="H")
    width = draw(sizes(), label="W")
    config = {"dim": dim, "num_heads": num_heads, "qkv_bias": qkv_bias, "attn_drop": attn_drop}
    return Case(config=config, input_shapes=((batch, height, width, dim),))


OUTLOOK_ATTENTION = ModuleSpec(
    name="OutlookAttention",
    torch_class=reference_torch.OutlookAttention,
    keras_class=tf_attention.OutlookAttention,
    layout="channels_last",
    cases=outlook_attention_cases,
    training_config={"attn_drop": 0.0},
    # Upstream's __main__ runs batch 50 (10.9 s upstream alone); batch 2 keeps the float64
    # unfold (9 x 512 values per pixel, on both sides) small.
    upstream_case=Case({"dim": 512}, ((2, 28, 28, 512),), label="upstream README"),
    asymmetric_case=Case(
        {"dim": 12, "num_heads": 3, "qkv_bias": True}, ((2, 7, 5, 12),), label="asymmetric"
    ),
    smoke_cases=(
        Case({"dim": 8, "num_heads": 2}, ((2, 1, 1, 8),), label="1x1 image: one window"),
        Case(
            {"dim": 6, "num_heads": 6, "attn_drop": 0.0},
            ((3, 2, 9, 6),),
            label="head_dim 1 (scale 1), 2-row image: every window touches the border",
        ),
    ),
    invalid_configs=(
        InvalidConfig(
            {"dim": 8, "kernel_size": 5},
            match="Received: kernel_size=5, padding=1, stride=1",
            reason="upstream's unfold gets dilation=1, padding=1: 5x5 windows shrink the map, "
            "the reshape fails",
        ),
        InvalidConfig(
            {"dim": 8, "padding": 0},
            match="Received: kernel_size=3, padding=0, stride=1",
            reason="dilation 0 in upstream's unfold ('dilation should be greater than zero')",
        ),
        InvalidConfig(
            {"dim": 8, "stride": 2},
            match="Received: kernel_size=3, padding=1, stride=2",
            reason="upstream's unfold gets padding=2 and stride 1: the window count does not "
            "match ceil(H/2) * ceil(W/2), the reshape fails",
        ),
        InvalidConfig(
            {"dim": 8, "num_heads": 3},
            match="Received: dim=8, num_heads=3",
            reason="num_heads does not divide dim (upstream fails at the unfold reshape)",
        ),
        InvalidConfig(
            {"dim": 8, "attn_drop": 1.5}, match="attn_drop", reason="rate outside [0, 1]"
        ),
        InvalidConfig(
            {"dim": 8},
            match="channels-last input (batch, height, width, 8)",
            input_shapes=((2, 5, 4, 6),),
            reason="6 channels on the last axis for dim=8",
        ),
    ),
    quirks=(
        Quirk(
            "swapped Unfold arguments (only 3/1/1 runs)",
            "nn.Unfold(kernel_size, padding, stride) passes padding as dilation and stride as "
            "padding; every other window fails in upstream's forward",
            _check_outlook_swapped_unfold_arguments,
        ),
        Quirk(
            "proj_drop reuses attn_drop",
            "upstream builds proj_drop = nn.Dropout(attn_drop)",
            _check_outlook_proj_drop_reuses_attn_drop,
        ),
    ),
    paper="Yuan et al., 2021, https://arxiv.org/abs/2106.13112",
    deviations_from_upstream=(
        "any window but kernel_size=3, padding=1, stride=1 (which fail in upstream's forward) "
        "raises ValueError in __init__"
    ),
)


# ----------------------------------------------------------------------------------------------

FAMILY = (ACMIX, MOBILEVIT_ATTENTION, OUTLOOK_ATTENTION)
