"""DAModule: DANet's dual (position + channel) attention (Keras 3 port, NHWC)."""

from __future__ import annotations

import keras
from keras import layers, ops

from tf_attention._checks import check_image_shape, check_odd_kernel, check_positive_int
from tf_attention.scaled_dot_product_attention import ScaledDotProductAttention
from tf_attention.simplified_scaled_dot_product_attention import (
    SimplifiedScaledDotProductAttention,
)


def _check_arguments(d_model: object, kernel_size: object, H: object, W: object) -> None:
    check_positive_int("d_model", d_model)
    check_odd_kernel("kernel_size", kernel_size)
    check_positive_int("H", H)
    check_positive_int("W", W)


def _check_input_shape(layer_name: str, input_shape, d_model: int, H: int, W: int) -> None:
    check_image_shape(layer_name, input_shape, d_model)
    height, width = input_shape[1], input_shape[2]
    if height is not None and width is not None and height * width != H * W:
        raise ValueError(
            f"{layer_name} expects an input with H * W = {H * W} positions (constructor H={H}, "
            f"W={W}). Received: input_shape={tuple(input_shape)}"
        )


class _DualAttentionBranch(layers.Layer):
    """The shared constructor, build and config of the two branches (`cnn` + `pa`)."""

    def __init__(self, d_model: int = 512, kernel_size: int = 3, H: int = 7, W: int = 7, **kwargs):
        _check_arguments(d_model, kernel_size, H, W)
        super().__init__(**kwargs)
        self.d_model, self.kernel_size, self.H, self.W = d_model, kernel_size, H, W
        # torch `cnn = Conv2d(d_model, d_model, k, padding=(k-1)//2)`: odd k, stride 1 -> 'same'.
        self.cnn = layers.Conv2D(
            d_model, kernel_size, padding="same", name="cnn", dtype=self.dtype_policy
        )

    def build(self, input_shape):
        _check_input_shape(type(self).__name__, input_shape, self.d_model, self.H, self.W)
        self.cnn.build((None, None, None, self.d_model))
        tokens, features = self._pa_input_shape()
        shape = (None, tokens, features)
        self.pa.build(shape, shape, shape)

    def get_config(self):
        return {
            **super().get_config(),
            "d_model": self.d_model,
            "kernel_size": self.kernel_size,
            "H": self.H,
            "W": self.W,
        }


@keras.saving.register_keras_serializable(package="tf_attention")
class PositionAttentionModule(_DualAttentionBranch):
    """Self-attention over the H*W positions (tokens) with `d_model` features, after a conv.

    Args:
        d_model: Number of channels. Defaults to `512`.
        kernel_size: Odd kernel size of the `cnn` conv. Defaults to `3`.
        H: Input height the layer is built for (only H * W is checked). Defaults to `7`.
        W: Input width the layer is built for. Defaults to `7`.
        **kwargs: Base layer keyword arguments, such as `name` and `dtype`.

    Input shape:
        4D tensor `(batch, height, width, d_model)` (NHWC) with `height * width == H * W`.

    Output shape:
        3D tensor `(batch, H * W, d_model)`, positions in row-major order.

    Reference:
        - [Fu et al., 2019](https://arxiv.org/abs/1809.02983); torch:
          `reference_torch.da_module.PositionAttentionModule`.
    """

    def __init__(self, d_model: int = 512, kernel_size: int = 3, H: int = 7, W: int = 7, **kwargs):
        super().__init__(d_model, kernel_size, H, W, **kwargs)
        # torch `pa = ScaledDotProductAttention(d_model, d_k=d_model, d_v=d_model, h=1)`.
        self.pa = ScaledDotProductAttention(
            d_model, d_k=d_model, d_v=d_model, h=1, name="pa", dtype=self.dtype_policy
        )

    def _pa_input_shape(self):
        return self.H * self.W, self.d_model

    def call(self, inputs, training=False):
        # An NHWC reshape keeps torch's row-major position order (h * W + w).
        tokens = ops.reshape(self.cnn(inputs), (-1, self.H * self.W, self.d_model))
        return self.pa(tokens, tokens, tokens, training=training)  # (batch, H*W, d_model)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.H * self.W, self.d_model)


@keras.saving.register_keras_serializable(package="tf_attention")
class ChannelAttentionModule(_DualAttentionBranch):
    """Self-attention over the channels (tokens) with H*W features, after a conv.

    Args:
        d_model: Number of channels. Defaults to `512`.
        kernel_size: Odd kernel size of the `cnn` conv. Defaults to `3`.
        H: Input height the layer is built for (`pa` has H * W features). Defaults to `7`.
        W: Input width the layer is built for. Defaults to `7`.
        **kwargs: Base layer keyword arguments, such as `name` and `dtype`.

    Input shape:
        4D tensor `(batch, height, width, d_model)` (NHWC) with `height * width == H * W`.

    Output shape:
        3D tensor `(batch, d_model, H * W)` (channels are the tokens, as in torch).

    Reference:
        - [Fu et al., 2019](https://arxiv.org/abs/1809.02983); torch:
          `reference_torch.da_module.ChannelAttentionModule`.
    """

    def __init__(self, d_model: int = 512, kernel_size: int = 3, H: int = 7, W: int = 7, **kwargs):
        super().__init__(d_model, kernel_size, H, W, **kwargs)
        # torch `pa = SimplifiedScaledDotProductAttention(H * W, h=1)`.
        self.pa = SimplifiedScaledDotProductAttention(
            H * W, h=1, name="pa", dtype=self.dtype_policy
        )

    def _pa_input_shape(self):
        return self.d_model, self.H * self.W

    def call(self, inputs, training=False):
        positions = ops.reshape(self.cnn(inputs), (-1, self.H * self.W, self.d_model))
        # Channels become the tokens: (batch, H*W, C) -> (batch, C, H*W), transposing axes 1, 2.
        # A plain reshape of NHWC to (batch, C, H*W) would mix positions and channels.
        channels = ops.transpose(positions, (0, 2, 1))
        return self.pa(channels, channels, channels, training=training)  # (batch, C, H*W)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.d_model, self.H * self.W)


@keras.saving.register_keras_serializable(package="tf_attention")
class DAModule(layers.Layer):
    """Sum of position attention and channel attention, each on its own conv of the input.

    As upstream (and unlike the paper): no residual, no learned gamma, no BN; dropout 0.1 inside
    both attentions (inactive unless `training=True`).

    Args:
        d_model: Number of channels. Defaults to `512`.
        kernel_size: Odd kernel size of both convs. Defaults to `3`.
        H: Input height (only H * W must match the input). Defaults to `7`.
        W: Input width. Defaults to `7`.
        **kwargs: Base layer keyword arguments, such as `name` and `dtype`.

    Input shape:
        4D tensor `(batch, height, width, d_model)` (NHWC) with `height * width == H * W`.

    Output shape:
        Same as the input.

    Reference:
        - [Fu et al., 2019](https://arxiv.org/abs/1809.02983); torch: `reference_torch.DAModule`.
    """

    def __init__(self, d_model: int = 512, kernel_size: int = 3, H: int = 7, W: int = 7, **kwargs):
        _check_arguments(d_model, kernel_size, H, W)
        super().__init__(**kwargs)
        self.d_model, self.kernel_size, self.H, self.W = d_model, kernel_size, H, W
        # Mirrors torch `position_attention_module` and `channel_attention_module`.
        policy = self.dtype_policy
        self.position_attention_module = PositionAttentionModule(
            d_model, kernel_size, H, W, name="position_attention_module", dtype=policy
        )
        self.channel_attention_module = ChannelAttentionModule(
            d_model, kernel_size, H, W, name="channel_attention_module", dtype=policy
        )

    def build(self, input_shape):
        _check_input_shape("DAModule", input_shape, self.d_model, self.H, self.W)
        self.position_attention_module.build(input_shape)
        self.channel_attention_module.build(input_shape)

    def call(self, inputs, training=False):
        positions = self.position_attention_module(inputs, training=training)  # (batch, H*W, C)
        channels = self.channel_attention_module(inputs, training=training)  # (batch, C, H*W)
        # Sum in the (batch, H*W, C) layout (axes 1, 2 of the channel branch swapped), then one
        # reshape back to the input's NHWC shape (row-major positions).
        out = positions + ops.transpose(channels, (0, 2, 1))
        height, width = ops.shape(inputs)[1], ops.shape(inputs)[2]
        return ops.reshape(out, (-1, height, width, self.d_model))

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {
            **super().get_config(),
            "d_model": self.d_model,
            "kernel_size": self.kernel_size,
            "H": self.H,
            "W": self.W,
        }
