"""ECAAttention: Efficient Channel Attention (Keras 3 port, NHWC)."""

from __future__ import annotations

import keras
from keras import layers, ops

from tf_attention._checks import check_image_shape, check_odd_kernel


@keras.saving.register_keras_serializable(package="tf_attention")
class SingleChannelConv1D(layers.Conv1D):
    """A `Conv1D` with one input and one output channel, stride 1, odd kernel, 'same' padding,
    computed as a weighted sum of `kernel_size` shifted copies of the sequence.

    Same variables as a `Conv1D(1, k)` (kernel `(k, 1, 1)`, bias `(1,)`), so a torch
    `Conv1d(1, 1, k, padding=k // 2)` maps onto it like any `Conv1D`; only `call` differs.
    TensorFlow's convolution kernel is slow for a single channel: measured on the ECA usage
    shape (50 sequences of 512 steps, k = 3, one CPU thread) it takes about 1 ms, the weighted
    sum of shifted slices about 0.1 ms, and torch's `conv1d` about 0.05 ms.

    Args:
        kernel_size: Odd kernel size.
        **kwargs: Further `Conv1D` arguments; `padding` must be "same", strides and dilation 1.
    """

    def __init__(self, kernel_size: int, **kwargs):
        # `filters` and tuple sizes come back from `get_config` (a Conv1D config).
        filters = kwargs.pop("filters", 1)
        if isinstance(kernel_size, tuple | list) and len(kernel_size) == 1:
            kernel_size = kernel_size[0]
        if filters != 1:
            raise ValueError(f"Expected `filters=1`. Received: filters={filters!r}")
        if kwargs.get("padding", "same") != "same":
            raise ValueError(
                f"Expected `padding='same'`. Received: padding={kwargs.get('padding')!r}"
            )
        for name in ("strides", "dilation_rate", "groups"):
            if kwargs.get(name, 1) not in (1, (1,), [1]):
                raise ValueError(f"Expected `{name}=1`. Received: {name}={kwargs[name]!r}")
        check_odd_kernel("kernel_size", kernel_size)
        kwargs["padding"] = "same"
        super().__init__(1, kernel_size, **kwargs)

    def build(self, input_shape):
        if input_shape[-1] not in (None, 1):
            raise ValueError(
                "SingleChannelConv1D expects one feature per step (batch, steps, 1). "
                f"Received: input_shape={tuple(input_shape)}"
            )
        super().build((*tuple(input_shape[:-1]), 1))

    def call(self, inputs):
        taps = self.kernel_size[0]
        pad = taps // 2
        sequence = inputs[:, :, 0]  # (batch, steps): the single feature
        steps = ops.shape(sequence)[1]
        padded = ops.pad(sequence, ((0, 0), (pad, pad)))  # zero padding k // 2 on both ends
        kernel = ops.reshape(self.kernel, (taps,))  # (k, 1, 1) -> (k,)
        # Cross-correlation, as torch: out[t] = bias + sum_j kernel[j] * x[t + j - k // 2].
        outputs = kernel[0] * padded[:, 0:steps]
        for tap in range(1, taps):  # k shifted slices: a handful of tiny ops, no conv kernel
            outputs = outputs + kernel[tap] * padded[:, tap : tap + steps]
        if self.use_bias:
            outputs = outputs + self.bias[0]
        if self.activation is not None:
            outputs = self.activation(outputs)
        return outputs[:, :, None]


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
        # A Conv1D with the same variables, computed without TF's slow single-channel conv.
        self.conv = SingleChannelConv1D(
            kernel_size, padding="same", use_bias=True, name="conv", dtype=self.dtype_policy
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
