"""AFT_FULL: Attention Free Transformer, full variant (Keras 3 port, tokens)."""

from __future__ import annotations

import keras
from keras import layers, ops

from tf_attention._checks import check_positive_int, check_sequence_shape


def _check_tokens(n: int, input_shape) -> None:
    """Raise `ValueError` if the token axis is known and differs from `n`."""
    if input_shape[1] is not None and input_shape[1] != n:
        raise ValueError(
            f"Expected `input` to have n={n} tokens on axis 1 (the position biases are "
            f"({n}, {n})). Received: input_shape={tuple(input_shape)}"
        )


@keras.saving.register_keras_serializable(package="tf_attention")
class AFT_FULL(layers.Layer):  # noqa: N801 (upstream's class name)
    """Gates each token with `sigmoid(q)` times a position-biased average of the values.

    `out[b, t] = sigmoid(q[b, t]) * sum_s exp(k[b, s] + w[t, s]) v[b, s] / sum_s exp(k[b, s] + w[t, s])`
    with `q, k, v` linear projections of the input and `w` the learned `(n, n)` position biases.

    As in torch, the exponentials have no max-subtraction. They are computed factorised,
    `exp(k + w) = exp(w) exp(k)`, so the sums over `s` are two `(n, n) @ (n, d)` matmuls per
    sample instead of torch's `(n, batch, n, d)` intermediate: equal to rounding wherever the
    values are finite. Outside that region the overflow thresholds differ slightly (float32:
    torch overflows when `k + w > ~88.7`, this port when `k`, `w` or the product overflows).

    Args:
        d_model: Number of features per token.
        n: Sequence length (the position biases are `(n, n)`). Defaults to `49`.
        simple: If True, the position biases are fixed zeros (torch keeps them as an
            unregistered tensor): no `position_biases` variable is created and `exp(k + 0)`
            reduces to a plain sum over the tokens. Defaults to `False`.
        **kwargs: Base layer keyword arguments, such as `name` and `dtype`.

    Input shape:
        3D tensor `(batch, n, d_model)`; any other sequence length raises `ValueError`.

    Output shape:
        Same as the input.

    Reference:
        - [Zhai et al., 2021](https://arxiv.org/abs/2105.14103); torch: `reference_torch.AFT_FULL`.
    """

    def __init__(self, d_model: int, n: int = 49, simple: bool = False, **kwargs):
        check_positive_int("d_model", d_model)
        check_positive_int("n", n)
        if not isinstance(simple, bool):
            raise ValueError(f"Expected `simple` to be a bool. Received: simple={simple!r}")
        super().__init__(**kwargs)
        self.d_model, self.n, self.simple = d_model, n, simple
        # Mirrors torch fc_q, fc_k, fc_v (Linear with bias). Sub-layers get the parent's dtype
        # policy explicitly: Keras 3 does not propagate it.
        policy = self.dtype_policy
        self.fc_q = layers.Dense(d_model, name="fc_q", dtype=policy)
        self.fc_k = layers.Dense(d_model, name="fc_k", dtype=policy)
        self.fc_v = layers.Dense(d_model, name="fc_v", dtype=policy)

    def build(self, input_shape):
        check_sequence_shape("input", input_shape, self.d_model)
        _check_tokens(self.n, input_shape)
        for projection in (self.fc_q, self.fc_k, self.fc_v):
            projection.build((None, None, self.d_model))
        if not self.simple:
            # torch nn.Parameter(torch.ones((n, n))), indexed [query token t, key token s].
            self.position_biases = self.add_weight(
                name="position_biases", shape=(self.n, self.n), initializer="ones"
            )

    def call(self, inputs, training=False):
        _check_tokens(self.n, inputs.shape)  # build runs once; later calls may differ
        q = self.fc_q(inputs)  # (batch, n, d_model)
        exp_k = ops.exp(self.fc_k(inputs))  # (batch, n, d_model), no max-subtraction (as torch)
        weighted = exp_k * self.fc_v(inputs)  # (batch, n, d_model)
        if self.simple:
            # w = 0: every query token gets the same sums over the key tokens (axis 1).
            numerator = ops.sum(weighted, axis=1, keepdims=True)  # (batch, 1, d_model)
            denominator = ops.sum(exp_k, axis=1, keepdims=True)
        else:
            exp_w = ops.exp(ops.cast(self.position_biases, inputs.dtype))  # (n, n) [t, s]
            # (n, n) @ (batch, n, d_model): sum over the key tokens s, batch broadcast.
            numerator = ops.matmul(exp_w, weighted)  # (batch, n, d_model)
            denominator = ops.matmul(exp_w, exp_k)
        return ops.sigmoid(q) * (numerator / denominator)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {
            **super().get_config(),
            "d_model": self.d_model,
            "n": self.n,
            "simple": self.simple,
        }
