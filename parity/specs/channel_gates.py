"""Channel gates: blocks that re-weight the channels of an NCHW map.

One `ModuleSpec` per block pair, alphabetical; `FAMILY` lists them for the registry."""

from __future__ import annotations

import warnings

import numpy as np
import torch
from hypothesis import strategies as st

import reference_torch
import tf_attention
from parity.spec import Case, InvalidConfig, ModuleSpec, Quirk, expect
from parity.strategies import batches, image_case, image_shapes, odd_kernels, sizes

# ----------------------------------------------------------------------------------------------
# Upstream quirks the references keep, each with the check that proves it.


def _check_sge_nan_at_one_position() -> None:
    module = reference_torch.SpatialGroupEnhance(groups=2).eval()
    layer = tf_attention.SpatialGroupEnhance(groups=2)
    x = np.random.default_rng(0).standard_normal((2, 4, 1, 1)).astype("float32")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # torch: "degrees of freedom <= 0"
        with torch.no_grad():
            expected = module(torch.from_numpy(x)).numpy()
    actual = np.asarray(layer(np.moveaxis(x, 1, -1)))
    expect(np.isnan(expected).all() and np.isnan(actual).all(), "expected NaN everywhere")


def _check_simam_ignores_channels() -> None:
    x = np.random.default_rng(0).standard_normal((2, 6, 5, 3))
    with torch.no_grad():
        with_channels = reference_torch.SimAM(channels=64)(torch.from_numpy(x)).numpy()
        without = reference_torch.SimAM()(torch.from_numpy(x)).numpy()
    expect(np.array_equal(with_channels, without), "channels=64 changes the torch output")
    expect(not reference_torch.SimAM(channels=64).state_dict(), "SimAM has weights")
    nhwc = np.moveaxis(x, 1, -1)
    layer = tf_attention.SimAM(channels=64, dtype="float64")
    expect(
        np.array_equal(
            np.asarray(layer(nhwc)), np.asarray(tf_attention.SimAM(dtype="float64")(nhwc))
        ),
        "channels=64 changes the Keras output",
    )


def _check_simam_unbiased_variance() -> None:
    e_lambda = 1e-3
    x = np.random.default_rng(1).standard_normal((2, 3, 4, 5))

    def simam(divisor: int) -> np.ndarray:
        d = (x - x.mean(axis=(2, 3), keepdims=True)) ** 2
        y = d / (4 * (d.sum(axis=(2, 3), keepdims=True) / divisor + e_lambda)) + 0.5
        return x / (1 + np.exp(-y))

    with torch.no_grad():
        expected = reference_torch.SimAM(e_lambda=e_lambda)(torch.from_numpy(x)).numpy()
    layer = tf_attention.SimAM(e_lambda=e_lambda, dtype="float64")
    actual = np.moveaxis(np.asarray(layer(np.moveaxis(x, 1, -1))), -1, 1)
    for side, output in (("torch", expected), ("Keras", actual)):
        expect(np.allclose(output, simam(4 * 5 - 1), rtol=1e-13, atol=0), f"{side}: not H*W - 1")
        expect(np.abs(output - simam(4 * 5)).max() > 1e-4, f"{side}: H*W and H*W - 1 agree")
    # One position: zero degrees of freedom, 0 / 0 everywhere (torch gives no warning here).
    single = np.random.default_rng(2).standard_normal((2, 4, 1, 1)).astype("float32")
    with torch.no_grad():
        expected = reference_torch.SimAM(channels=4)(torch.from_numpy(single)).numpy()
    actual = np.asarray(tf_attention.SimAM(channels=4)(np.moveaxis(single, 1, -1)))
    expect(np.isnan(expected).all() and np.isnan(actual).all(), "expected NaN everywhere at 1x1")


def _check_shuffle_ignores_reduction() -> None:
    def shapes(reduction):
        module = reference_torch.ShuffleAttention(channel=32, reduction=reduction, G=4)
        return {key: tuple(value.shape) for key, value in module.state_dict().items()}

    expect(shapes(2) == shapes(16), "reduction changes the state_dict")


def _check_psa_convs_are_ungrouped() -> None:
    module = reference_torch.PSA(channel=16, reduction=2, S=4)
    expect([conv.groups for conv in module.convs] == [1, 1, 1, 1], "grouped convs")


def _check_sk_fc_has_no_norm() -> None:
    module = reference_torch.SKAttention(channel=64, reduction=8)
    expect(isinstance(module.fc, torch.nn.Linear), "fc is not a bare Linear")
    # The branches' convs carry BN + ReLU; the squeeze between `fc` and `fcs` carries none.
    norms = [m for m in module.children() if isinstance(m, torch.nn.BatchNorm1d | torch.nn.ReLU)]
    expect(not norms, f"found {norms}")


def _check_se_init_weights_not_called() -> None:
    with torch.no_grad():
        module = reference_torch.SEAttention(channel=512, reduction=8)
        expect(float(module.fc[0].weight.std()) > 0.01, "torch's default init is kept")
        module.init_weights()
        expect(0.0008 < float(module.fc[0].weight.std()) < 0.0012, "init_weights is N(0, 0.001)")


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
    upstream_case=Case({"kernel_size": 3}, ((50, 512, 7, 7),), label="upstream README"),
    asymmetric_case=Case({"kernel_size": 5}, ((2, 48, 7, 5),), label="asymmetric"),
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
    upstream_case=Case(
        {"channel": 512, "reduction": 8}, ((50, 512, 7, 7),), label="upstream README"
    ),
    asymmetric_case=Case(
        {"channel": 36, "reduction": 3, "S": 3}, ((2, 36, 9, 5),), label="asymmetric"
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
    quirks=(
        Quirk(
            "ungrouped multi-scale convs",
            "upstream builds the S convs with groups=1, where the paper groups them",
            _check_psa_convs_are_ungrouped,
        ),
    ),
    paper="Zhang et al., 2021, https://arxiv.org/abs/2105.14447",
    deviations_from_upstream=(
        "convs and se_blocks registered as nn.ModuleList (upstream's plain lists leave state_dict "
        "empty; #14, PR #84); no in-place write into the input (#16); math unchanged"
    ),
)


# ----------------------------------------------------------------------------------------------
# ParNet attention, "Non-deep Networks" (Goyal et al., 2021), https://arxiv.org/abs/2110.07641


@st.composite
def parnet_attention_cases(draw: st.DrawFn) -> Case:
    """ParNetAttention: input C = channel; H and W independent, down to 1x1 (inference mode: the
    BN error on one value per channel is a torch training-mode constraint only)."""
    channel = draw(sizes(max_size=32), label="channel")
    shape = draw(image_shapes(channel), label="shape")
    return image_case({"channel": channel}, shape)


PARNET_ATTENTION = ModuleSpec(
    name="ParNetAttention",
    torch_class=reference_torch.ParNetAttention,
    keras_class=tf_attention.ParNetAttention,
    layout="image",
    cases=parnet_attention_cases,
    upstream_case=Case({"channel": 512}, ((50, 512, 7, 7),), label="upstream README"),
    asymmetric_case=Case({"channel": 12}, ((2, 12, 7, 5),), label="asymmetric"),
    smoke_cases=(Case({"channel": 8}, ((3, 8, 1, 1),), label="1x1 image"),),
    invalid_configs=(
        InvalidConfig({"channel": 0}, match="Received: channel=0", reason="no channels"),
        InvalidConfig(
            {"channel": 8},
            match="8 channels",
            input_shape=(2, 6, 5, 3),
            reason="input channel count differs from `channel`",
        ),
    ),
    paper="Goyal et al., 2021, https://arxiv.org/abs/2110.07641",
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
    upstream_case=Case(
        {"channel": 512, "reduction": 8}, ((50, 512, 7, 7),), label="upstream README"
    ),
    asymmetric_case=Case({"channel": 48, "reduction": 8}, ((2, 48, 7, 5),), label="asymmetric"),
    invalid_configs=(
        InvalidConfig(
            {"channel": 8, "reduction": 16}, match="reduction", reason="no bottleneck unit"
        ),
        InvalidConfig({"channel": 8, "reduction": 0}, match="reduction", reason="zero reduction"),
        InvalidConfig({"channel": 0, "reduction": 1}, match="channel", reason="no channels"),
    ),
    quirks=(
        Quirk(
            "`init_weights` defined, never called",
            "upstream's N(0, 0.001) init runs only when a user calls it",
            _check_se_init_weights_not_called,
        ),
    ),
    paper="Hu et al., 2018, https://arxiv.org/abs/1709.01507",
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
    upstream_case=Case(
        {"channel": 512, "reduction": 8}, ((50, 512, 7, 7),), label="upstream README"
    ),
    asymmetric_case=Case(
        {"channel": 24, "kernels": [1, 3, 5], "reduction": 4, "group": 3, "L": 4},
        ((2, 24, 9, 5),),
        label="asymmetric",
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
    quirks=(
        Quirk(
            "no BN/ReLU after `fc`", "upstream's squeeze is a bare Linear", _check_sk_fc_has_no_norm
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
    upstream_case=Case({"channel": 512, "G": 8}, ((50, 512, 7, 7),), label="upstream README"),
    asymmetric_case=Case(
        {"channel": 36, "reduction": 4, "G": 3}, ((2, 36, 9, 5),), label="asymmetric"
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
    quirks=(
        Quirk(
            "`reduction` unused",
            "upstream accepts it and builds nothing from it",
            _check_shuffle_ignores_reduction,
        ),
    ),
    paper="Zhang and Yang, 2021, https://arxiv.org/abs/2102.00240",
    deviations_from_upstream="none",
)


# ----------------------------------------------------------------------------------------------
# SimAM, a parameter-free attention module (Yang et al., 2021),
# https://proceedings.mlr.press/v139/yang21o.html


@st.composite
def simam_cases(draw: st.DrawFn) -> Case:
    """SimAM: `channels` is ignored (None, the input's C, or any other count); e_lambda > 0; H
    and W with H * W >= 2 (one position divides by H*W - 1 = 0: NaN on both sides, a quirk)."""
    channel = draw(sizes(max_size=48), label="channel")
    channels = draw(st.one_of(st.none(), st.just(channel), sizes(max_size=64)), label="channels")
    e_lambda = draw(
        st.one_of(
            st.sampled_from((1e-4, 1e-2, 1.0)),
            st.floats(min_value=1e-6, max_value=2.0, allow_nan=False, allow_infinity=False),
        ),
        label="e_lambda",
    )
    batch = draw(batches(), label="batch")
    height = draw(sizes(), label="height")
    # Without assume(): a single row needs at least two columns.
    width = draw(sizes(min_size=2 if height == 1 else 1), label="width")
    return image_case({"channels": channels, "e_lambda": e_lambda}, (batch, channel, height, width))


SIMAM = ModuleSpec(
    name="SimAM",
    torch_class=reference_torch.SimAM,
    keras_class=tf_attention.SimAM,
    layout="image",
    cases=simam_cases,
    # SimAM is not in the upstream README: this is SimAM.py's __main__.
    upstream_case=Case({"channels": 64}, ((3, 64, 7, 7),), label="upstream __main__"),
    asymmetric_case=Case({"channels": 12, "e_lambda": 1e-3}, ((2, 12, 7, 5),), label="asymmetric"),
    smoke_cases=(
        Case({"channels": 64}, ((2, 6, 5, 3),), label="channels=64 on a 6-channel input"),
        Case({}, ((2, 5, 1, 6),), label="one row: H*W - 1 = 5"),
        Case({"e_lambda": 0.0}, ((2, 3, 4, 5),), label="e_lambda=0"),
    ),
    invalid_configs=(
        InvalidConfig(
            {"e_lambda": -0.1},
            match="Received: e_lambda=-0.1",
            reason="a negative e_lambda can cancel the variance and divide by zero",
        ),
        InvalidConfig(
            {"channels": 0},
            match="Received: channels=0",
            reason="channels, when given, must be a positive integer",
        ),
    ),
    quirks=(
        Quirk(
            "`channels` unused",
            "upstream accepts it and builds nothing from it: any channel count works",
            _check_simam_ignores_channels,
        ),
        Quirk(
            "unbiased variance: NaN on both sides at H*W = 1",
            "upstream divides by H*W - 1; one position leaves zero degrees of freedom",
            _check_simam_unbiased_variance,
        ),
    ),
    paper="Yang et al., 2021, https://proceedings.mlr.press/v139/yang21o.html",
    deviations_from_upstream=(
        "`channels` must be None or a positive integer and `e_lambda` a number >= 0 (upstream "
        "accepts any value); math unchanged"
    ),
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
    upstream_case=Case({"groups": 8}, ((50, 512, 7, 7),), label="upstream README"),
    asymmetric_case=Case({"groups": 3}, ((2, 36, 9, 5),), label="asymmetric"),
    invalid_configs=(
        InvalidConfig({"groups": 0}, match="groups", reason="no group"),
        InvalidConfig(
            {"groups": 5},
            match="groups",
            input_shape=(2, 12, 4, 4),
            reason="channels % groups != 0",
        ),
    ),
    quirks=(
        Quirk(
            "unbiased std: NaN on both sides at H*W = 1",
            "upstream divides by H*W - 1; one position leaves zero degrees of freedom",
            _check_sge_nan_at_one_position,
        ),
    ),
    paper="Li et al., 2019, https://arxiv.org/abs/1905.09646",
    deviations_from_upstream="none",
)


# ----------------------------------------------------------------------------------------------

FAMILY = (
    ECA_ATTENTION,
    PSA,
    PARNET_ATTENTION,
    SE_ATTENTION,
    SK_ATTENTION,
    SHUFFLE_ATTENTION,
    SIMAM,
    SPATIAL_GROUP_ENHANCE,
)
