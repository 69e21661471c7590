"""GlobalFilter: GFNet's learnable global filter in the 2-D Fourier domain (Keras 3 port,
tokens (B, N, C))."""

from __future__ import annotations

import math

import keras
import tensorflow as tf
from keras import layers, ops

from tf_attention._checks import check_positive_int, check_sequence_shape


def token_grid(tokens, spatial_size, h: int, w: int):
    """The `(a, b)` token grid of a call: `spatial_size`, or `a = b = int(sqrt(N))` as upstream.

    With a static N (or a given `spatial_size`) the grid is checked, raising `ValueError` as the
    torch reference does: N = a * b and the half-spectrum `(a, b // 2 + 1)` equals `(h, w)`. With
    an unknown N and no `spatial_size`, `a = b = floor(sqrt(N))` is computed in the graph.
    """
    if spatial_size is None and not isinstance(tokens, int):
        side = ops.cast(ops.floor(ops.sqrt(ops.cast(tokens, "float64"))), "int32")
        return side, side
    a, b = (math.isqrt(tokens),) * 2 if spatial_size is None else tuple(spatial_size)
    if isinstance(tokens, int) and a * b != tokens:
        raise ValueError(
            "Expected the tokens to fill the (a, b) grid: N = a * b, with a = b = int(sqrt(N)) "
            f"when spatial_size is None. Received: N={tokens}, spatial_size={spatial_size!r}"
        )
    if (a, b // 2 + 1) != (h, w):
        raise ValueError(
            f"Expected the (a, b) = ({a}, {b}) token grid's half-spectrum (a, b // 2 + 1) = "
            f"({a}, {b // 2 + 1}) to match the filter's (h, w). Received: h={h}, w={w}"
        )
    return a, b


@keras.saving.register_keras_serializable(package="tf_attention")
class GlobalFilter(layers.Layer):
    """Multiplies the 2-D real FFT (norm 'ortho') of the token grid by a learnable complex filter
    and transforms back.

    As upstream, the input is cast to float32 before the FFT: a float64 layer computes the
    forward FFT in float32, multiplies by its complex128 filter and transforms back in float64.

    Args:
        dim: Number of features per token.
        h: Filter height; must equal the grid height a. Defaults to `14`.
        w: Filter width; must equal b // 2 + 1 for the grid width b. Defaults to `8`.
        **kwargs: Base layer keyword arguments, such as `name` and `dtype`.

    Call arguments:
        inputs: `(batch, N, dim)`.
        spatial_size: Optional `(a, b)` grid with a * b = N; defaults to sqrt(N) x sqrt(N).

    Output shape:
        Same as the input.

    Reference:
        - [Rao et al., 2021](https://arxiv.org/abs/2107.00645); torch:
          `reference_torch.GlobalFilter`.
    """

    def __init__(self, dim: int, h: int = 14, w: int = 8, **kwargs):
        for name, value in (("dim", dim), ("h", h), ("w", w)):
            check_positive_int(name, value)
        super().__init__(**kwargs)
        self.dim, self.h, self.w = dim, h, w

    def build(self, input_shape):
        check_sequence_shape("input", input_shape, self.dim)
        # Same shape as torch's Parameter (h, w, dim, 2): the last axis holds (real, imaginary).
        self.complex_weight = self.add_weight(
            name="complex_weight",
            shape=(self.h, self.w, self.dim, 2),
            initializer=keras.initializers.RandomNormal(stddev=0.02),
        )

    def call(self, inputs, spatial_size=None, training=False):
        tokens = ops.shape(inputs)[1]  # a Python int when static, else a scalar tensor
        a, b = token_grid(tokens, spatial_size, self.h, self.w)
        grid = ops.reshape(inputs, (-1, a, b, self.dim))  # (B, a, b, C)
        # Upstream casts to float32 here, whatever the input dtype; a float64 layer keeps its
        # complex128 filter, so the product is promoted back, as torch does.
        grid = ops.cast(grid, "float32")
        # Raw tf.signal: keras.ops has no rfft2/irfft2, and TF's act on the last two axes.
        spectrum = tf.signal.rfft2d(ops.transpose(grid, (0, 3, 1, 2)))  # (B, C, a, b//2+1)
        # (h, w, C, 2) -> complex (C, h, w) from its (real, imaginary) pair. Not a bitcast
        # (faster, but it has no gradient: the filter could not be trained); float64 ->
        # complex128.
        weight = self.complex_weight.value
        weight = ops.cast(weight, "float64" if weight.dtype == "float64" else "float32")
        weight = ops.transpose(weight, (3, 2, 0, 1))  # (2, C, h, w)
        weight = tf.complex(weight[0], weight[1])
        spectrum = tf.cast(spectrum, weight.dtype) * weight
        # norm='ortho' scales both transforms by 1/sqrt(a*b); TF's pair scales only the inverse,
        # by 1/(a*b): the same product, so no rescaling is needed.
        grid = tf.signal.irfft2d(spectrum, fft_length=tf.stack([a, b]))  # (B, C, a, b)
        return ops.reshape(ops.transpose(grid, (0, 2, 3, 1)), (-1, a * b, self.dim))

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "dim": self.dim, "h": self.h, "w": self.w}
