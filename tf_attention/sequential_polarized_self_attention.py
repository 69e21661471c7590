"""SequentialPolarizedSelfAttention: polarized self-attention, sequential layout (Keras 3 port,
NHWC)."""

from __future__ import annotations

import keras

from tf_attention._polarized import PolarizedSelfAttentionBase


@keras.saving.register_keras_serializable(package="tf_attention")
class SequentialPolarizedSelfAttention(PolarizedSelfAttentionBase):
    """Channel-only self-attention, then spatial-only self-attention on its output:
    `u = channel_weight(x) * x`, `out = spatial_weight(u) * u`.

    Args:
        channel: Number of input channels (at least 2). Defaults to `512`.
        **kwargs: Base layer keyword arguments, such as `name` and `dtype`.

    Input shape:
        4D tensor `(batch, height, width, channel)` (NHWC).

    Output shape:
        Same as the input.

    Reference:
        - [Liu et al., 2021](https://arxiv.org/abs/2107.00782); torch:
          `reference_torch.SequentialPolarizedSelfAttention`.
    """

    def call(self, inputs, training=False):
        channel_out = self.channel_weight(inputs) * inputs
        return self.spatial_weight(channel_out) * channel_out
