"""ECAAttention: Efficient Channel Attention (Keras 3 port, NHWC)."""

from __future__ import annotations

import keras
from keras import layers, ops

from tf_attention._checks import check_image_shape, check_odd_kernel


@keras.saving.register_keras_serializable(package="tf_attention")
class ECAAttention(layers.Layer):
    """Re-weights channels with a gate from a 1-D convolution across the pooled channel sequence.

    The globally averaged channels `(batch, channel)` are read as a sequence of `channel` steps with
    one feature, convolved by a single `Conv1D` filter (with bias) and passed through a sigmoid.

    Args:
        kernel_size: Odd length of the 1-D convolution that slides over the channel axis.
            Defaults to `3`.
        **kwargs: Base layer keyword arguments, such as `name` and `dtype`.

    Input shape:
        4D tensor `(batch, height, width, channel)` (NHWC); any number of channels.

    Output shape:
        Same as the input.

    Reference:
        - [Wang et al., 2020](https://arxiv.org/abs/1910.03151); torch:
          `reference_torch.ECAAttention`.
    """

    def __init__(self, kernel_size: int = 3, **kwargs):
        check_odd_kernel("kernel_size", kernel_size)
        super().__init__(**kwargs)
        self.kernel_size = kernel_size
        # torch `conv = Conv1d(1, 1, k, padding=(k-1)//2)`: for odd k, stride 1 that is "same".
        self.conv = layers.Conv1D(
            1, kernel_size, padding="same", use_bias=True, name="conv", dtype=self.dtype_policy
        )

    def build(self, input_shape):
        check_image_shape("ECAAttention", input_shape, None)
        # (batch, steps=channel, features=1); the channel count does not fix any weight shape.
        self.conv.build((None, None, 1))

    def call(self, inputs, training=None):
        pooled = ops.mean(inputs, axis=(1, 2))  # (batch, channel): average over H, W
        gate = self.conv(pooled[:, :, None])  # (batch, channel, 1): channels as the sequence axis
        gate = ops.sigmoid(gate[:, :, 0])  # (batch, channel)
        return inputs * gate[:, None, None, :]

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "kernel_size": self.kernel_size}
