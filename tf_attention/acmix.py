"""ACmix: a mix of local self-attention and convolution sharing 1x1 projections (Keras 3
port, NHWC)."""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf
from keras import layers, ops

from tf_attention._checks import check_image_shape, check_odd_kernel, check_positive_int
from tf_attention.scaled_dot_product_attention import softmax_last_axis


def check_acmix_args(in_planes, out_planes, kernel_att, head, kernel_conv, stride, dilation):
    """The constructor checks, word for word the torch reference's messages."""
    for name, value in (
        ("in_planes", in_planes),
        ("out_planes", out_planes),
        ("head", head),
        ("stride", stride),
    ):
        check_positive_int(name, value)
    if out_planes % head != 0:
        raise ValueError(
            "Expected `out_planes` to be divisible by `head` (each head gets out_planes // head "
            f"channels). Received: out_planes={out_planes!r}, head={head!r}"
        )
    check_odd_kernel("kernel_att", kernel_att)
    if kernel_conv != 3 or isinstance(kernel_conv, bool):
        raise ValueError(
            "Expected `kernel_conv=3`: dep_conv's padding is hard-coded to 1, so any other "
            f"kernel changes the output size. Received: kernel_conv={kernel_conv!r}"
        )
    if dilation != 1 or isinstance(dilation, bool):
        raise ValueError(
            "Expected `dilation=1`: the reflection padding grows with it but the Unfold ignores "
            f"it. Received: dilation={dilation!r}"
        )


def linspace_like_torch(steps, dtype: str):
    """`torch.linspace(-1, 1, steps)` in `dtype`, for a (possibly symbolic) integer `steps`.

    torch's CPU kernel computes `step = 2 / (steps - 1)` in the output dtype, then
    `-1 + step * i` for the first `steps // 2` entries and `1 - step * (steps - 1 - i)` for the
    rest, each in one rounding (the compiler fuses the multiply-add). Doing that arithmetic in
    float64 on the float32-rounded step and rounding once reproduces torch 2.13's float32
    values bit for bit (checked for 1 <= steps <= 64 on an AVX2 CPU); in float64 the values can
    differ from torch's by one unit in the last place (1.1e-16, measured).
    numpy's linspace differs from torch's by up to 6e-8 in float32.
    """
    index = ops.arange(steps, dtype="float64")
    count = ops.cast(steps, "float64")
    step = ops.cast(ops.cast(2.0 / (count - 1.0), dtype), "float64")  # inf for one step
    first_half = -1.0 + step * index
    second_half = 1.0 - step * (count - 1.0 - index)
    values = ops.where(index < ops.floor(count / 2.0), first_half, second_half)
    values = ops.where(count == 1.0, -1.0, values)  # torch returns `start` for one step
    return ops.cast(values, dtype)


def shift_kernel_initializer(shape, dtype=None):
    """dep_conv's init: one-hot shift kernels. Keras kernel `(kc, kc, kc*kc, out)` with
    `kernel[a, b, i, o] = 1` where `i == a * kc + b` (torch `W[o, i, a, b]`)."""
    kernel_size, _, inputs_per_group, _ = shape
    kernel = np.zeros(shape)
    for i in range(inputs_per_group):
        kernel[i // kernel_size, i % kernel_size, i, :] = 1.0
    return ops.convert_to_tensor(kernel, dtype=dtype)


class Softmax(layers.Layer):
    """Softmax over the last axis (the window positions). A layer, not a plain op, only to mirror
    torch's `ACmix.softmax` module, so that a parity report can compare the attention logits;
    `softmax_last_axis` because `keras.ops.softmax` warns on a size-1 axis (kernel_att=1)."""

    def call(self, inputs):
        return softmax_last_axis(inputs)

    def compute_output_shape(self, input_shape):
        return input_shape


@keras.saving.register_keras_serializable(package="tf_attention")
class ACmix(layers.Layer):
    """Shared 1x1 q/k/v projections feed two paths, mixed by learned scalars:
    `rate1 * local_attention + rate2 * shift_convolution`.

    Attention: multi-head self-attention over each `kernel_att x kernel_att` reflect-padded
    window, with a relative position term from `conv_p` applied to a `[x, y]` linspace grid.
    Convolution: `fc` mixes the 3 * head q/k/v maps into kernel_conv^2 maps per head feature,
    then `dep_conv` (grouped by head feature, no bias, initialised to one-hot shift kernels) gives
    `out_planes` channels.

    Args:
        in_planes: Input channels.
        out_planes: Output channels (divisible by `head`).
        kernel_att: Odd attention window. Defaults to `7`.
        head: Number of heads. Defaults to `4`.
        kernel_conv: Shift-convolution kernel; only `3` works. Defaults to `3`.
        stride: Output subsampling; H and W must be divisible by it. Defaults to `1`.
        dilation: Only `1` works. Defaults to `1`.
        **kwargs: Base layer keyword arguments, such as `name` and `dtype`.

    Input shape:
        4D tensor `(batch, height, width, in_planes)` (NHWC), H and W divisible by `stride` and
        larger than `(kernel_att - 1) // 2`.

    Output shape:
        `(batch, height // stride, width // stride, out_planes)`.

    Reference:
        - [Pan et al., 2022](https://arxiv.org/abs/2111.14556); torch:
          `reference_torch.acmix.ACmix`.
    """

    def __init__(
        self,
        in_planes: int,
        out_planes: int,
        kernel_att: int = 7,
        head: int = 4,
        kernel_conv: int = 3,
        stride: int = 1,
        dilation: int = 1,
        **kwargs,
    ):
        check_acmix_args(in_planes, out_planes, kernel_att, head, kernel_conv, stride, dilation)
        super().__init__(**kwargs)
        self.in_planes, self.out_planes, self.kernel_att = in_planes, out_planes, kernel_att
        self.head, self.kernel_conv, self.stride, self.dilation = (
            head,
            kernel_conv,
            stride,
            dilation,
        )
        self.head_dim = out_planes // head
        self.padding_att = (dilation * (kernel_att - 1) + 1) // 2
        policy = self.dtype_policy
        # torch 1x1 Conv2d's conv1, conv2, conv3, conv_p and fc (no bias) act on the last axis:
        # Dense layers.
        self.conv1 = layers.Dense(out_planes, name="conv1", dtype=policy)
        self.conv2 = layers.Dense(out_planes, name="conv2", dtype=policy)
        self.conv3 = layers.Dense(out_planes, name="conv3", dtype=policy)
        self.conv_p = layers.Dense(self.head_dim, name="conv_p", dtype=policy)
        self.fc = layers.Dense(kernel_conv**2, use_bias=False, name="fc", dtype=policy)
        # torch `softmax = nn.Softmax(dim=1)` on (B*head, K*K, h_out, w_out); here on
        # (B*head, h_out, w_out, K*K), the same tensor with axis 1 moved last.
        self.softmax = Softmax(name="softmax", dtype=policy)
        # torch dep_conv: groups = head_dim, padding 1, no bias. At stride 1 padding 1 is
        # "same"; at stride > 1 Keras' "same" pads only after, so the call pads explicitly.
        self.dep_conv = layers.Conv2D(
            out_planes,
            kernel_conv,
            strides=stride,
            padding="same" if stride == 1 else "valid",
            groups=self.head_dim,
            use_bias=False,
            kernel_initializer=shift_kernel_initializer,
            name="dep_conv",
            dtype=policy,
        )

    def build(self, input_shape):
        check_image_shape("ACmix", input_shape, self.in_planes)
        height, width = input_shape[1], input_shape[2]
        if height is not None and width is not None:
            padding = self.padding_att
            if height % self.stride or width % self.stride:
                raise ValueError(
                    f"Expected H and W divisible by `stride` ({self.stride}); the unfold and the "
                    f"strided conv disagree otherwise. Received: H={height}, W={width}, "
                    f"stride={self.stride}; input_shape={tuple(input_shape)}"
                )
            if height <= padding or width <= padding:
                raise ValueError(
                    f"Expected H and W larger than the reflection padding (kernel_att - 1) // 2 = "
                    f"{padding}. Received: H={height}, W={width}, kernel_att={self.kernel_att}; "
                    f"input_shape={tuple(input_shape)}"
                )
        for projection in (self.conv1, self.conv2, self.conv3):
            projection.build((None, None, None, self.in_planes))
        self.conv_p.build((1, None, None, 2))
        self.fc.build((None, self.head_dim, None, 3 * self.head))
        self.dep_conv.build((None, None, None, self.head_dim * self.kernel_conv**2))
        self.rate1 = self.add_weight(
            name="rate1", shape=(1,), initializer=keras.initializers.Constant(0.5)
        )
        self.rate2 = self.add_weight(
            name="rate2", shape=(1,), initializer=keras.initializers.Constant(0.5)
        )

    def _unfold(self, images):
        """Reflect-pad, then every `kernel_att x kernel_att` window at `stride`:
        `(n, H, W, C) -> (n, H // s, W // s, K * K, C)`, window position `i * K + j` (torch
        Unfold's order). Raw `tf.image.extract_patches`: `keras.ops.image.extract_patches`
        builds a `(K*K*C)^2` identity kernel."""
        padding = self.padding_att
        if padding:
            images = ops.pad(
                images, ((0, 0), (padding, padding), (padding, padding), (0, 0)), mode="reflect"
            )
        size, stride = self.kernel_att, self.stride
        patches = tf.image.extract_patches(
            images,
            sizes=(1, size, size, 1),
            strides=(1, stride, stride, 1),
            rates=(1, 1, 1, 1),
            padding="VALID",
        )  # (n, H // s, W // s, K * K * C), order (i, j, c)
        shape = ops.shape(patches)
        return ops.reshape(patches, (shape[0], shape[1], shape[2], size * size, -1))

    def _shift_channels(self, f_all, batch, height, width):
        """fc's `(B, head_dim, H * W, kc^2)` -> dep_conv's input `(B, H, W, head_dim * kc^2)`,
        channel `d * kc^2 + i` (torch's `permute(0, 2, 1, 3)` and reshape)."""
        channels = self.head_dim * self.kernel_conv**2
        return ops.reshape(ops.transpose(f_all, (0, 2, 1, 3)), (batch, height, width, channels))

    def call(self, inputs, training=None):
        batch, height, width = ops.shape(inputs)[0], ops.shape(inputs)[1], ops.shape(inputs)[2]
        head, head_dim, s = self.head, self.head_dim, self.stride
        q, k, v = self.conv1(inputs), self.conv2(inputs), self.conv3(inputs)  # (B, H, W, out)

        # Position encoding: (1, H, W, 2) with channel 0 varying along W, 1 along H.
        loc_w = linspace_like_torch(width, self.compute_dtype)
        loc_h = linspace_like_torch(height, self.compute_dtype)
        grid = ops.stack(
            [
                ops.broadcast_to(loc_w[None, :], (height, width)),
                ops.broadcast_to(loc_h[:, None], (height, width)),
            ],
            axis=-1,
        )
        pe = self.conv_p(grid[None])  # (1, H, W, head_dim)

        # Attention path. Channels split head-major: channel = head * head_dim + d.
        q_att = ops.reshape(q, (batch, height, width, head, head_dim)) * (float(head_dim) ** -0.5)
        q_pe = pe
        if s > 1:
            q_att, q_pe = q_att[:, ::s, ::s], pe[:, ::s, ::s]
        # k and v windows in one pass: (B, h_out, w_out, K*K, 2 * out) -> k, v halves.
        unfold_kv = self._unfold(ops.concatenate([k, v], axis=-1))
        patches_shape = ops.shape(unfold_kv)
        h_out, w_out, window = patches_shape[1], patches_shape[2], patches_shape[3]
        unfold_kv = ops.reshape(unfold_kv, (batch, h_out, w_out, window, 2, head, head_dim))
        unfold_k, unfold_v = unfold_kv[:, :, :, :, 0], unfold_kv[:, :, :, :, 1]
        unfold_rpe = self._unfold(pe)  # (1, h_out, w_out, K*K, head_dim)
        # torch: q * (unfold_k + q_pe - unfold_rpe), summed over head_dim; softmax over K*K.
        relative = unfold_k + q_pe[:, :, :, None, None, :] - unfold_rpe[:, :, :, :, None, :]
        att = ops.einsum("byxhd,byxkhd->bhyxk", q_att, relative)  # (B, head, h_out, w_out, K*K)
        att = self.softmax(ops.reshape(att, (batch * head, h_out, w_out, window)))
        att = ops.reshape(att, (batch, head, h_out, w_out, window))
        out_att = ops.einsum("bhyxk,byxkhd->byxhd", att, unfold_v)
        out_att = ops.reshape(out_att, (batch, h_out, w_out, self.out_planes))

        # Convolution path. torch's fc input is (B, 3 * head, head_dim, H * W) (q heads, k heads,
        # v heads); here (B, head_dim, H * W, 3 * head), so fc is a Dense on the last axis.
        qkv = ops.reshape(
            ops.concatenate([q, k, v], axis=-1), (batch, height * width, 3 * head, head_dim)
        )
        f_all = self.fc(ops.transpose(qkv, (0, 3, 1, 2)))  # (B, head_dim, H * W, kc^2)
        f_conv = self._shift_channels(f_all, batch, height, width)
        if s > 1:
            f_conv = ops.pad(f_conv, ((0, 0), (1, 1), (1, 1), (0, 0)))
        out_conv = self.dep_conv(f_conv)
        return self.rate1 * out_att + self.rate2 * out_conv

    def compute_output_shape(self, input_shape):
        def reduced(size):
            return None if size is None else size // self.stride

        return (input_shape[0], reduced(input_shape[1]), reduced(input_shape[2]), self.out_planes)

    def get_config(self):
        return {
            **super().get_config(),
            "in_planes": self.in_planes,
            "out_planes": self.out_planes,
            "kernel_att": self.kernel_att,
            "head": self.head,
            "kernel_conv": self.kernel_conv,
            "stride": self.stride,
            "dilation": self.dilation,
        }
