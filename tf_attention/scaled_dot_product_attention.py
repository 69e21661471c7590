"""ScaledDotProductAttention: multi-head scaled dot-product attention (Keras 3 port, tokens)."""

from __future__ import annotations

import math

import keras
from keras import layers, ops

from tf_attention._checks import check_attention_shapes, check_positive_int, check_probability


def softmax_last_axis(scores):
    """Softmax over the last axis, as torch computes it: `exp(x - max) / sum`.

    One fused kernel (`ops.softmax`) unless the axis is statically of size 1 (one key, a valid
    input), where `ops.softmax` warns: there it is written out. A row of -inf only (fully
    masked) gives NaN either way, as in torch.
    """
    if scores.shape[-1] != 1:  # a known size other than 1, or unknown (None)
        return ops.softmax(scores, axis=-1)
    exponentials = ops.exp(scores - ops.max(scores, axis=-1, keepdims=True))
    return exponentials / ops.sum(exponentials, axis=-1, keepdims=True)


def attend(q, k, v, scale, attention_mask, attention_weights, dropout, training):
    """Scaled dot-product attention on split heads, in torch's order of operations.

    Args:
        q: `(batch, nq, heads, d_k)`; k: `(batch, nk, heads, d_k)`; v: `(batch, nk, heads, d_v)`.
        scale: The divisor of the scores (`sqrt(d_k)`), a Python float.
        attention_mask: None, or boolean broadcastable to `(batch, heads, nq, nk)`; True entries
            become -inf before the softmax.
        attention_weights: None, or a float tensor broadcastable to `(batch, heads, nq, nk)` that
            multiplies the scaled scores before the mask.
        dropout: A `Dropout` layer applied to the attention probabilities.
        training: Whether dropout is active.

    Returns:
        `(batch, nq, heads, d_v)`.
    """
    # Heads move next to the batch inside the einsum: no explicit transposes.
    scores = ops.einsum("bqhd,bkhd->bhqk", q, k) / scale  # (batch, heads, nq, nk)
    if attention_weights is not None:
        scores = scores * ops.cast(attention_weights, scores.dtype)
    if attention_mask is not None:
        negative_infinity = ops.cast(-math.inf, scores.dtype)
        scores = ops.where(ops.cast(attention_mask, "bool"), negative_infinity, scores)
    probabilities = dropout(softmax_last_axis(scores), training=training)
    return ops.einsum("bhqk,bkhd->bqhd", probabilities, v)  # (batch, nq, heads, d_v)


@keras.saving.register_keras_serializable(package="tf_attention")
class ScaledDotProductAttention(layers.Layer):
    """Multi-head attention with separate query/key (`d_k`) and value (`d_v`) head sizes.

    Scores are `q k^T / sqrt(d_k)`, multiplied by `attention_weights` when given, with True
    entries of `attention_mask` set to -inf, then softmax-normalised over the keys. A fully masked
    row gives NaN, as in torch.

    Args:
        d_model: Number of input and output features per token.
        d_k: Query and key features per head.
        d_v: Value features per head.
        h: Number of heads.
        dropout: Dropout rate on the attention probabilities (training only). Defaults to `0.1`.
        **kwargs: Base layer keyword arguments, such as `name` and `dtype`.

    Call arguments:
        queries: `(batch, nq, d_model)`.
        keys: `(batch, nk, d_model)`.
        values: `(batch, nk, d_model)`.
        attention_mask: Optional boolean tensor broadcastable to `(batch, h, nq, nk)`;
            True = masked.
        attention_weights: Optional float tensor broadcastable to `(batch, h, nq, nk)`.
        training: Whether dropout is active. Defaults to `False`.

    Output shape:
        `(batch, nq, d_model)`.

    Reference:
        - [Vaswani et al., 2017](https://arxiv.org/abs/1706.03762); torch:
          `reference_torch.ScaledDotProductAttention`.
    """

    def __init__(self, d_model: int, d_k: int, d_v: int, h: int, dropout: float = 0.1, **kwargs):
        for name, value in (("d_model", d_model), ("d_k", d_k), ("d_v", d_v), ("h", h)):
            check_positive_int(name, value)
        check_probability("dropout", dropout)
        super().__init__(**kwargs)
        self.d_model, self.d_k, self.d_v, self.h = d_model, d_k, d_v, h
        # Mirrors torch fc_q, fc_k, fc_v, fc_o (Linear with bias) and `dropout = nn.Dropout(p)`.
        # Sub-layers get the parent's dtype policy explicitly: Keras 3 does not propagate it.
        policy = self.dtype_policy
        self.fc_q = layers.Dense(h * d_k, name="fc_q", dtype=policy)
        self.fc_k = layers.Dense(h * d_k, name="fc_k", dtype=policy)
        self.fc_v = layers.Dense(h * d_v, name="fc_v", dtype=policy)
        self.fc_o = layers.Dense(d_model, name="fc_o", dtype=policy)
        self.dropout = layers.Dropout(dropout, name="dropout", dtype=policy)

    def build(
        self,
        queries_shape,
        keys_shape=None,
        values_shape=None,
        attention_mask_shape=None,
        attention_weights_shape=None,
    ):
        check_attention_shapes(queries_shape, keys_shape, values_shape, self.d_model)
        for projection in (self.fc_q, self.fc_k, self.fc_v):
            projection.build((None, None, self.d_model))
        self.fc_o.build((None, None, self.h * self.d_v))

    def call(
        self,
        queries,
        keys,
        values,
        attention_mask=None,
        attention_weights=None,
        training=False,
    ):
        out, _ = self.project_and_attend(
            queries, keys, values, attention_mask, attention_weights, training
        )
        return out

    def project_and_attend(
        self, queries, keys, values, attention_mask=None, attention_weights=None, training=False
    ):
        """`fc_o(attention(fc_q(queries), fc_k(keys), fc_v(values)))` `(batch, nq, d_model)`, and
        the projected values `(batch, nk, h * d_v)` (subclasses such as MUSE reuse them)."""
        batch, nq = ops.shape(queries)[0], ops.shape(queries)[1]
        nk = ops.shape(keys)[1]
        values_projected = self.fc_v(values)  # (batch, nk, h * d_v), channel head * d_v + j
        # Heads split the projected features head-major: head j = features [j*d, (j+1)*d).
        q = ops.reshape(self.fc_q(queries), (batch, nq, self.h, self.d_k))
        k = ops.reshape(self.fc_k(keys), (batch, nk, self.h, self.d_k))
        v = ops.reshape(values_projected, (batch, nk, self.h, self.d_v))
        out = attend(
            q,
            k,
            v,
            math.sqrt(self.d_k),
            attention_mask,
            attention_weights,
            self.dropout,
            training,
        )  # (batch, nq, heads, d_v)
        return self.fc_o(ops.reshape(out, (batch, nq, self.h * self.d_v))), values_projected

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
        }
