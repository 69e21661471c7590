"""Planted porting bugs: for each block of the windows/patches/FFT/axial family, a Keras port with
one realistic mistake (a mis-ordered unfold, a swapped FFT axis, a missed permute...) fails the
comparison the registry runs (the spec's tolerance for the case), and the report points where
the bug sits: the innermost aligned sub-layer that is wrong on torch's input, the first
sub-layer after a bug in its parent's glue code ("the code just before it ... differs"), or the
root's own code after the last aligned sub-layer.

Each buggy port is the real port with one method or class replaced by a subclass holding the
bug: sub-layer names, and so the weight transfer, stay the same."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
from keras import layers, ops

import parity
from parity.runner import case_inputs
from parity.spec import Case, ExtraInput
from tf_attention.acmix import ACmix
from tf_attention.axial_attention import AxialAttention, PermuteToFrom, SelfAttention
from tf_attention.axial_image_transformer import (
    AxialImageTransformer,
    ChanLayerNorm,
    ReversibleBlock,
)
from tf_attention.gfnet_block import GFNetBlock
from tf_attention.global_filter import GlobalFilter, token_grid
from tf_attention.mobilevit_attention import MobileViTAttention
from tf_attention.outlook_attention import OutlookAttention, fold_3x3, unfold_3x3
from tf_attention.scaled_dot_product_attention import softmax_last_axis
from tf_attention.weighted_permute_mlp import WeightedPermuteMLP

GLUE = "it is correct when fed torch's input, so the code just before it (in its parent's call) differs"
NONE_ALIGNED = "no sub-layer is aligned by name, so none could be compared"


def _run(name: str, keras_layer, case: Case, dtype: str = "float64"):
    """The comparison `parity report` runs for `case` of block `name` (its spec's layout and
    tolerance), with `keras_layer` in place of the registered port."""
    spec = parity.SPECS[name]
    arrays, extras = case_inputs(case, seed=0, dtype=dtype)
    tolerance, _reason = spec.tolerance_for(case, dtype)
    options = {} if tolerance is None else {"rtol": tolerance.rtol, "atol": tolerance.atol}
    return parity.compare(
        spec.torch_class(**case.config),
        keras_layer,
        *arrays,
        layout=spec.layout_for(case),
        output_layout=spec.output_layout_for(case),
        call_kwargs=extras,
        **options,
    )


def _caught(name: str, keras_layer, case: Case, dtype: str = "float64"):
    result = _run(name, keras_layer, case, dtype)
    assert result.verdict == "mismatch", result.message
    return result


def _rows(result) -> dict:
    return {row.path: row for row in result.localization}


# ---------------------------------------------------------------------------------------------
# OutlookAttention: unfold order and softmax axis.

OUTLOOK = Case({"dim": 12, "num_heads": 3}, ((2, 5, 4, 12),))


class OutlookChannelMajorUnfold(OutlookAttention):
    """Bug: reads the stacked windows (B, H, W, 9, C) as if torch's channel-major unfold rows
    (c * 9 + offset) were their memory order, i.e. reshapes the 9 * C axis to (C, 9)."""

    def call(self, inputs, training=False):
        shape = ops.shape(inputs)
        batch, height, width = shape[0], shape[1], shape[2]
        tokens = height * width
        values = ops.reshape(unfold_3x3(self.v_pj(inputs)), (batch, tokens, self.dim, 9))
        values = ops.transpose(values, (0, 1, 3, 2))  # "channel-major": wrong here
        values = ops.reshape(values, (batch, tokens, 9, self.num_heads, self.head_dim))
        attention = ops.reshape(self.attn(inputs), (batch, tokens, self.num_heads, 9, 9))
        attention = ops.transpose(attention, (0, 2, 1, 3, 4))
        attention = self.attn_drop(ops.softmax(attention * self.scale, axis=-1))
        windows = ops.einsum("bnlij,bljnd->blind", attention, values)
        windows = ops.reshape(windows, (batch, height, width, 9, self.dim))
        return self.proj_drop(self.proj(fold_3x3(windows)))


class OutlookSoftmaxOverDestinations(OutlookAttention):
    """Bug: softmax over the destination offsets i instead of the source offsets j."""

    def call(self, inputs, training=False):
        shape = ops.shape(inputs)
        batch, height, width = shape[0], shape[1], shape[2]
        tokens = height * width
        values = ops.reshape(
            unfold_3x3(self.v_pj(inputs)), (batch, tokens, 9, self.num_heads, self.head_dim)
        )
        attention = ops.reshape(self.attn(inputs), (batch, tokens, self.num_heads, 9, 9))
        attention = ops.transpose(attention, (0, 2, 1, 3, 4))
        attention = self.attn_drop(ops.softmax(attention * self.scale, axis=-2))
        windows = ops.einsum("bnlij,bljnd->blind", attention, values)
        windows = ops.reshape(windows, (batch, height, width, 9, self.dim))
        return self.proj_drop(self.proj(fold_3x3(windows)))


@pytest.mark.parametrize(
    ("buggy", "expected"),
    [
        # The values feed the einsum after attn_drop: proj is the first aligned layer after it.
        (OutlookChannelMajorUnfold, f"proj (Linear -> Dense); {GLUE}"),
        (OutlookSoftmaxOverDestinations, f"attn_drop (Dropout -> Dropout); {GLUE}"),
    ],
    ids=["channel-major unfold", "softmax axis"],
)
def test_outlook_attention(buggy, expected):
    result = _caught("OutlookAttention", buggy(**OUTLOOK.config, dtype="float64"), OUTLOOK)
    assert result.first_divergence == expected, result.message
    assert _rows(result)["v_pj"].passed and _rows(result)["attn"].passed


# ---------------------------------------------------------------------------------------------
# WeightedPermuteMLP: a missed permute and a branch-major split.

VIP = Case({"dim": 12, "seg_dim": 3}, ((2, 3, 3, 12),))


def _vip_embeddings(layer, inputs, h_branch):
    g, dim = layer.seg_dim, layer.dim
    S = dim // g
    segments = ops.reshape(inputs, (-1, g, g, g, S))
    w_embed = ops.reshape(ops.transpose(segments, (0, 3, 1, 2, 4)), (-1, g, g, g * S))
    w_embed = ops.reshape(layer.mlp_w(w_embed), (-1, g, g, g, S))
    w_embed = ops.reshape(ops.transpose(w_embed, (0, 2, 3, 1, 4)), (-1, g, g, dim))
    return layer.mlp_c(inputs), h_branch(segments), w_embed


class ViPMissedPermute(WeightedPermuteMLP):
    """Bug: the h-branch reshapes (B, H, W, C) straight to (B, seg, W, H * S), without torch's
    permute (0, 3, 2, 1, 4) (and its inverse after mlp_h)."""

    def call(self, inputs, training=False):
        g, dim = self.seg_dim, self.dim

        def h_branch(_segments):
            h_embed = self.mlp_h(ops.reshape(inputs, (-1, g, g, g * (dim // g))))
            return ops.reshape(h_embed, (-1, g, g, dim))

        c_embed, h_embed, w_embed = _vip_embeddings(self, inputs, h_branch)
        weight = self.reweighting(ops.mean(c_embed + h_embed + w_embed, axis=(1, 2)))
        weight = ops.softmax(ops.reshape(weight, (-1, dim, 3)))[:, None, None]
        out = c_embed * weight[..., 0] + w_embed * weight[..., 1] + h_embed * weight[..., 2]
        return self.proj_drop(self.proj(out))


class ViPBranchMajorSplit(WeightedPermuteMLP):
    """Bug: splits the reweighting output (B, 3C) as (B, 3, C), not the interleaved (C, 3)."""

    def call(self, inputs, training=False):
        g, dim = self.seg_dim, self.dim
        S = dim // g

        def h_branch(segments):
            h_embed = ops.reshape(ops.transpose(segments, (0, 3, 2, 1, 4)), (-1, g, g, g * S))
            h_embed = ops.reshape(self.mlp_h(h_embed), (-1, g, g, g, S))
            return ops.reshape(ops.transpose(h_embed, (0, 3, 2, 1, 4)), (-1, g, g, dim))

        c_embed, h_embed, w_embed = _vip_embeddings(self, inputs, h_branch)
        weight = self.reweighting(ops.mean(c_embed + h_embed + w_embed, axis=(1, 2)))
        weight = ops.softmax(ops.reshape(weight, (-1, 3, dim)), axis=1)[:, :, None, None, :]
        out = c_embed * weight[:, 0] + w_embed * weight[:, 1] + h_embed * weight[:, 2]
        return self.proj_drop(self.proj(out))


@pytest.mark.parametrize(
    ("buggy", "expected"),
    [
        (ViPMissedPermute, f"mlp_h (Linear -> Dense); {GLUE}"),
        (ViPBranchMajorSplit, f"proj (Linear -> Dense); {GLUE}"),
    ],
    ids=["missed permute", "branch-major split"],
)
def test_weighted_permute_mlp(buggy, expected):
    result = _caught("WeightedPermuteMLP", buggy(**VIP.config, dtype="float64"), VIP)
    assert result.first_divergence == expected, result.message


# ---------------------------------------------------------------------------------------------
# GlobalFilter: a swapped FFT axis and a conjugated filter. It has no sub-layers: the harness
# fails it under the spec's float64 tolerance and says nothing is aligned below the root.

# The swapped axes only fit the filter on a square grid (the usual case, where the bug hides).
GLOBAL_FILTER_SQUARE = Case({"dim": 6, "h": 5, "w": 3}, ((2, 25, 6),))
GLOBAL_FILTER = Case(
    {"dim": 6, "h": 4, "w": 3},
    ((2, 20, 6),),
    extra_inputs={"spatial_size": ExtraInput("value", value=(4, 5))},
)


def _filter_weight(layer, conjugate=False):
    weight = ops.transpose(layer.complex_weight, (2, 0, 1, 3))  # (C, h, w, 2)
    return tf.complex(weight[..., 0], -weight[..., 1] if conjugate else weight[..., 1])


class GlobalFilterSwappedFFTAxes(GlobalFilter):
    """Bug: moves the grid to (B, C, b, a) before rfft2d (and back the same way): the FFT's
    last axis, whose half-spectrum the filter's w indexes, is the grid height."""

    def call(self, inputs, spatial_size=None, training=False):
        a, b = token_grid(ops.shape(inputs)[1], spatial_size, self.h, self.w)
        grid = ops.cast(ops.reshape(inputs, (-1, a, b, self.dim)), "float32")
        spectrum = tf.signal.rfft2d(ops.transpose(grid, (0, 3, 2, 1)))  # (B, C, b, a//2+1)
        weight = _filter_weight(self)
        spectrum = tf.cast(spectrum, weight.dtype) * weight
        grid = tf.signal.irfft2d(spectrum, fft_length=tf.stack([b, a]))
        return ops.reshape(ops.transpose(grid, (0, 3, 2, 1)), (-1, a * b, self.dim))


class GlobalFilterConjugate(GlobalFilter):
    """Bug: combines the filter's last axis as real - i * imag (a sign slip)."""

    def call(self, inputs, spatial_size=None, training=False):
        a, b = token_grid(ops.shape(inputs)[1], spatial_size, self.h, self.w)
        grid = ops.cast(ops.reshape(inputs, (-1, a, b, self.dim)), "float32")
        spectrum = tf.signal.rfft2d(ops.transpose(grid, (0, 3, 1, 2)))
        weight = _filter_weight(self, conjugate=True)
        spectrum = tf.cast(spectrum, weight.dtype) * weight
        grid = tf.signal.irfft2d(spectrum, fft_length=tf.stack([a, b]))
        return ops.reshape(ops.transpose(grid, (0, 2, 3, 1)), (-1, a * b, self.dim))


@pytest.mark.parametrize(
    ("buggy", "case"),
    [(GlobalFilterSwappedFFTAxes, GLOBAL_FILTER_SQUARE), (GlobalFilterConjugate, GLOBAL_FILTER)],
    ids=["swapped FFT axes", "conjugated filter"],
)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_global_filter(buggy, case, dtype):
    result = _caught("GlobalFilter", buggy(**case.config, dtype=dtype), case, dtype)
    assert result.max_rel > 1e-2
    assert result.first_divergence is None and result.localization == []
    assert NONE_ALIGNED in result.notes, result.notes  # the root itself is to blame


# ---------------------------------------------------------------------------------------------
# GFNetBlock: the swapped FFT axis inside its filter, a second residual, Keras' LN epsilon.

GFNET_BLOCK = Case({"dim": 6, "h": 5, "w": 3, "mlp_ratio": 2.0}, ((2, 25, 6),))


class GFNetBlockSwappedFilter(GFNetBlock):
    """Bug inside the nested filter: GlobalFilter's swapped FFT axes."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.filter = GlobalFilterSwappedFFTAxes(
            self.dim, h=self.h, w=self.w, name="filter", dtype=self.dtype_policy
        )


class GFNetBlockTwoResiduals(GFNetBlock):
    """Bug: ViT-style residuals around the filter and around the MLP, where upstream has one
    residual around both."""

    def call(self, inputs, training=False):
        x = inputs + self.filter(self.norm1(inputs))
        return x + self.drop_path(self.mlp(self.norm2(x)))


class GFNetBlockKerasEpsilon(GFNetBlock):
    """Bug: Keras' default LayerNormalization epsilon (1e-3) instead of torch's 1e-5."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.norm1 = layers.LayerNormalization(name="norm1", dtype=self.dtype_policy)


@pytest.mark.parametrize(
    ("buggy", "expected"),
    [
        (GFNetBlockSwappedFilter, "filter (GlobalFilter -> GlobalFilterSwappedFFTAxes)"),
        (GFNetBlockTwoResiduals, f"norm2 (LayerNorm -> LayerNormalization); {GLUE}"),
        (GFNetBlockKerasEpsilon, "norm1 (LayerNorm -> LayerNormalization)"),
    ],
    ids=["swapped FFT axes in the filter", "two residuals", "Keras LN epsilon"],
)
def test_gfnet_block(buggy, expected):
    result = _caught("GFNetBlock", buggy(**GFNET_BLOCK.config, dtype="float64"), GFNET_BLOCK)
    assert result.first_divergence == expected, result.message
    if buggy is GFNetBlockKerasEpsilon:  # named before any number is compared
        assert any("norm1" in line and "epsilon" in line for line in result.audit), result.audit


# ---------------------------------------------------------------------------------------------
# AxialAttention: a missed permute and a softmax over the queries.

AXIAL = Case({"dim": 6, "heads": 2, "dim_index": 1}, ((2, 6, 5, 7),))


class PermuteToFromWithoutPermute(PermuteToFrom):
    """Bug: the axial axis is never moved next to the channels, so the (rows, T, C) view runs
    along the last spatial axis (W) whatever `axis` says: the H branch attends along W."""

    def call(self, inputs):
        shape = ops.shape(inputs)
        return ops.reshape(self.fn(ops.reshape(inputs, (-1, shape[-2], shape[-1]))), shape)


class SelfAttentionSoftmaxOverQueries(SelfAttention):
    """Bug: the softmax normalises over the queries instead of the keys."""

    def call(self, inputs):
        rows, tokens = ops.shape(inputs)[0], ops.shape(inputs)[1]
        h, e = self.heads, self.dim_heads
        q = ops.reshape(self.to_q(inputs), (rows, tokens, h, e))
        kv = ops.reshape(self.to_kv(inputs), (rows, tokens, 2, h, e))
        dots = ops.einsum("bihe,bjhe->bhji", q, kv[:, :, 0]) * (e**-0.5)  # keys before queries
        weights = ops.swapaxes(softmax_last_axis(dots), -1, -2)
        out = ops.einsum("bhij,bjhe->bihe", weights, kv[:, :, 1])
        return self.to_out(ops.reshape(out, (rows, tokens, self.dim_hidden)))


def test_axial_attention_missed_permute():
    layer = AxialAttention(**AXIAL.config, dtype="float64")
    layer.axial_attentions[0].__class__ = PermuteToFromWithoutPermute
    result = _caught("AxialAttention", layer, AXIAL)
    # Wrong on torch's input: the H branch itself. Its children see (B*H, W, C) rows where torch
    # has (B*W, H, C), which no layout conversion maps, so they get no local verdict.
    assert result.first_divergence == (
        "axial_attentions.0 (PermuteToFrom -> PermuteToFromWithoutPermute)"
    ), result.message
    rows = _rows(result)
    assert rows["axial_attentions.1"].passed  # the W branch is untouched
    assert "does not match" in rows["axial_attentions.0.fn.to_q"].note


@pytest.mark.parametrize(
    "shape",
    [
        (2, 8, 5, 7),
        # H = dim: the rows along H are (B*W, 6, 6), where moving the channel axis and keeping
        # it give the same shape; the harness tries both, so the projections are not blamed.
        (2, 6, 6, 5),
    ],
    ids=["T != dim", "T == dim"],
)
def test_axial_attention_softmax_over_queries(shape):
    case = Case({**AXIAL.config, "dim": shape[1], "sum_axial_out": False}, (shape,))
    layer = AxialAttention(**case.config, dtype="float64")
    for axial_attention in layer.axial_attentions:
        axial_attention.fn.__class__ = SelfAttentionSoftmaxOverQueries
    result = _caught("AxialAttention", layer, case)
    # The innermost wrong sub-layer: its projections are right.
    assert result.first_divergence == (
        "axial_attentions.0.fn (SelfAttention -> SelfAttentionSoftmaxOverQueries)"
    ), result.message
    rows = _rows(result)
    assert rows["axial_attentions.0.fn.to_q"].passed
    assert rows["axial_attentions.0.fn.to_kv"].passed


# ---------------------------------------------------------------------------------------------
# AxialImageTransformer: LayerNorm's eps form in ChanLayerNorm, reversible glue.

AXIAL_IMAGE_TRANSFORMER = Case({"dim": 6, "depth": 1, "heads": 2}, ((2, 6, 5, 7),))


class ChanLayerNormEpsOnVariance(ChanLayerNorm):
    """Bug: the usual LayerNorm form `/ sqrt(var + eps)` where upstream divides by `std + eps`."""

    def call(self, inputs):
        mean = ops.mean(inputs, axis=-1, keepdims=True)
        variance = ops.var(inputs, axis=-1, keepdims=True)
        return (inputs - mean) / ops.sqrt(variance + self.eps) * self.g + self.b


class ReversibleBlockFeedsX1ToG(ReversibleBlock):
    """Bug: `g` gets the block's input half `x1` instead of the updated `y1 = x1 + f(x2)`."""

    def call(self, inputs):
        x1, x2 = ops.split(inputs, 2, axis=-1)
        y1 = x1 + self.f(x2)
        return ops.concatenate([y1, x2 + self.g(x1)], axis=-1)


def test_axial_image_transformer_chan_layer_norm_eps():
    layer = AxialImageTransformer(**AXIAL_IMAGE_TRANSFORMER.config, dtype="float64")
    layer.layers.blocks[1].f.net[0].__class__ = ChanLayerNormEpsOnVariance
    result = _caught("AxialImageTransformer", layer, AXIAL_IMAGE_TRANSFORMER)
    assert result.first_divergence == (
        "layers.blocks.1.f.net.0 (ChanLayerNorm -> ChanLayerNormEpsOnVariance)"
    ), result.message
    assert _rows(result)["layers.blocks.0"].passed  # the attention block before it


def test_axial_image_transformer_reversible_glue():
    layer = AxialImageTransformer(**AXIAL_IMAGE_TRANSFORMER.config, dtype="float64")
    layer.layers.blocks[0].__class__ = ReversibleBlockFeedsX1ToG
    result = _caught("AxialImageTransformer", layer, AXIAL_IMAGE_TRANSFORMER)
    # `g` is right on torch's input (only its input differs): the block's own glue is wrong.
    assert result.first_divergence == (
        "layers.blocks.0 (ReversibleBlock -> ReversibleBlockFeedsX1ToG)"
    ), result.message
    rows = _rows(result)
    assert rows["layers.blocks.0.f"].passed
    assert rows["layers.blocks.0.g"].local_passed and not rows["layers.blocks.0.g"].passed


# ---------------------------------------------------------------------------------------------
# ACmix: the unfold order, a missed permute before dep_conv, the rates swapped at the end.

ACMIX = Case({"in_planes": 6, "out_planes": 8, "kernel_att": 3, "head": 2}, ((2, 6, 5, 7),))


class ACmixChannelMajorUnfold(ACmix):
    """Bug: the patches read in torch Unfold's channel-major order (C, K*K), where
    `tf.image.extract_patches` returns (K*K, C)."""

    def _unfold(self, images):
        patches = super()._unfold(images)  # (n, h, w, K*K, C)
        shape = ops.shape(patches)
        channel_major = ops.reshape(patches, (shape[0], shape[1], shape[2], shape[4], shape[3]))
        return ops.swapaxes(channel_major, -1, -2)


class ACmixUnpermutedShiftChannels(ACmix):
    """Bug: fc's output (B, head_dim, H*W, kc^2) reshaped straight to dep_conv's channels, i.e.
    torch's reshape without its permute(0, 2, 1, 3)."""

    def _shift_channels(self, f_all, batch, height, width):
        channels = self.head_dim * self.kernel_conv**2
        return ops.reshape(f_all, (batch, height, width, channels))


class ACmixSwappedRates(ACmix):
    """Bug: `rate2 * attention + rate1 * convolution`, after every aligned sub-layer."""

    def call(self, inputs, training=None):
        rate1, rate2 = self.rate1, self.rate2
        self.rate1, self.rate2 = rate2, rate1
        try:
            return super().call(inputs, training=training)
        finally:
            self.rate1, self.rate2 = rate1, rate2


@pytest.mark.parametrize(
    ("buggy", "expected"),
    [
        (ACmixChannelMajorUnfold, f"softmax (Softmax -> Softmax); {GLUE}"),
        (ACmixUnpermutedShiftChannels, f"dep_conv (Conv2d -> Conv2D); {GLUE}"),
    ],
    ids=["channel-major unfold", "missed permute"],
)
def test_acmix(buggy, expected):
    result = _caught("ACmix", buggy(**ACMIX.config, dtype="float64"), ACMIX)
    assert result.first_divergence == expected, result.message
    rows = _rows(result)
    assert all(rows[name].passed for name in ("conv1", "conv2", "conv3", "conv_p", "fc"))


def test_acmix_bug_after_the_last_sub_layer():
    result = _caught("ACmix", ACmixSwappedRates(**ACMIX.config, dtype="float64"), ACMIX)
    assert result.first_divergence is None
    assert all(row.passed for row in result.localization)
    assert any("root's own code after the last of them (`dep_conv`)" in n for n in result.notes)


# ---------------------------------------------------------------------------------------------
# MobileViTAttention: the patch axis first (attention over the pixels of each patch).


class MobileViTPatchAxisFirst(MobileViTAttention):
    """Bug: tokens laid out (B, nh*nw, ph*pw, dim), the patch axis first, so the transformer
    attends over the pixels of each patch instead of over the patches; the un-patchify is its
    consistent inverse."""

    def call(self, inputs, training=None):
        y = self.conv2(self.conv1(inputs))
        batch, height, width = ops.shape(y)[0], ops.shape(y)[1], ops.shape(y)[2]
        ph, pw, dim = self.ph, self.pw, self.dim
        nh, nw = height // ph, width // pw
        y = ops.reshape(y, (batch, nh, ph, nw, pw, dim))
        y = ops.reshape(ops.transpose(y, (0, 1, 3, 2, 4, 5)), (batch, nh * nw, ph * pw, dim))
        y = self.trans(y)
        y = ops.reshape(y, (batch, nh, nw, ph, pw, dim))
        y = ops.reshape(ops.transpose(y, (0, 1, 3, 2, 4, 5)), (batch, height, width, dim))
        return self.conv4(ops.concatenate([inputs, self.conv3(y)], axis=-1))


@pytest.mark.parametrize(
    ("shape", "expected"),
    [
        # 4x4 with patch 2: P = N = 4, the token tensors have torch's shape: the first
        # transformer sub-layer is right on torch's tokens, so the glue before it is blamed.
        ((2, 3, 4, 4), f"trans.layers.0.0.ln (LayerNorm -> LayerNormalization); {GLUE}"),
        # 4x6: P = 4, N = 6: the tokens are (B, 6, 4, dim) vs torch (B, 4, 6, dim), which no
        # layout maps, so the first sub-layer after the bug is named by its shape mismatch.
        ((2, 3, 4, 6), "trans.layers.0.0.ln (LayerNorm -> LayerNormalization)"),
    ],
    ids=["P == N", "P != N"],
)
def test_mobilevit_attention_patch_axis_first(shape, expected):
    case = Case({"in_channel": 3, "dim": 6, "kernel_size": 3, "patch_size": 2}, (shape,))
    result = _caught(
        "MobileViTAttention", MobileViTPatchAxisFirst(**case.config, dtype="float64"), case
    )
    assert result.first_divergence == expected, result.message
    rows = _rows(result)
    assert rows["conv1"].passed and rows["conv2"].passed


# ---------------------------------------------------------------------------------------------
# The control: every case above passes with the unmodified port.

CONTROLS = [
    ("OutlookAttention", OUTLOOK),
    ("WeightedPermuteMLP", VIP),
    ("GlobalFilter", GLOBAL_FILTER_SQUARE),
    ("GlobalFilter", GLOBAL_FILTER),
    ("GFNetBlock", GFNET_BLOCK),
    ("AxialAttention", AXIAL),
    ("AxialImageTransformer", AXIAL_IMAGE_TRANSFORMER),
    ("ACmix", ACMIX),
    (
        "MobileViTAttention",
        Case({"in_channel": 3, "dim": 6, "kernel_size": 3, "patch_size": 2}, ((2, 3, 4, 6),)),
    ),
]


@pytest.mark.parametrize(
    ("name", "case"), CONTROLS, ids=[f"{name}-{case.describe()}" for name, case in CONTROLS]
)
def test_the_port_without_the_bug_passes(name, case):
    layer = parity.SPECS[name].keras_class(**case.config, dtype="float64")
    result = _run(name, layer, case)
    assert result.passed, result.message
    assert np.isfinite(result.max_rel)
