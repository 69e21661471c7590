"""MobileViTAttention: MobileViT block, local convs + a transformer over patches (Keras 3 port,
NHWC)."""

from __future__ import annotations

import keras
from keras import layers, ops

from tf_attention._checks import check_image_shape, check_odd_kernel, check_positive_int
from tf_attention.scaled_dot_product_attention import softmax_last_axis

# Upstream hard-codes the inner transformer, whatever `dim` is.
_DEPTH, _HEADS, _HEAD_DIM, _MLP_DIM, _DROPOUT = 3, 8, 64, 1024, 0.0


def check_mobilevit_args(in_channel, dim, kernel_size, patch_size) -> None:
    """The constructor checks, word for word the torch reference's messages."""
    check_positive_int("in_channel", in_channel)
    check_positive_int("dim", dim)
    check_odd_kernel("kernel_size", kernel_size)
    check_positive_int("patch_size", patch_size)


class PreNorm(layers.Layer):
    """`fn(LayerNormalization(x))` over the last axis (torch `PreNorm`: `ln`, `fn`)."""

    def __init__(self, dim: int, fn: layers.Layer, **kwargs):
        super().__init__(**kwargs)
        self.ln = layers.LayerNormalization(
            epsilon=1e-5, name=f"{self.name}_ln", dtype=self.dtype_policy
        )
        self.fn = fn

    def build(self, input_shape):
        self.ln.build(input_shape)
        self.fn.build(input_shape)

    def call(self, inputs):
        return self.fn(self.ln(inputs))


class FeedForward(layers.Layer):
    """`Dense(mlp_dim), SiLU, Dropout, Dense(dim), Dropout` (torch `FeedForward.net`)."""

    def __init__(self, dim: int, mlp_dim: int, dropout: float, **kwargs):
        super().__init__(**kwargs)
        self.dim, self.mlp_dim = dim, mlp_dim
        policy, prefix = self.dtype_policy, f"{self.name}_net"
        self.net = [
            layers.Dense(mlp_dim, name=f"{prefix}_0", dtype=policy),
            layers.Activation("silu", name=f"{prefix}_1", dtype=policy),
            layers.Dropout(dropout, name=f"{prefix}_2", dtype=policy),
            layers.Dense(dim, name=f"{prefix}_3", dtype=policy),
            layers.Dropout(dropout, name=f"{prefix}_4", dtype=policy),
        ]

    def build(self, input_shape):
        self.net[0].build((None, self.dim))
        self.net[3].build((None, self.mlp_dim))

    def call(self, inputs, training=False):
        x = inputs
        for layer in self.net:
            x = layer(x, training=training) if isinstance(layer, layers.Dropout) else layer(x)
        return x


class Attention(layers.Layer):
    """Multi-head self-attention on `(B, P, N, dim)`, over the N patches separately for each of
    the P pixel-in-patch positions (torch `Attention`: `to_qkv`, `to_out = [Dense, Dropout]`)."""

    def __init__(self, dim: int, heads: int, head_dim: int, dropout: float, **kwargs):
        super().__init__(**kwargs)
        self.dim, self.heads, self.head_dim = dim, heads, head_dim
        self.inner_dim = heads * head_dim
        self.scale = head_dim**-0.5
        policy = self.dtype_policy
        self.to_qkv = layers.Dense(
            3 * self.inner_dim, use_bias=False, name=f"{self.name}_to_qkv", dtype=policy
        )
        # Upstream's Identity branch (heads == 1 and head_dim == dim) never happens: heads is 8.
        self.to_out = [
            layers.Dense(dim, name=f"{self.name}_to_out_0", dtype=policy),
            layers.Dropout(dropout, name=f"{self.name}_to_out_1", dtype=policy),
        ]

    def build(self, input_shape):
        self.to_qkv.build((None, self.dim))
        self.to_out[0].build((None, self.inner_dim))

    def call(self, inputs, training=False):
        shape = ops.shape(inputs)
        batch, pixels, patches = shape[0], shape[1], shape[2]
        # (3, B, P, heads, N, head_dim): q, k, v are the three thirds of to_qkv's output, each
        # split head-major ('b p n (h d) -> b p h n d'); one transpose for all three.
        qkv = ops.reshape(
            self.to_qkv(inputs), (batch, pixels, patches, 3, self.heads, self.head_dim)
        )
        qkv = ops.transpose(qkv, (3, 0, 1, 4, 2, 5))
        q, k, v = qkv[0], qkv[1], qkv[2]
        dots = ops.matmul(q, ops.swapaxes(k, -1, -2)) * self.scale  # (B, P, heads, N, N)
        out = ops.matmul(softmax_last_axis(dots), v)  # (B, P, heads, N, head_dim)
        out = ops.reshape(
            ops.transpose(out, (0, 1, 3, 2, 4)), (batch, pixels, patches, self.inner_dim)
        )
        return self.to_out[1](self.to_out[0](out), training=training)


class Transformer(layers.Layer):
    """`depth` pre-norm layers: `out += attention(LN(out))`, `out += ffn(LN(out))`; no final LN.

    `layers` mirrors torch's `ModuleList` of `[PreNorm(Attention), PreNorm(FeedForward)]`.
    """

    def __init__(
        self, dim: int, depth: int, heads: int, head_dim: int, mlp_dim: int, dropout=0.0, **kwargs
    ):
        super().__init__(**kwargs)
        policy = self.dtype_policy
        self.layers = []
        for i in range(depth):
            prefix = f"{self.name}_layers_{i}"
            attention = Attention(
                dim, heads, head_dim, dropout, name=f"{prefix}_0_fn", dtype=policy
            )
            feed_forward = FeedForward(dim, mlp_dim, dropout, name=f"{prefix}_1_fn", dtype=policy)
            self.layers.append(
                [
                    PreNorm(dim, attention, name=f"{prefix}_0", dtype=policy),
                    PreNorm(dim, feed_forward, name=f"{prefix}_1", dtype=policy),
                ]
            )

    def build(self, input_shape):
        for attention, feed_forward in self.layers:
            attention.build(input_shape)
            feed_forward.build(input_shape)

    def call(self, inputs):
        out = inputs
        for attention, feed_forward in self.layers:
            out = out + attention(out)
            out = out + feed_forward(out)
        return out


@keras.saving.register_keras_serializable(package="tf_attention")
class MobileViTAttention(layers.Layer):
    """Local `conv1` (k x k) and `conv2` (1x1 to `dim`), a transformer over patches, `conv3`
    (1x1 back to `in_channel`), then `conv4` (k x k) on `[x, y]`.

    Patchify: `(B, nh*ph, nw*pw, dim) -> (B, ph*pw, nh*nw, dim)`, pixel-in-patch index
    `i*pw + j` first, patch index `a*nw + c` second; attention runs over the patches. The inner
    transformer is fixed, as upstream: depth 3, 8 heads of 64 (inner width 512), MLP 1024,
    dropout 0.

    Args:
        in_channel: Input (and output) channels. Defaults to `3`.
        dim: Transformer width. Defaults to `512`.
        kernel_size: Odd kernel of conv1 and conv4 (torch pads k//2). Defaults to `3`.
        patch_size: Square patch side; H and W must be divisible by it. Defaults to `7`.
        **kwargs: Base layer keyword arguments, such as `name` and `dtype`.

    Input shape:
        4D tensor `(batch, height, width, in_channel)` (NHWC), H and W divisible by
        `patch_size`.

    Output shape:
        Same as the input.

    Reference:
        - [Mehta and Rastegari, 2022](https://arxiv.org/abs/2110.02178); torch:
          `reference_torch.mobilevit_attention.MobileViTAttention`.
    """

    def __init__(
        self,
        in_channel: int = 3,
        dim: int = 512,
        kernel_size: int = 3,
        patch_size: int = 7,
        **kwargs,
    ):
        check_mobilevit_args(in_channel, dim, kernel_size, patch_size)
        super().__init__(**kwargs)
        self.in_channel, self.dim = in_channel, dim
        self.kernel_size, self.patch_size = kernel_size, patch_size
        self.ph = self.pw = patch_size
        policy = self.dtype_policy
        # torch pads k//2 at stride 1 with an odd k: "same". The 1x1 convs are Dense layers.
        self.conv1 = layers.Conv2D(
            in_channel, kernel_size, padding="same", name="conv1", dtype=policy
        )
        self.conv2 = layers.Dense(dim, name="conv2", dtype=policy)
        self.trans = Transformer(
            dim, _DEPTH, _HEADS, _HEAD_DIM, _MLP_DIM, _DROPOUT, name="trans", dtype=policy
        )
        self.conv3 = layers.Dense(in_channel, name="conv3", dtype=policy)
        self.conv4 = layers.Conv2D(
            in_channel, kernel_size, padding="same", name="conv4", dtype=policy
        )

    def build(self, input_shape):
        check_image_shape("MobileViTAttention", input_shape, self.in_channel)
        height, width = input_shape[1], input_shape[2]
        if (height is not None and height % self.ph) or (width is not None and width % self.pw):
            raise ValueError(
                f"Expected H and W divisible by patch_size={self.ph}. "
                f"Received: input_shape={tuple(input_shape)}"
            )
        self.conv1.build((None, None, None, self.in_channel))
        self.conv2.build((None, None, None, self.in_channel))
        self.trans.build((None, self.ph * self.pw, None, self.dim))
        self.conv3.build((None, None, None, self.dim))
        self.conv4.build((None, None, None, 2 * self.in_channel))

    def call(self, inputs, training=None):
        y = self.conv2(self.conv1(inputs))  # (B, H, W, dim)
        batch, height, width = ops.shape(y)[0], ops.shape(y)[1], ops.shape(y)[2]
        ph, pw, dim = self.ph, self.pw, self.dim
        nh, nw = height // ph, width // pw
        # (B, nh, ph, nw, pw, dim) -> (B, ph, pw, nh, nw, dim) -> (B, P, N, dim)
        y = ops.reshape(y, (batch, nh, ph, nw, pw, dim))
        y = ops.reshape(ops.transpose(y, (0, 2, 4, 1, 3, 5)), (batch, ph * pw, nh * nw, dim))
        y = self.trans(y)
        # (B, ph, pw, nh, nw, dim) -> (B, nh, ph, nw, pw, dim) -> (B, H, W, dim)
        y = ops.reshape(y, (batch, ph, pw, nh, nw, dim))
        y = ops.reshape(ops.transpose(y, (0, 3, 1, 4, 2, 5)), (batch, height, width, dim))
        y = self.conv3(y)
        return self.conv4(ops.concatenate([inputs, y], axis=-1))  # x first, as torch

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {
            **super().get_config(),
            "in_channel": self.in_channel,
            "dim": self.dim,
            "kernel_size": self.kernel_size,
            "patch_size": self.patch_size,
        }
