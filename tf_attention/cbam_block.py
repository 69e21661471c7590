"""CBAMBlock: Convolutional Block Attention Module (Keras 3 port, NHWC)."""

from __future__ import annotations

import keras
from keras import layers, ops

from tf_attention._checks import (
    check_image_shape,
    check_odd_kernel,
    check_reduction,
)


@keras.saving.register_keras_serializable(package="tf_attention", name="CBAMChannelAttention")
class ChannelAttention(layers.Layer):
    """CBAM's channel gate: a shared bottleneck MLP on the max- and average-pooled channels.

    Args:
        channel: Number of input channels.
        reduction: Bottleneck ratio (`channel // reduction` hidden units). Defaults to `16`.
        **kwargs: Base layer keyword arguments, such as `name` and `dtype`.

    Input shape:
        4D tensor `(batch, height, width, channel)` (NHWC).

    Output shape:
        `(batch, 1, 1, channel)`: the gate, in (0, 1).
    """

    def __init__(self, channel: int, reduction: int = 16, **kwargs):
        check_reduction(channel, reduction)
        super().__init__(**kwargs)
        self.channel, self.reduction = channel, reduction
        # Mirrors torch `se = nn.Sequential(Conv2d 1x1, ReLU, Conv2d 1x1)`: torch se.2 is
        # self.se[2]. The 1x1 convs act on pooled vectors, so they are Dense layers.
        policy = self.dtype_policy
        self.se = [
            layers.Dense(channel // reduction, use_bias=False, name="se_0", dtype=policy),
            layers.ReLU(name="se_1", dtype=policy),
            layers.Dense(channel, use_bias=False, name="se_2", dtype=policy),
        ]

    def build(self, input_shape):
        check_image_shape("ChannelAttention", input_shape, self.channel)
        self.se[0].build((None, self.channel))
        self.se[2].build((None, self.channel // self.reduction))

    def call(self, inputs):
        # (batch, 2, channel): [max, mean] over H, W, run through the shared MLP in one pass.
        pooled = ops.stack([ops.max(inputs, axis=(1, 2)), ops.mean(inputs, axis=(1, 2))], axis=1)
        for layer in self.se:
            pooled = layer(pooled)
        gate = ops.sigmoid(ops.sum(pooled, axis=1))  # (batch, channel): max branch + mean branch
        return gate[:, None, None, :]

    def compute_output_shape(self, input_shape):
        return (input_shape[0], 1, 1, self.channel)

    def get_config(self):
        return {**super().get_config(), "channel": self.channel, "reduction": self.reduction}


@keras.saving.register_keras_serializable(package="tf_attention", name="CBAMSpatialAttention")
class SpatialAttention(layers.Layer):
    """CBAM's spatial gate: a k x k conv over the channel-wise [max, mean] maps.

    Args:
        kernel_size: Odd kernel size of the conv (torch pads `k // 2`). Defaults to `7`.
        **kwargs: Base layer keyword arguments, such as `name` and `dtype`.

    Input shape:
        4D tensor `(batch, height, width, channel)` (NHWC).

    Output shape:
        `(batch, height, width, 1)`: the gate, in (0, 1).
    """

    def __init__(self, kernel_size: int = 7, **kwargs):
        check_odd_kernel("kernel_size", kernel_size)
        super().__init__(**kwargs)
        self.kernel_size = kernel_size
        # torch `conv = Conv2d(2, 1, k, padding=k//2)`: for odd k, stride 1 that is "same".
        self.conv = layers.Conv2D(
            1, kernel_size, padding="same", use_bias=True, name="conv", dtype=self.dtype_policy
        )

    def build(self, input_shape):
        check_image_shape("SpatialAttention", input_shape, None)
        self.conv.build((None, None, None, 2))

    def call(self, inputs):
        # (batch, height, width, 2): [max, mean] over the channel axis, in torch's order.
        maps = ops.concatenate(
            [ops.max(inputs, axis=-1, keepdims=True), ops.mean(inputs, axis=-1, keepdims=True)],
            axis=-1,
        )
        return ops.sigmoid(self.conv(maps))

    def compute_output_shape(self, input_shape):
        return (*input_shape[:3], 1)

    def get_config(self):
        return {**super().get_config(), "kernel_size": self.kernel_size}


@keras.saving.register_keras_serializable(package="tf_attention")
class CBAMBlock(layers.Layer):
    """Channel gate, then spatial gate on the refined map, then a residual add of the input.

    Computes `out = x * ca(x)`, `out = out * sa(out)` and returns `out + x`.

    Args:
        channel: Number of input channels. Defaults to `512`.
        reduction: Bottleneck ratio of the channel gate. Defaults to `16`.
        kernel_size: Odd kernel size of the spatial gate's conv. Defaults to `49`.
        **kwargs: Base layer keyword arguments, such as `name` and `dtype`.

    Input shape:
        4D tensor `(batch, height, width, channel)` (NHWC).

    Output shape:
        Same as the input.

    Reference:
        - [Woo et al., 2018](https://arxiv.org/abs/1807.06521); torch: `reference_torch.CBAMBlock`.
    """

    def __init__(self, channel: int = 512, reduction: int = 16, kernel_size: int = 49, **kwargs):
        check_reduction(channel, reduction)
        check_odd_kernel("kernel_size", kernel_size)
        super().__init__(**kwargs)
        self.channel, self.reduction, self.kernel_size = channel, reduction, kernel_size
        policy = self.dtype_policy
        self.ca = ChannelAttention(channel, reduction, name="ca", dtype=policy)
        self.sa = SpatialAttention(kernel_size, name="sa", dtype=policy)

    def build(self, input_shape):
        check_image_shape("CBAMBlock", input_shape, self.channel)
        self.ca.build(input_shape)
        self.sa.build(input_shape)

    def call(self, inputs, training=None):
        out = inputs * self.ca(inputs)
        out = out * self.sa(out)
        return out + inputs

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {
            **super().get_config(),
            "channel": self.channel,
            "reduction": self.reduction,
            "kernel_size": self.kernel_size,
        }
