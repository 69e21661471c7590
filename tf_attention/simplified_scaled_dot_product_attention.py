"""SimplifiedScaledDotProductAttention: multi-head attention without q/k/v projections (Keras 3
port, tokens)."""

from __future__ import annotations

import math

import keras
from keras import layers, ops

from tf_attention._checks import check_attention_shapes, check_positive_int, check_probability
from tf_attention.scaled_dot_product_attention import attend


@keras.saving.register_keras_serializable(package="tf_attention")
class SimplifiedScaledDotProductAttention(layers.Layer):
    """Multi-head scaled dot-product attention on the raw inputs, followed by `fc_o`.

    The inputs are split into `h` heads of `d_model // h` features (no projections); scores are
    `q k^T / sqrt(d_model // h)`, multiplied by `attention_weights`, masked (True = -inf) and
    softmax-normalised over the keys.

    Args:
        d_model: Number of input and output features per token; must be divisible by `h`.
        h: Number of heads (each head gets `d_model // h` features).
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
          `reference_torch.SimplifiedScaledDotProductAttention`.
    """

    def __init__(self, d_model: int, h: int, dropout: float = 0.1, **kwargs):
        check_positive_int("d_model", d_model)
        check_positive_int("h", h)
        if d_model % h != 0:
            raise ValueError(
                "Expected `d_model` to be divisible by `h` (each head takes d_model // h "
                f"features). Received: d_model={d_model!r}, h={h!r}"
            )
        check_probability("dropout", dropout)
        super().__init__(**kwargs)
        self.d_model, self.h = d_model, h
        self.d_k = self.d_v = d_model // h
        # Mirrors torch `fc_o = Linear(h * d_v, d_model)` and `dropout = nn.Dropout(p)`.
        # Sub-layers get the parent's dtype policy explicitly: Keras 3 does not propagate it.
        policy = self.dtype_policy
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
        batch, nq = ops.shape(queries)[0], ops.shape(queries)[1]
        nk = ops.shape(keys)[1]
        # Heads split the features head-major: head j = features [j*d, (j+1)*d).
        q = ops.reshape(queries, (batch, nq, self.h, self.d_k))
        k = ops.reshape(keys, (batch, nk, self.h, self.d_k))
        v = ops.reshape(values, (batch, nk, self.h, self.d_v))
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
        return self.fc_o(ops.reshape(out, (batch, nq, self.h * self.d_v)))

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
            "h": self.h,
            "dropout": self.dropout.rate,
        }
