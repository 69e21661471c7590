"""MobileViTv2Attention: separable self-attention from MobileViTv2 (Keras 3 port, tokens)."""

from __future__ import annotations

import keras
from keras import layers, ops

from tf_attention._checks import check_positive_int, check_sequence_shape


@keras.saving.register_keras_serializable(package="tf_attention")
class MobileViTv2Attention(layers.Layer):
    """One context vector per sample, a softmax-weighted sum of keys, gates the values.

    `w = softmax(fc_i(x))` over the **tokens** (axis 1), `context = sum_t w[t] fc_k(x)[t]`, and
    the output is `fc_o(fc_v(x) * context)`, with no activation on the value branch.

    Args:
        d_model: Number of input and output features per token.
        **kwargs: Base layer keyword arguments, such as `name` and `dtype`.

    Input shape:
        3D tensor `(batch, tokens, d_model)` (torch's 4-D `(B, P, n, d_model)` use is not
        supported).

    Output shape:
        Same as the input.

    Reference:
        - [Mehta and Rastegari, 2022](https://arxiv.org/abs/2206.02680); torch:
          `reference_torch.MobileViTv2Attention`.
    """

    def __init__(self, d_model: int, **kwargs):
        check_positive_int("d_model", d_model)
        super().__init__(**kwargs)
        self.d_model = d_model
        # Mirrors torch fc_i (d_model -> 1), fc_k, fc_v, fc_o (Linear with bias). Sub-layers get
        # the parent's dtype policy explicitly: Keras 3 does not propagate it.
        policy = self.dtype_policy
        self.fc_i = layers.Dense(1, name="fc_i", dtype=policy)
        self.fc_k = layers.Dense(d_model, name="fc_k", dtype=policy)
        self.fc_v = layers.Dense(d_model, name="fc_v", dtype=policy)
        self.fc_o = layers.Dense(d_model, name="fc_o", dtype=policy)

    def build(self, input_shape):
        check_sequence_shape("input", input_shape, self.d_model)
        for projection in (self.fc_i, self.fc_k, self.fc_v, self.fc_o):
            projection.build((None, None, self.d_model))

    def call(self, inputs, training=False):
        logits = self.fc_i(inputs)  # (batch, tokens, 1)
        # Softmax over axis 1 (the tokens), written out because `ops.softmax` warns when that
        # axis has size 1 (one token, a valid input: the weight is then 1).
        exponentials = ops.exp(logits - ops.max(logits, axis=1, keepdims=True))
        weights = exponentials / ops.sum(exponentials, axis=1, keepdims=True)
        # context[b, 0, d] = sum_t weights[b, t, 0] * fc_k(x)[b, t, d]: one batched matmul.
        context = ops.einsum("btj,btd->bjd", weights, self.fc_k(inputs))  # (batch, 1, d_model)
        return self.fc_o(self.fc_v(inputs) * context)  # (batch, tokens, d_model)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "d_model": self.d_model}
