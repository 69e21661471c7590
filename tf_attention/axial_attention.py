"""AxialAttention: multi-head self-attention along each axis of an image (Keras 3 port,
channels-last)."""

from __future__ import annotations

import keras
from keras import layers, ops

from tf_attention._checks import check_positive_int
from tf_attention.scaled_dot_product_attention import softmax_last_axis


def check_heads(dim: int, heads: int, dim_heads: int | None) -> None:
    """Raise `ValueError` unless `heads >= 1` and the per-head width is at least 1."""
    check_positive_int("heads", heads)
    if dim_heads is not None:
        check_positive_int("dim_heads", dim_heads)
    elif dim // heads < 1:
        raise ValueError(
            "Expected `heads` to be at most `dim` when `dim_heads` is None (each head gets "
            f"dim // heads features). Received: dim={dim!r}, heads={heads!r}"
        )


def check_dim_index(dim_index: object, num_dimensions: int) -> None:
    """Raise `ValueError` unless `dim_index` names a non-batch axis of the torch input."""
    total = num_dimensions + 2
    if (
        isinstance(dim_index, bool)
        or not isinstance(dim_index, int)
        or not (1 <= dim_index < total or -total < dim_index <= -1)
    ):
        raise ValueError(
            f"Expected `dim_index` to name a non-batch axis of the {total}D input (1 to "
            f"{total - 1}, or -{total - 1} to -1). Received: dim_index={dim_index!r}, "
            f"num_dimensions={num_dimensions!r}"
        )


class SelfAttention(layers.Layer):
    """Multi-head self-attention on `(rows, T, dim)` tokens, heads split head-major.

    Mirrors torch `SelfAttention`: `to_q` (no bias), `to_kv` (no bias; k is the first half of its
    output, v the second) and `to_out` (with bias).

    Args:
        dim: Token features.
        heads: Number of heads.
        dim_heads: Features per head. Defaults to `dim // heads`.
        **kwargs: Base layer keyword arguments, such as `name` and `dtype`.
    """

    def __init__(self, dim: int, heads: int, dim_heads: int | None = None, **kwargs):
        check_positive_int("dim", dim)
        check_heads(dim, heads, dim_heads)
        super().__init__(**kwargs)
        self.dim, self.heads = dim, heads
        self.dim_heads = (dim // heads) if dim_heads is None else dim_heads
        self.dim_hidden = self.dim_heads * heads
        policy = self.dtype_policy
        self.to_q = layers.Dense(self.dim_hidden, use_bias=False, name="to_q", dtype=policy)
        self.to_kv = layers.Dense(2 * self.dim_hidden, use_bias=False, name="to_kv", dtype=policy)
        self.to_out = layers.Dense(dim, name="to_out", dtype=policy)

    def build(self, input_shape):
        self.to_q.build((None, None, self.dim))
        self.to_kv.build((None, None, self.dim))
        self.to_out.build((None, None, self.dim_hidden))

    def call(self, inputs):
        rows, tokens = ops.shape(inputs)[0], ops.shape(inputs)[1]
        h, e = self.heads, self.dim_heads
        q = ops.reshape(self.to_q(inputs), (rows, tokens, h, e))
        # (rows, T, 2, h, e): index 0 is k, 1 is v (torch chunks the 2*h*e features in halves).
        kv = ops.reshape(self.to_kv(inputs), (rows, tokens, 2, h, e))
        k, v = kv[:, :, 0], kv[:, :, 1]
        dots = ops.einsum("bihe,bjhe->bhij", q, k) * (e**-0.5)  # (rows, heads, T, T)
        out = ops.einsum("bhij,bjhe->bihe", softmax_last_axis(dots), v)  # (rows, T, heads, e)
        return self.to_out(ops.reshape(out, (rows, tokens, self.dim_hidden)))

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.dim)


class PermuteToFrom(layers.Layer):
    """Move axial axis `axis` of a channels-last tensor next to the channels, fold the other axes
    into the rows, apply `fn` to `(rows, T, C)`, and restore the shape and axis order.

    The rows come out in the same order as torch's `PermuteToFrom` on the channels-first (or
    channels-last) tensor, since both keep the other axes in ascending order.

    Args:
        axis: The axial axis of the channels-last input (1 .. rank - 2).
        rank: Rank of the input.
        fn: The layer applied to `(rows, T, C)` (torch attribute `fn`).
        **kwargs: Base layer keyword arguments, such as `name` and `dtype`.
    """

    def __init__(self, axis: int, rank: int, fn: layers.Layer, **kwargs):
        super().__init__(**kwargs)
        self.axis, self.rank = axis, rank
        self.fn = fn
        rest = [a for a in range(rank - 1) if a != axis]
        self.permutation = (*rest, axis, rank - 1)
        self.inverse = tuple(sorted(range(rank), key=lambda i: self.permutation[i]))
        self.identity = self.permutation == tuple(range(rank))

    def build(self, input_shape):
        self.fn.build((None, input_shape[self.axis], input_shape[-1]))

    def call(self, inputs):
        axial = inputs if self.identity else ops.transpose(inputs, self.permutation)
        shape = ops.shape(axial)
        axial = self.fn(ops.reshape(axial, (-1, shape[-2], shape[-1])))
        axial = ops.reshape(axial, shape)
        return axial if self.identity else ops.transpose(axial, self.inverse)

    def compute_output_shape(self, input_shape):
        return input_shape


@keras.saving.register_keras_serializable(package="tf_attention")
class AxialAttention(layers.Layer):
    """Self-attention along each spatial axis of a channels-last tensor; the results are summed
    (or chained).

    No residual and no normalisation: `sum_axial_out=True` returns `sum_i attn_i(x)`, otherwise
    `attn_last(... attn_0(x))`, the axes in ascending order (for images: H, then W).

    The Keras port always takes channels-last input `(batch, *spatial, dim)`. `dim_index` names
    the embedding axis of the torch reference's input and is kept for the same constructor; the
    Keras input is the torch input with that axis moved last, and the computation is the same
    for every `dim_index` (moving the embedding axis keeps the other axes in order). So:
    `dim_index=1` pairs torch NCHW with Keras NHWC (the harness' `"image"` layout);
    `dim_index=-1` (the default) pairs torch `(B, H, W, C)` with the same Keras tensor
    (`"plain"`).

    Args:
        dim: Embedding size (the last axis); divisible by `heads`.
        num_dimensions: Number of spatial axes (2 for images). Defaults to `2`.
        heads: Number of heads. Defaults to `8`.
        dim_heads: Features per head. Defaults to `dim // heads`.
        dim_index: The torch reference's embedding axis (see above). Defaults to `-1`.
        sum_axial_out: Sum the per-axis outputs (True) or apply them in sequence. Defaults to
            `True`.
        **kwargs: Base layer keyword arguments, such as `name` and `dtype`.

    Input shape:
        `(batch, *spatial, dim)` with `num_dimensions` spatial axes (NHWC for images).

    Output shape:
        Same as the input.

    Reference:
        - [Ho et al., 2019](https://arxiv.org/abs/1912.12180); torch:
          `reference_torch.axial_attention.AxialAttention`.
    """

    def __init__(
        self,
        dim: int,
        num_dimensions: int = 2,
        heads: int = 8,
        dim_heads: int | None = None,
        dim_index: int = -1,
        sum_axial_out: bool = True,
        **kwargs,
    ):
        check_positive_int("dim", dim)
        check_positive_int("num_dimensions", num_dimensions)
        check_positive_int("heads", heads)
        if dim % heads != 0:
            raise ValueError(
                "Expected `dim` to be divisible by `heads` (hidden dimension must be divisible "
                f"by number of heads). Received: dim={dim!r}, heads={heads!r}"
            )
        check_dim_index(dim_index, num_dimensions)
        if not isinstance(sum_axial_out, bool):
            raise ValueError(
                f"Expected `sum_axial_out` to be a bool. Received: sum_axial_out={sum_axial_out!r}"
            )
        super().__init__(**kwargs)
        self.dim, self.num_dimensions, self.heads = dim, num_dimensions, heads
        self.dim_heads, self.dim_index, self.sum_axial_out = dim_heads, dim_index, sum_axial_out
        rank = num_dimensions + 2
        policy = self.dtype_policy
        # Mirrors torch `axial_attentions = ModuleList([PermuteToFrom(perm, SelfAttention)])`,
        # one per spatial axis in ascending order: torch axial_attentions.0.fn.to_q is
        # self.axial_attentions[0].fn.to_q.
        self.axial_attentions = [
            PermuteToFrom(
                axis,
                rank,
                SelfAttention(dim, heads, dim_heads, name=f"axial_attentions_{i}_fn", dtype=policy),
                name=f"axial_attentions_{i}",
                dtype=policy,
            )
            for i, axis in enumerate(range(1, rank - 1))
        ]

    def build(self, input_shape):
        rank = self.num_dimensions + 2
        if len(input_shape) != rank or (
            input_shape[-1] is not None and input_shape[-1] != self.dim
        ):
            raise ValueError(
                f"AxialAttention expects a {rank}D channels-last input (batch, *spatial, dim) "
                f"with dim={self.dim} on the last axis. Received: input_shape={tuple(input_shape)}"
            )
        for axial_attention in self.axial_attentions:
            axial_attention.build(input_shape)

    def call(self, inputs, training=None):
        if self.sum_axial_out:
            out = self.axial_attentions[0](inputs)
            for axial_attention in self.axial_attentions[1:]:
                out = out + axial_attention(inputs)
            return out
        out = inputs
        for axial_attention in self.axial_attentions:
            out = axial_attention(out)
        return out

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {
            **super().get_config(),
            "dim": self.dim,
            "num_dimensions": self.num_dimensions,
            "heads": self.heads,
            "dim_heads": self.dim_heads,
            "dim_index": self.dim_index,
            "sum_axial_out": self.sum_axial_out,
        }
