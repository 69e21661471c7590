"""MUSEAttention: multi-scale parallel self-attention from MUSE (Keras 3 port, sequence layout)."""

from __future__ import annotations

import keras
from keras import layers, ops

from tf_attention._checks import (
    check_last_axis,
    check_positive_int,
    check_rank,
)
from tf_attention.scaled_dot_product_attention import ScaledDotProductAttention


@keras.saving.register_keras_serializable(package="tf_attention")
class DepthwiseGroupedConv1D(layers.Conv1D):
    """A `Conv1D` with `groups == filters == input channels`, computed as a depthwise conv.

    Same variables as the grouped `Conv1D` (kernel `(k, 1, channels)`, bias `(channels,)`), so a
    torch depthwise `Conv1d` maps onto it like any `Conv1D`; only `call` differs. TF's
    grouped convolution on CPU is slow in float64, and its cost grows with the square of the
    group count (measured at batch 50, 49 steps: 80 s for 1024 channels, against 0.06 s for the
    depthwise kernel).

    Args:
        filters: Number of channels, equal to `groups` and to the input channels.
        kernel_size: Kernel size.
        **kwargs: Further `Conv1D` arguments; `groups` must equal `filters`.
    """

    def __init__(self, filters: int, kernel_size: int, **kwargs):
        groups = kwargs.get("groups", 1)
        if groups != filters:
            raise ValueError(
                "Expected `groups` to equal `filters` (a depthwise conv). "
                f"Received: filters={filters}, groups={groups}"
            )
        if kwargs.get("padding") == "causal":
            raise ValueError(
                "Expected `padding` to be 'valid' or 'same'. Received: padding='causal'"
            )
        super().__init__(filters, kernel_size, **kwargs)

    def call(self, inputs):
        kernel_size, _, channels = self.kernel.shape
        # (k, 1, channels) -> (k, channels, 1): the same element order, as a depthwise kernel.
        depthwise_kernel = ops.reshape(self.kernel, (kernel_size, channels, 1))
        outputs = ops.depthwise_conv(
            inputs,
            depthwise_kernel,
            strides=self.strides,
            padding=self.padding,
            data_format=self.data_format,
            dilation_rate=self.dilation_rate,
        )
        if self.use_bias:
            channel_axis = -1 if self.data_format == "channels_last" else 1
            bias_shape = [1, 1, 1]
            bias_shape[channel_axis] = channels
            outputs = outputs + ops.reshape(self.bias, tuple(bias_shape))
        if self.activation is not None:
            outputs = self.activation(outputs)
        return outputs


@keras.saving.register_keras_serializable(package="tf_attention")
class DepthPointwiseConv1D(layers.Layer):
    """A depthwise Conv1D (kernel `k`, zero padding `k // 2`; identity for `k = 1`) then a 1x1 Conv1D.

    Mirrors torch `Depth_Pointwise_Conv1d` (attributes `depth_conv`, `pointwise_conv`), channels
    last. For odd `k` at stride 1, torch's `padding=k // 2` equals Keras' `"same"`.

    Args:
        in_ch: Input channels (also the depthwise conv's channels).
        out_ch: Output channels of the pointwise conv.
        k: Depthwise kernel size, odd.
        **kwargs: Base layer keyword arguments, such as `name` and `dtype`.

    Input shape:
        3D tensor `(batch, steps, in_ch)`.

    Output shape:
        3D tensor `(batch, steps, out_ch)`.
    """

    def __init__(self, in_ch: int, out_ch: int, k: int, **kwargs):
        check_positive_int("in_ch", in_ch)
        check_positive_int("out_ch", out_ch)
        check_positive_int("k", k)
        if k % 2 == 0:
            raise ValueError(
                "Expected `k` to be odd (torch pads k // 2, which keeps the length only for odd "
                f"k). Received: k={k}"
            )
        super().__init__(**kwargs)
        self.in_ch, self.out_ch, self.k = in_ch, out_ch, k
        policy = self.dtype_policy
        if k == 1:
            self.depth_conv = layers.Identity(name="depth_conv", dtype=policy)
        else:
            self.depth_conv = DepthwiseGroupedConv1D(
                in_ch, k, padding="same", groups=in_ch, name="depth_conv", dtype=policy
            )
        self.pointwise_conv = layers.Conv1D(out_ch, 1, name="pointwise_conv", dtype=policy)

    def build(self, input_shape):
        check_rank("DepthPointwiseConv1D", input_shape, 3, "(batch, steps, channels)")
        check_last_axis("DepthPointwiseConv1D", input_shape, self.in_ch, "channels")
        if self.k > 1:
            self.depth_conv.build((None, None, self.in_ch))
        self.pointwise_conv.build((None, None, self.in_ch))

    def call(self, inputs):
        return self.pointwise_conv(self.depth_conv(inputs))

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.out_ch)

    def get_config(self):
        return {**super().get_config(), "in_ch": self.in_ch, "out_ch": self.out_ch, "k": self.k}


@keras.saving.register_keras_serializable(package="tf_attention")
class MUSEAttention(ScaledDotProductAttention):
    """Scaled dot-product attention plus three depthwise-separable convolutions over the values.

    `out = fc_o(attention(q, k, v)) + sum_i softmax(dy_paras)[i] * conv_i(v)` with kernels
    1, 3 and 5 over the token axis of the projected values `(batch, nk, h * d_v)`, so nq must
    equal nk. `attention_weights` multiply the scaled logits and `attention_mask` (True = masked)
    sets them to -inf before the softmax.

    Args:
        d_model: Features of the inputs and the output.
        d_k: Features per head of queries and keys.
        d_v: Features per head of values.
        h: Number of heads.
        dropout: Dropout rate on the attention map. Defaults to `0.1`.
        **kwargs: Base layer keyword arguments, such as `name` and `dtype`.

    Input shape:
        `queries`, `keys`, `values` `(batch, N, d_model)` (the same N); `attention_mask` (bool)
        and `attention_weights` broadcastable to `(batch, h, N, N)`.

    Output shape:
        `(batch, N, d_model)`.

    Reference:
        - [Zhao et al., 2019](https://arxiv.org/abs/1911.09483); torch:
          `reference_torch.MUSEAttention`.
    """

    def __init__(self, d_model: int, d_k: int, d_v: int, h: int, dropout: float = 0.1, **kwargs):
        # fc_q, fc_k, fc_v, fc_o and dropout come from ScaledDotProductAttention (the same torch
        # attribute names); the conv branches mirror torch conv1, conv3, conv5.
        super().__init__(d_model, d_k, d_v, h, dropout, **kwargs)
        policy = self.dtype_policy
        self.conv1 = DepthPointwiseConv1D(h * d_v, d_model, 1, name="conv1", dtype=policy)
        self.conv3 = DepthPointwiseConv1D(h * d_v, d_model, 3, name="conv3", dtype=policy)
        self.conv5 = DepthPointwiseConv1D(h * d_v, d_model, 5, name="conv5", dtype=policy)

    def build(
        self,
        queries_shape,
        keys_shape,
        values_shape,
        attention_mask_shape=None,
        attention_weights_shape=None,
    ):
        super().build(queries_shape, keys_shape, values_shape)
        num_queries, num_keys = queries_shape[1], keys_shape[1]
        if None not in (num_queries, num_keys) and num_queries != num_keys:
            raise ValueError(
                "MUSEAttention adds a convolution over the values (one token per key) to the "
                "attention output (one token per query), so it expects as many queries as keys "
                f"(nq == nk). Received: queries_shape={tuple(queries_shape)}, "
                f"keys_shape={tuple(keys_shape)}, values_shape={tuple(values_shape)}"
            )
        for conv in (self.conv1, self.conv3, self.conv5):
            conv.build((None, None, self.h * self.d_v))
        # torch `nn.Parameter(torch.ones(3))`: the three branch logits.
        self.dy_paras = self.add_weight(name="dy_paras", shape=(3,), initializer="ones")

    def call(
        self,
        queries,
        keys,
        values,
        attention_mask=None,
        attention_weights=None,
        training=False,
    ):
        out, values_projected = self.project_and_attend(
            queries, keys, values, attention_mask, attention_weights, training
        )
        # torch's v2 `(B, h * d_v, nk)` channels-first is `values_projected` channels-last.
        branch_weights = ops.softmax(ops.cast(self.dy_paras, out.dtype))  # local (torch fix (c))
        out2 = (
            branch_weights[0] * self.conv1(values_projected)
            + branch_weights[1] * self.conv3(values_projected)
            + branch_weights[2] * self.conv5(values_projected)
        )  # (batch, nk, d_model)
        return out + out2
