"""SimAM: a simple, parameter-free attention module (Keras 3 port, NHWC)."""

from __future__ import annotations

import keras
from keras import layers, ops

from tf_attention._checks import check_image_shape, check_positive_int


def check_e_lambda(e_lambda: object) -> None:
    """Raise `ValueError` unless `e_lambda` is a real number >= 0 (bools rejected)."""
    if isinstance(e_lambda, bool) or not isinstance(e_lambda, int | float) or not e_lambda >= 0:
        raise ValueError(
            "Expected `e_lambda` to be a real number >= 0 (it is added to a variance). "
            f"Received: e_lambda={e_lambda!r}"
        )


@keras.saving.register_keras_serializable(package="tf_attention")
class SimAM(layers.Layer):
    """Weights every activation by a sigmoid of its energy: its squared distance to the mean of
    its channel, over the channel's unbiased spatial variance plus `e_lambda`.

    The variance divides by `H * W - 1`, as the reference does; so a 1x1 input gives NaN, as in
    torch. The layer has no weights.

    Args:
        channels: Accepted and ignored, as in the reference (any channel count works).
            Defaults to `None`.
        e_lambda: Regulariser added to the variance. Defaults to `1e-4`.
        **kwargs: Base layer keyword arguments, such as `name` and `dtype`.

    Input shape:
        4D tensor `(batch, height, width, channel)` (NHWC).

    Output shape:
        Same as the input.

    Reference:
        - [Yang et al., 2021](https://proceedings.mlr.press/v139/yang21o.html); torch:
          `reference_torch.SimAM`.
    """

    def __init__(self, channels: int | None = None, e_lambda: float = 1e-4, **kwargs):
        if channels is not None:
            check_positive_int("channels", channels)
        check_e_lambda(e_lambda)
        super().__init__(**kwargs)
        self.channels, self.e_lambda = channels, e_lambda

    def build(self, input_shape):
        check_image_shape("SimAM", input_shape, None)

    def call(self, inputs, training=False):
        shape = ops.shape(inputs)
        # Degrees of freedom of the unbiased variance over the H * W positions (axes 1, 2).
        n = ops.cast(shape[1] * shape[2] - 1, inputs.dtype)
        x_minus_mu_square = ops.square(inputs - ops.mean(inputs, axis=(1, 2), keepdims=True))
        variance = ops.sum(x_minus_mu_square, axis=(1, 2), keepdims=True) / n  # (B, 1, 1, C)
        y = x_minus_mu_square / (4 * (variance + self.e_lambda)) + 0.5
        return inputs * ops.sigmoid(y)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "channels": self.channels, "e_lambda": self.e_lambda}
