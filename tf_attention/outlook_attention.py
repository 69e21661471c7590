"""OutlookAttention: VOLO's outlook attention (Keras 3 port, channels-last (B, H, W, C))."""

from __future__ import annotations

import keras
from keras import layers, ops

from tf_attention._checks import check_positive_int, check_probability

# The only (kernel_size, padding, stride) upstream's forward runs with.
SUPPORTED_WINDOW = (3, 1, 1)
# The 3 x 3 window offsets (row, column), in torch's unfold order: offset index = 3 * row + column.
WINDOW_OFFSETS = tuple((row, column) for row in range(3) for column in range(3))


def check_outlook_window(kernel_size: object, padding: object, stride: object) -> None:
    """Raise `ValueError` unless (kernel_size, padding, stride) == (3, 1, 1), and say why."""
    window = (kernel_size, padding, stride)
    if window != SUPPORTED_WINDOW or any(type(value) is not int for value in window):
        raise ValueError(
            "OutlookAttention supports only kernel_size=3, padding=1, stride=1: upstream builds "
            "`nn.Unfold(kernel_size, padding, stride)` positionally, so its unfold gets "
            "dilation=padding and padding=stride, and every other combination fails in "
            "upstream's forward (a reshape, dilation or unfold size error). "
            f"Received: kernel_size={kernel_size!r}, padding={padding!r}, stride={stride!r}"
        )


def check_num_heads(dim: object, num_heads: object) -> None:
    """Raise `ValueError` unless `dim` and `num_heads` are positive and `num_heads` divides `dim`."""
    check_positive_int("dim", dim)
    check_positive_int("num_heads", num_heads)
    if dim % num_heads:
        raise ValueError(
            "Expected `num_heads` to divide `dim` (each head takes dim // num_heads channels). "
            f"Received: dim={dim!r}, num_heads={num_heads!r}"
        )


def unfold_3x3(images):
    """torch `nn.Unfold(3, padding=1)` in channels-last form: `(B, H, W, C) -> (B, H, W, 9, C)`.

    Output `[b, y, x, 3 * i + j, c]` is the input at `(y + i - 1, x + j - 1)`, zero outside.
    Nine shifted views of the zero-padded input, stacked: faster on CPU than
    `extract_patches`, and it needs no static H or W (the slices end at negative offsets).
    """
    padded = ops.pad(images, ((0, 0), (1, 1), (1, 1), (0, 0)))  # (B, H + 2, W + 2, C)
    return ops.stack(
        [
            padded[:, row : (row - 2) or None, column : (column - 2) or None, :]
            for row, column in WINDOW_OFFSETS
        ],
        axis=3,
    )


def fold_3x3(windows):
    """torch `F.fold(kernel_size=3, padding=1)` (overlap-add) in channels-last form:
    `(B, H, W, 9, C) -> (B, H, W, C)`.

    Output `[b, y, x, c]` sums `windows[b, y - i + 1, x - j + 1, 3 * i + j, c]` over the offsets
    whose source pixel lies inside the image (TF has no fold op). Nine shifted views of the
    zero-padded windows, added: exact, and the fastest of the variants measured (a one-hot
    `conv_transpose` over (B*C, H, W, 9) was ~8x slower).
    """
    padded = ops.pad(windows, ((0, 0), (1, 1), (1, 1), (0, 0), (0, 0)))  # (B, H+2, W+2, 9, C)
    terms = [
        padded[:, 2 - row : (-row) or None, 2 - column : (-column) or None, 3 * row + column, :]
        for row, column in WINDOW_OFFSETS
    ]
    return sum(terms[1:], terms[0])


@keras.saving.register_keras_serializable(package="tf_attention")
class OutlookAttention(layers.Layer):
    """Each pixel predicts a 9 x 9 attention over its 3 x 3 neighbourhood of projected values;
    the weighted windows are summed back into the image (fold) and projected.

    Args:
        dim: Number of input and output channels (last axis).
        num_heads: Number of heads; must divide `dim`. Defaults to `1`.
        kernel_size: Window size; only `3` runs upstream (any other value raises). Defaults to `3`.
        padding: Window padding; only `1` runs upstream. Defaults to `1`.
        stride: Window stride; only `1` runs upstream. Defaults to `1`.
        qkv_bias: Whether the value projection `v_pj` has a bias. Defaults to `False`.
        attn_drop: Dropout rate on the attention map and, as upstream, after `proj`.
            Defaults to `0.1`.
        **kwargs: Base layer keyword arguments, such as `name` and `dtype`.

    Input shape:
        4D tensor `(batch, height, width, dim)` (channels-last, as the torch reference).

    Output shape:
        Same as the input.

    Reference:
        - [Yuan et al., 2021](https://arxiv.org/abs/2106.13112); torch:
          `reference_torch.OutlookAttention`.
    """

    def __init__(
        self,
        dim: int,
        num_heads: int = 1,
        kernel_size: int = 3,
        padding: int = 1,
        stride: int = 1,
        qkv_bias: bool = False,
        attn_drop: float = 0.1,
        **kwargs,
    ):
        check_num_heads(dim, num_heads)
        check_outlook_window(kernel_size, padding, stride)
        check_probability("attn_drop", attn_drop)
        super().__init__(**kwargs)
        self.dim, self.num_heads = dim, num_heads
        self.kernel_size, self.padding, self.stride = kernel_size, padding, stride
        self.qkv_bias, self.attn_drop_rate = qkv_bias, attn_drop
        self.head_dim = dim // num_heads
        self.scale = self.head_dim ** (-0.5)
        # Mirrors torch v_pj, attn, attn_drop, proj, proj_drop. torch's `unflod` (nn.Unfold) and
        # `pool` (AvgPool2d(1), the identity at stride 1) have no weights: done in `call`.
        policy = self.dtype_policy
        self.v_pj = layers.Dense(dim, use_bias=bool(qkv_bias), name="v_pj", dtype=policy)
        self.attn = layers.Dense(kernel_size**4 * num_heads, name="attn", dtype=policy)
        self.attn_drop = layers.Dropout(attn_drop, name="attn_drop", dtype=policy)
        self.proj = layers.Dense(dim, name="proj", dtype=policy)
        self.proj_drop = layers.Dropout(attn_drop, name="proj_drop", dtype=policy)

    def build(self, input_shape):
        if len(input_shape) != 4 or input_shape[-1] != self.dim:
            raise ValueError(
                "OutlookAttention expects a 4D channels-last input "
                f"(batch, height, width, {self.dim}). Received: input_shape={tuple(input_shape)}"
            )
        for projection in (self.v_pj, self.attn, self.proj):
            projection.build((None, None, None, self.dim))

    def call(self, inputs, training=False):
        shape = ops.shape(inputs)
        batch, height, width = shape[0], shape[1], shape[2]
        tokens = height * width  # L: one window per pixel at stride 1
        heads, head_dim = self.num_heads, self.head_dim

        # Values of every 3 x 3 window, channel c = head * head_dim + d (torch's channel-major
        # unfold split head-major): (B, L, 9 offsets j, heads, head_dim).
        values = unfold_3x3(self.v_pj(inputs))
        values = ops.reshape(values, (batch, tokens, 9, heads, head_dim))

        # Attention per pixel: the Linear output splits head-major, then destination offset i,
        # then source offset j; heads move before the tokens as in torch (B, heads, L, 9, 9).
        attention = ops.reshape(self.attn(inputs), (batch, tokens, heads, 9, 9))
        attention = ops.transpose(attention, (0, 2, 1, 3, 4))
        attention = ops.softmax(attention * self.scale, axis=-1)  # over source offsets j
        attention = self.attn_drop(attention, training=training)

        # Weighted windows (B, L, 9 offsets i, heads, head_dim), then overlap-add (fold).
        windows = ops.einsum("bnlij,bljnd->blind", attention, values)
        windows = ops.reshape(windows, (batch, height, width, 9, self.dim))
        out = self.proj(fold_3x3(windows))  # (B, H, W, dim)
        return self.proj_drop(out, training=training)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {
            **super().get_config(),
            "dim": self.dim,
            "num_heads": self.num_heads,
            "kernel_size": self.kernel_size,
            "padding": self.padding,
            "stride": self.stride,
            "qkv_bias": self.qkv_bias,
            "attn_drop": self.attn_drop_rate,
        }
