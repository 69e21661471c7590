"""CrissCrossAttention: criss-cross attention from CCNet (Keras 3 port, NHWC)."""

from __future__ import annotations

import math

import keras
from keras import layers, ops

from tf_attention._checks import check_image_shape


@keras.saving.register_keras_serializable(package="tf_attention")
class CrissCrossAttention(layers.Layer):
    """Each position attends to the positions of its own row and column.

    For position (i, j), the energies are `q[i, j] . k[i', j]` over its column (i' = i masked
    with -inf, so the position itself counts once) and `q[i, j] . k[i, j']` over its row; one
    softmax runs over all H + W of them, the values of the column and the row are averaged with
    those weights, and the output is `gamma * (out_H + out_W) + x`.

    Args:
        in_dim: Number of input channels (>= 8; queries and keys have `in_dim // 8`).
        **kwargs: Base layer keyword arguments, such as `name` and `dtype`.

    Input shape:
        4D tensor `(batch, height, width, in_dim)` (NHWC); any height and width.

    Output shape:
        Same as the input.

    Reference:
        - [Huang et al., 2019](https://arxiv.org/abs/1811.11721); torch:
          `reference_torch.CrissCrossAttention`.
    """

    def __init__(self, in_dim: int, **kwargs):
        if isinstance(in_dim, bool) or not isinstance(in_dim, int) or in_dim < 8:
            raise ValueError(
                "Expected `in_dim` to be an integer >= 8 (queries and keys have in_dim // 8 "
                f"channels). Received: in_dim={in_dim!r}"
            )
        super().__init__(**kwargs)
        self.in_dim = in_dim
        # torch query_conv, key_conv, value_conv are 1x1 Conv2d with bias: Dense on the channel
        # axis (NHWC). Sub-layers get the parent's dtype policy: Keras 3 does not propagate it.
        policy = self.dtype_policy
        self.query_conv = layers.Dense(in_dim // 8, name="query_conv", dtype=policy)
        self.key_conv = layers.Dense(in_dim // 8, name="key_conv", dtype=policy)
        self.value_conv = layers.Dense(in_dim, name="value_conv", dtype=policy)

    def build(self, input_shape):
        check_image_shape("CrissCrossAttention", input_shape, self.in_dim)
        for projection in (self.query_conv, self.key_conv, self.value_conv):
            projection.build((None, None, None, self.in_dim))
        # torch nn.Parameter(torch.zeros(1)): the module is the identity until gamma moves.
        self.gamma = self.add_weight(name="gamma", shape=(1,), initializer="zeros")

    def call(self, inputs, training=False):
        height = ops.shape(inputs)[1]
        query = self.query_conv(inputs)  # (batch, H, W, C')
        key = self.key_conv(inputs)  # (batch, H, W, C')
        value = self.value_conv(inputs)  # (batch, H, W, C)
        # Column energies [b, i, j, i'] (same column j) and row energies [b, i, j, j'] (row i).
        energy_h = ops.einsum("bijc,bkjc->bijk", query, key)  # (batch, H, W, H)
        energy_w = ops.einsum("bijc,bikc->bijk", query, key)  # (batch, H, W, W)
        rows = ops.arange(height)
        diagonal = ops.expand_dims(rows[:, None] == rows[None, :], 1)  # (H, 1, H): i' == i
        negative_infinity = ops.cast(-math.inf, energy_h.dtype)
        energy_h = ops.where(diagonal, negative_infinity, energy_h)  # the H part only
        # One softmax over the H + W energies of each position (axis 3 of both), as torch's
        # softmax over their concatenation, without materialising the concatenation.
        largest = ops.maximum(
            ops.max(energy_h, axis=-1, keepdims=True), ops.max(energy_w, axis=-1, keepdims=True)
        )
        exp_h = ops.exp(energy_h - largest)
        exp_w = ops.exp(energy_w - largest)
        total = ops.sum(exp_h, axis=-1, keepdims=True) + ops.sum(exp_w, axis=-1, keepdims=True)
        attention_h, attention_w = exp_h / total, exp_w / total
        out_h = ops.einsum("bijk,bkjc->bijc", attention_h, value)  # over the column's rows i'
        out_w = ops.einsum("bijk,bikc->bijc", attention_w, value)  # over the row's columns j'
        return ops.cast(self.gamma, inputs.dtype) * (out_h + out_w) + inputs

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "in_dim": self.in_dim}
