"""ParallelPolarizedSelfAttention: polarized self-attention, parallel layout (Keras 3 port, NHWC)."""

from __future__ import annotations

import keras

from tf_attention._polarized import PolarizedSelfAttentionBase


@keras.saving.register_keras_serializable(package="tf_attention")
class ParallelPolarizedSelfAttention(PolarizedSelfAttentionBase):
    """Channel-only and spatial-only self-attention on the same input, summed:
    `out = spatial_weight(x) * x + channel_weight(x) * x`.

    Args:
        channel: Number of input channels (at least 2). Defaults to `512`.
        **kwargs: Base layer keyword arguments, such as `name` and `dtype`.

    Input shape:
        4D tensor `(batch, height, width, channel)` (NHWC).

    Output shape:
        Same as the input.

    Reference:
        - [Liu et al., 2021](https://arxiv.org/abs/2107.00782); torch:
          `reference_torch.ParallelPolarizedSelfAttention`.
    """

    def call(self, inputs, training=False):
        channel_out = self.channel_weight(inputs) * inputs
        spatial_out = self.spatial_weight(inputs) * inputs
        return spatial_out + channel_out
