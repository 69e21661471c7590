"""UFOAttention: multi-head attention with unit-force-operated normalisation (Keras 3 port, tokens)."""

from __future__ import annotations

import keras
from keras import layers, ops

from tf_attention._checks import check_attention_shapes, check_positive_int, check_probability


def x_norm(x, gamma):
    """`x * gamma / ||x||_2` over the last axis, no epsilon (torch `XNorm`): a zero row is NaN.

    The scale `gamma / norm` is formed on the reduced tensor first, so the full-size tensor is
    multiplied once (one rounding more than torch's `x * gamma / norm`, ~1 ulp).
    """
    # torch.norm accumulates float16/bfloat16 in float32 (a float16 sum of squares overflows at
    # 65504) and rounds the norm once: so does this.
    wide = ops.cast(x, "float32") if x.dtype in ("float16", "bfloat16") else x
    norm = ops.cast(ops.sqrt(ops.sum(ops.square(wide), axis=-1, keepdims=True)), x.dtype)
    return x * (gamma / norm)


@keras.saving.register_keras_serializable(package="tf_attention")
class UFOAttention(layers.Layer):
    """Linear attention: `XNorm(Q) @ XNorm(K^T V)` per head, no softmax.

    Per head, `K^T V` `(d_k, d_v)` is computed first, so the cost is linear in the token counts.
    Both the queries (over `d_k`) and each row of `K^T V` (over `d_v`) are L2-normalised without
    an epsilon and scaled by the head's `gamma`, as in torch.

    Args:
        d_model: Number of input and output features per token.
        d_k: Query and key features per head.
        d_v: Value features per head.
        h: Number of heads.
        dropout: Rate of the `dropout` sub-layer. As in torch it is never applied; the layer is
            kept so the module tree and the configuration match. Defaults to `0.1`.
        **kwargs: Base layer keyword arguments, such as `name` and `dtype`.

    Call arguments:
        queries: `(batch, nq, d_model)`.
        keys: `(batch, nk, d_model)`.
        values: `(batch, nk, d_model)`.
        training: Accepted for the Keras API; nothing depends on it.

    Output shape:
        `(batch, nq, d_model)`.

    Reference:
        - [Song, 2021](https://arxiv.org/abs/2109.14382); torch: `reference_torch.UFOAttention`.
    """

    def __init__(self, d_model: int, d_k: int, d_v: int, h: int, dropout: float = 0.1, **kwargs):
        for name, value in (("d_model", d_model), ("d_k", d_k), ("d_v", d_v), ("h", h)):
            check_positive_int(name, value)
        check_probability("dropout", dropout)
        super().__init__(**kwargs)
        self.d_model, self.d_k, self.d_v, self.h = d_model, d_k, d_v, h
        # Mirrors torch fc_q, fc_k, fc_v, fc_o (Linear with bias) and the unused `dropout`.
        # Sub-layers get the parent's dtype policy explicitly: Keras 3 does not propagate it.
        policy = self.dtype_policy
        self.fc_q = layers.Dense(h * d_k, name="fc_q", dtype=policy)
        self.fc_k = layers.Dense(h * d_k, name="fc_k", dtype=policy)
        self.fc_v = layers.Dense(h * d_v, name="fc_v", dtype=policy)
        self.fc_o = layers.Dense(d_model, name="fc_o", dtype=policy)
        self.dropout = layers.Dropout(dropout, name="dropout", dtype=policy)  # never called

    def build(self, queries_shape, keys_shape=None, values_shape=None):
        check_attention_shapes(queries_shape, keys_shape, values_shape, self.d_model)
        for projection in (self.fc_q, self.fc_k, self.fc_v):
            projection.build((None, None, self.d_model))
        self.fc_o.build((None, None, self.h * self.d_v))
        # torch nn.Parameter(torch.randn((1, h, 1, 1))): one scale per head.
        self.gamma = self.add_weight(
            name="gamma",
            shape=(1, self.h, 1, 1),
            initializer=keras.initializers.RandomNormal(stddev=1.0),  # torch.randn: N(0, 1)
        )

    def call(self, queries, keys, values, training=False):
        batch, nq = ops.shape(queries)[0], ops.shape(queries)[1]
        nk = ops.shape(keys)[1]
        # Heads split the projected features head-major: head j = features [j*d, (j+1)*d).
        q = ops.reshape(self.fc_q(queries), (batch, nq, self.h, self.d_k))
        k = ops.reshape(self.fc_k(keys), (batch, nk, self.h, self.d_k))
        v = ops.reshape(self.fc_v(values), (batch, nk, self.h, self.d_v))
        gamma = ops.cast(self.gamma, q.dtype)  # (1, h, 1, 1), for (batch, h, d_k, d_v)
        kv = ops.einsum("bshc,bshe->bhce", k, v)  # (batch, h, d_k, d_v), sum over the nk keys
        kv_norm = x_norm(kv, gamma)  # each row over d_v
        # q stays (batch, nq, h, d_k): gamma as (h, 1) broadcasts over its heads axis.
        q_norm = x_norm(q, ops.reshape(gamma, (self.h, 1)))  # each query over d_k
        out = ops.einsum("bqhc,bhce->bqhe", q_norm, kv_norm)  # (batch, nq, h, d_v)
        return self.fc_o(ops.reshape(out, (batch, nq, self.h * self.d_v)))  # (batch, nq, d_model)

    def compute_output_shape(self, queries_shape, keys_shape=None, values_shape=None):
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
