"""ParNetAttention: the ParNet block's attention (Keras 3 port, NHWC)."""

from __future__ import annotations

import keras
from keras import layers, ops

from tf_attention._checks import check_image_shape, check_positive_int


@keras.saving.register_keras_serializable(package="tf_attention")
class ParNetAttention(layers.Layer):
    """`SiLU(BN(conv1x1(x)) + BN(conv3x3(x)) + sigmoid(conv1x1(mean_hw(x))) * x)`.

    Args:
        channel: Number of input (and output) channels. Defaults to `512`.
        **kwargs: Base layer keyword arguments, such as `name` and `dtype`.

    Input shape:
        4D tensor `(batch, height, width, channel)` (NHWC).

    Output shape:
        Same as the input.

    Reference:
        - [Goyal et al., 2021](https://arxiv.org/abs/2110.07641); torch:
          `reference_torch.ParNetAttention`.
    """

    def __init__(self, channel: int = 512, **kwargs):
        check_positive_int("channel", channel)
        super().__init__(**kwargs)
        self.channel = channel
        policy = self.dtype_policy
        # Mirror torch's three nn.Sequential by index: torch sse.1 is self.sse[1], conv3x3.1 is
        # self.conv3x3[1]. The 1x1 convs are Dense layers on the last (channel) axis.
        self.sse = [
            layers.GlobalAveragePooling2D(keepdims=True, name="sse_0", dtype=policy),
            layers.Dense(channel, name="sse_1", dtype=policy),
            layers.Activation("sigmoid", name="sse_2", dtype=policy),
        ]
        self.conv1x1 = [
            layers.Dense(channel, name="conv1x1_0", dtype=policy),
            layers.BatchNormalization(epsilon=1e-5, momentum=0.9, name="conv1x1_1", dtype=policy),
        ]
        # torch pads 1 around a 3x3 kernel at stride 1: Keras "same".
        self.conv3x3 = [
            layers.Conv2D(channel, 3, padding="same", name="conv3x3_0", dtype=policy),
            layers.BatchNormalization(epsilon=1e-5, momentum=0.9, name="conv3x3_1", dtype=policy),
        ]

    def build(self, input_shape):
        check_image_shape("ParNetAttention", input_shape, self.channel)
        feature_shape = (None, None, None, self.channel)
        self.sse[1].build(feature_shape)
        for branch in (self.conv1x1, self.conv3x3):
            branch[0].build(feature_shape)
            branch[1].build(feature_shape)

    def call(self, inputs, training=False):
        x1 = self.conv1x1[1](self.conv1x1[0](inputs), training=training)
        x2 = self.conv3x3[1](self.conv3x3[0](inputs), training=training)
        gate = inputs
        for layer in self.sse:  # (B, 1, 1, C): global mean, 1x1 conv, sigmoid
            gate = layer(gate)
        return ops.silu(x1 + x2 + gate * inputs)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "channel": self.channel}
