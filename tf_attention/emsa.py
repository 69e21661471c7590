"""EMSA: efficient multi-head self-attention from ResT (Keras 3 port, sequence layout)."""

from __future__ import annotations

import math

import keras
from keras import layers, ops

from tf_attention._checks import (
    check_attention_shapes,
    check_positive_int,
    check_probability,
    check_rank,
    check_sequence_shape,
)
from tf_attention.scaled_dot_product_attention import softmax_last_axis

_INSTANCE_NORM_EPSILON = 1e-5  # torch InstanceNorm2d default


def _reduced_side(side: int, ratio: int) -> int:
    """Output size of the reduction conv (kernel ratio + 1, stride ratio, padding ratio // 2)."""
    return (side + 2 * (ratio // 2) - ratio - 1) // ratio + 1


@keras.saving.register_keras_serializable(package="tf_attention")
class EMSATransform(layers.Layer):
    """EMSA's head-mixing transform: a 1x1 conv over the heads, softmax over keys, instance norm.

    Mirrors torch `EMSA.transform = Sequential(conv, softmax, in)`: `conv` is a `Dense(h)` holding
    the 1x1 conv's kernel `(h_in, h_out)` and bias. The softmax and the instance norm have no
    weights and are computed in `call`.

    Args:
        h: Number of heads.
        **kwargs: Base layer keyword arguments, such as `name` and `dtype`.

    Input shape:
        4D tensor `(batch, h, nq, nk)`: attention logits, heads first as in torch.

    Output shape:
        Same as the input.
    """

    def __init__(self, h: int, **kwargs):
        check_positive_int("h", h)
        super().__init__(**kwargs)
        self.h = h
        self.conv = layers.Dense(h, name="conv", dtype=self.dtype_policy)

    def build(self, input_shape):
        check_rank("EMSATransform", input_shape, 4, "(batch, h, nq, nk)")
        if input_shape[1] is not None and input_shape[1] != self.h:
            raise ValueError(
                f"EMSATransform expects {self.h} heads on axis 1. "
                f"Received: input_shape={tuple(input_shape)}"
            )
        self.conv.build((None, self.h))

    def call(self, inputs):
        # The 1x1 conv over the head axis (axis 1) as an einsum on the Dense's variables: calling
        # the Dense would need the heads on the last axis, i.e. two extra transposes.
        kernel = ops.cast(self.conv.kernel, inputs.dtype)  # (h_in, h_out)
        bias = ops.cast(self.conv.bias, inputs.dtype)  # (h_out,)
        mixed = ops.einsum("bjqk,jo->boqk", inputs, kernel) + bias[:, None, None]
        probs = softmax_last_axis(mixed)  # over keys (axis 3)
        # InstanceNorm2d(h), affine=False: per (sample, head) over (nq, nk) = axes 2, 3, biased
        # variance, statistics of the input also in inference.
        mean = ops.mean(probs, axis=(2, 3), keepdims=True)
        centred = probs - mean
        variance = ops.mean(ops.square(centred), axis=(2, 3), keepdims=True)
        return centred / ops.sqrt(variance + _INSTANCE_NORM_EPSILON)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "h": self.h}


@keras.saving.register_keras_serializable(package="tf_attention")
class EMSA(layers.Layer):
    """Multi-head attention whose keys and values come from a strided, depthwise-reduced grid.

    With `ratio > 1` the queries are read as a row-major `H x W` grid (token `t = h * W + w`),
    reduced by a depthwise conv (kernel `ratio + 1`, stride `ratio`, `ratio // 2` zero padding on
    every side) and a LayerNorm; keys and values are projected from the reduced tokens, and the
    `keys` and `values` arguments are ignored. With `apply_transform` and `h > 1`, a 1x1 conv
    mixes the heads' attention logits, followed by a softmax over keys and an instance norm per
    head (the rows are then no longer distributions, as upstream). `attention_weights` multiply
    and `attention_mask` (True = masked, set to -inf) apply after this normalisation, as upstream.

    Args:
        d_model: Features of the inputs and the output.
        d_k: Features per head of queries and keys.
        d_v: Features per head of values.
        h: Number of heads.
        dropout: Dropout rate on the attention map. Defaults to `0.1`.
        H: Grid height of the queries when `ratio > 1`. Defaults to `7`.
        W: Grid width of the queries when `ratio > 1`. Defaults to `7`.
        ratio: Spatial reduction ratio; `1` disables the reduction. Defaults to `3`.
        apply_transform: Whether to mix heads (only when `h > 1`). Defaults to `True`.
        **kwargs: Base layer keyword arguments, such as `name` and `dtype`.

    Input shape:
        `queries` `(batch, nq, d_model)` (`nq = H * W` when `ratio > 1`); `keys` and `values`
        `(batch, nk, d_model)`; `attention_mask` (bool) and `attention_weights` broadcastable to
        `(batch, h, nq, n')`, `n'` being nk, or the reduced token count when `ratio > 1`.

    Output shape:
        `(batch, nq, d_model)`.

    Reference:
        - [Zhang and Yang, 2021](https://arxiv.org/abs/2105.13677); torch: `reference_torch.EMSA`.
    """

    def __init__(
        self,
        d_model: int,
        d_k: int,
        d_v: int,
        h: int,
        dropout: float = 0.1,
        H: int = 7,
        W: int = 7,
        ratio: int = 3,
        apply_transform: bool = True,
        **kwargs,
    ):
        for name, value in (("d_model", d_model), ("d_k", d_k), ("d_v", d_v), ("h", h)):
            check_positive_int(name, value)
        check_positive_int("ratio", ratio)
        if ratio > 1:
            check_positive_int("H", H)
            check_positive_int("W", W)
            if min(H, W) + 2 * (ratio // 2) < ratio + 1:
                raise ValueError(
                    "Expected `H` and `W` to be at least 2 for an odd `ratio`: the reduction "
                    "conv (kernel ratio + 1, padding ratio // 2 per side) needs "
                    f"H + 2 * (ratio // 2) >= ratio + 1. Received: H={H}, W={W}, ratio={ratio}"
                )
            n_reduced = _reduced_side(H, ratio) * _reduced_side(W, ratio)
            if apply_transform and h > 1 and H * W * n_reduced == 1:
                raise ValueError(
                    "The transform's instance norm needs an attention map of more than one "
                    "element, but H = W = 1 gives one query and one reduced token. Use a larger "
                    "H or W, h=1 or apply_transform=False. "
                    f"Received: H={H}, W={W}, ratio={ratio}, h={h}, "
                    f"apply_transform={apply_transform}"
                )
        check_probability("dropout", dropout)
        super().__init__(**kwargs)
        self.d_model, self.d_k, self.d_v, self.h = d_model, d_k, d_v, h
        self.H, self.W, self.ratio = H, W, ratio
        self.apply_transform = apply_transform  # the argument, for get_config
        self.uses_transform = bool(apply_transform) and h > 1  # torch's `self.apply_transform`
        # Sub-layers mirror the torch attributes (the weight transfer walks these names). Each gets
        # the parent's dtype policy explicitly: Keras 3 does not propagate it.
        policy = self.dtype_policy
        self.fc_q = layers.Dense(h * d_k, name="fc_q", dtype=policy)
        self.fc_k = layers.Dense(h * d_k, name="fc_k", dtype=policy)
        self.fc_v = layers.Dense(h * d_v, name="fc_v", dtype=policy)
        self.fc_o = layers.Dense(d_model, name="fc_o", dtype=policy)
        self.dropout = layers.Dropout(dropout, name="dropout", dtype=policy)
        if ratio > 1:
            # torch pads ratio // 2 on every side (no "same" equivalent for a strided conv): the
            # padding is explicit in `call`, the conv "valid".
            self.sr_conv = layers.DepthwiseConv2D(
                kernel_size=ratio + 1, strides=ratio, padding="valid", name="sr_conv", dtype=policy
            )
            self.sr_ln = layers.LayerNormalization(epsilon=1e-5, name="sr_ln", dtype=policy)
            self.reduced_tokens = n_reduced
        if self.uses_transform:
            self.transform = EMSATransform(h, name="transform", dtype=policy)

    def build(
        self,
        queries_shape,
        keys_shape=None,
        values_shape=None,
        attention_mask_shape=None,
        attention_weights_shape=None,
    ):
        if self.ratio > 1:
            # Keys and values are ignored (replaced by the reduced queries), as upstream.
            check_sequence_shape("queries", queries_shape, self.d_model)
            num_queries = queries_shape[1]
            if num_queries is not None and num_queries != self.H * self.W:
                raise ValueError(
                    f"EMSA with ratio={self.ratio} reads the queries as an H x W grid, so it "
                    f"expects nq == H * W == {self.H * self.W} tokens. "
                    f"Received: queries_shape={tuple(queries_shape)}, H={self.H}, W={self.W}"
                )
            num_keys = self.reduced_tokens
            padded = (self.H + 2 * (self.ratio // 2), self.W + 2 * (self.ratio // 2))
            self.sr_conv.build((None, *padded, self.d_model))
            self.sr_ln.build((None, None, self.d_model))
        else:
            check_attention_shapes(queries_shape, keys_shape, values_shape, self.d_model)
            num_queries = queries_shape[1]
            num_keys = None if keys_shape is None else keys_shape[1]
        if (
            self.uses_transform
            and None not in (num_queries, num_keys)
            and num_queries * num_keys == 1
        ):
            raise ValueError(
                "The transform's instance norm needs an attention map of more than one element "
                "(nq * nk > 1). Use more tokens, h=1 or apply_transform=False. "
                f"Received: queries_shape={tuple(queries_shape)}, keys_shape="
                f"{None if keys_shape is None else tuple(keys_shape)}, h={self.h}, "
                "apply_transform=True"
            )
        self.fc_q.build((None, self.d_model))
        self.fc_k.build((None, self.d_model))
        self.fc_v.build((None, self.d_model))
        self.fc_o.build((None, self.h * self.d_v))
        if self.uses_transform:
            self.transform.build((None, self.h, None, None))

    def call(
        self,
        queries,
        keys,
        values,
        attention_mask=None,
        attention_weights=None,
        training=False,
    ):
        batch, num_queries = ops.shape(queries)[0], ops.shape(queries)[1]
        q = ops.reshape(self.fc_q(queries), (batch, num_queries, self.h, self.d_k))
        if self.ratio > 1:
            # NHWC grid, row-major tokens: a plain reshape (the queries are channels-last).
            grid = ops.reshape(queries, (batch, self.H, self.W, self.d_model))
            pad = self.ratio // 2
            grid = ops.pad(grid, ((0, 0), (pad, pad), (pad, pad), (0, 0)))  # axes 1, 2: H, W
            reduced = self.sr_conv(grid)  # (batch, h', w', d_model)
            reduced = self.sr_ln(ops.reshape(reduced, (batch, self.reduced_tokens, self.d_model)))
            keys = values = reduced  # the arguments are ignored, as upstream
        num_keys = ops.shape(keys)[1]
        k = ops.reshape(self.fc_k(keys), (batch, num_keys, self.h, self.d_k))
        v = ops.reshape(self.fc_v(values), (batch, num_keys, self.h, self.d_v))

        # (batch, h, nq, nk): torch's layout, so masks and weights broadcast unchanged.
        attention = ops.einsum("bqhd,bkhd->bhqk", q, k) / math.sqrt(self.d_k)
        if self.uses_transform:
            attention = self.transform(attention)
        else:
            attention = softmax_last_axis(attention)  # over keys (axis 3)
        if attention_weights is not None:
            attention = attention * ops.cast(attention_weights, attention.dtype)
        if attention_mask is not None:
            negative_infinity = ops.full((), -math.inf, dtype=attention.dtype)
            attention = ops.where(ops.cast(attention_mask, "bool"), negative_infinity, attention)
        attention = self.dropout(attention, training=training)

        out = ops.einsum("bhqk,bkhd->bqhd", attention, v)  # (batch, nq, h, d_v)
        out = ops.reshape(out, (batch, num_queries, self.h * self.d_v))  # head-major features
        return self.fc_o(out)

    def compute_output_shape(
        self,
        queries_shape,
        keys_shape=None,
        values_shape=None,
        attention_mask_shape=None,
        attention_weights_shape=None,
    ):
        return (queries_shape[0], queries_shape[1], self.d_model)

    def get_config(self):
        return {
            **super().get_config(),
            "d_model": self.d_model,
            "d_k": self.d_k,
            "d_v": self.d_v,
            "h": self.h,
            "dropout": self.dropout.rate,
            "H": self.H,
            "W": self.W,
            "ratio": self.ratio,
            "apply_transform": self.apply_transform,
        }
