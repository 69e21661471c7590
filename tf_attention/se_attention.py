"""SEAttention: Squeeze-and-Excitation channel attention (Keras 3 port, NHWC)."""

from __future__ import annotations

import keras
from keras import layers, ops

from tf_attention._checks import check_image_shape, check_reduction


@keras.saving.register_keras_serializable(package="tf_attention")
class SEAttention(layers.Layer):
    """Re-weights channels with a gate computed from their global average.

    Args:
        channel: Number of input channels. Defaults to `512`.
        reduction: Bottleneck ratio (`channel // reduction` units). Defaults to `16`.
        **kwargs: Base layer keyword arguments, such as `name` and `dtype`.

    Input shape:
        4D tensor `(batch, height, width, channel)` (NHWC).

    Output shape:
        Same as the input.

    Reference:
        - [Hu et al., 2018](https://arxiv.org/abs/1709.01507); torch: `reference_torch.SEAttention`.
    """

    def __init__(self, channel: int = 512, reduction: int = 16, **kwargs):
        check_reduction(channel, reduction)
        super().__init__(**kwargs)
        self.channel, self.reduction = channel, reduction
        # Mirrors torch `fc = nn.Sequential(...)`: torch fc.2 is self.fc[2]. Sub-layers get the
        # parent's dtype policy explicitly: Keras 3 does not propagate it.
        policy = self.dtype_policy
        self.fc = [
            layers.Dense(channel // reduction, use_bias=False, name="fc_0", dtype=policy),
            layers.ReLU(name="fc_1", dtype=policy),
            layers.Dense(channel, use_bias=False, name="fc_2", dtype=policy),
            layers.Activation("sigmoid", name="fc_3", dtype=policy),
        ]

    def build(self, input_shape):
        check_image_shape("SEAttention", input_shape, self.channel)
        self.fc[0].build((None, self.channel))
        self.fc[2].build((None, self.channel // self.reduction))

    def call(self, inputs, training=False):
        gate = ops.mean(inputs, axis=(1, 2))  # (batch, channel): average over H, W
        for layer in self.fc:
            gate = layer(gate)
        return inputs * gate[:, None, None, :]

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "channel": self.channel, "reduction": self.reduction}
