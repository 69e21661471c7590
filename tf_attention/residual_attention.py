"""ResidualAttention: class-specific residual attention (Keras 3 port, NHWC in, logits out)."""

from __future__ import annotations

import math
import numbers

import keras
from keras import layers, ops

from tf_attention._checks import check_image_shape, check_positive_int


@keras.saving.register_keras_serializable(package="tf_attention")
class ResidualAttention(layers.Layer):
    """Class scores as the spatial mean plus `la` times the spatial max of 1x1-conv class maps.

    Args:
        channel: Number of input channels. Defaults to `512`.
        num_class: Number of classes (output features). Defaults to `1000`.
        la: Weight of the spatial max (lambda in the paper). Defaults to `0.2`.
        **kwargs: Base layer keyword arguments, such as `name` and `dtype`.

    Input shape:
        4D tensor `(batch, height, width, channel)` (NHWC).

    Output shape:
        2D tensor `(batch, num_class)`.

    Reference:
        - [Zhu and Wu, 2021](https://arxiv.org/abs/2108.02456); torch:
          `reference_torch.ResidualAttention`.
    """

    def __init__(self, channel: int = 512, num_class: int = 1000, la: float = 0.2, **kwargs):
        check_positive_int("channel", channel)
        check_positive_int("num_class", num_class)
        if isinstance(la, bool) or not isinstance(la, numbers.Real) or not math.isfinite(la):
            raise ValueError(f"Expected `la` to be a finite real number. Received: la={la!r}")
        super().__init__(**kwargs)
        self.channel, self.num_class, self.la = channel, num_class, la
        # torch `fc = Conv2d(channel, num_class, 1, bias=False)`.
        self.fc = layers.Conv2D(
            num_class, 1, padding="valid", use_bias=False, name="fc", dtype=self.dtype_policy
        )

    def build(self, input_shape):
        check_image_shape("ResidualAttention", input_shape, self.channel)
        self.fc.build((None, None, None, self.channel))

    def call(self, inputs, training=None):
        class_maps = self.fc(inputs)  # (batch, height, width, num_class)
        average = ops.mean(class_maps, axis=(1, 2))  # (batch, num_class): over H, W
        maximum = ops.max(class_maps, axis=(1, 2))  # (batch, num_class): over H, W
        return average + self.la * maximum

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.num_class)

    def get_config(self):
        return {
            **super().get_config(),
            "channel": self.channel,
            "num_class": self.num_class,
            "la": self.la,
        }
