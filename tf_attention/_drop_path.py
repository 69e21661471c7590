"""DropPath: timm's per-sample stochastic depth, for the ports whose torch reference uses it."""

from __future__ import annotations

import keras
from keras import layers, ops

from tf_attention._checks import check_probability


@keras.saving.register_keras_serializable(package="tf_attention")
class DropPath(layers.Layer):
    """Zeroes a whole sample with probability `rate` in training and divides the kept samples by
    `1 - rate` (timm's `DropPath` with `scale_by_keep=True`); the identity in inference.

    Args:
        rate: Probability of dropping a sample. Defaults to `0.0`.
        seed: Optional seed of the random draws.
        **kwargs: Base layer keyword arguments, such as `name` and `dtype`.

    Input shape:
        Any, batch first.

    Output shape:
        Same as the input.
    """

    def __init__(self, rate: float = 0.0, seed: int | None = None, **kwargs):
        check_probability("rate", rate)
        super().__init__(**kwargs)
        self.rate, self.seed = rate, seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, inputs, training=False):
        if not training or self.rate == 0:
            return inputs
        keep = 1.0 - self.rate
        shape = (ops.shape(inputs)[0],) + (1,) * (len(inputs.shape) - 1)  # one draw per sample
        kept = ops.cast(
            keras.random.uniform(shape, seed=self.seed_generator, dtype=inputs.dtype) < keep,
            inputs.dtype,
        )
        return inputs * (kept / keep) if keep > 0 else inputs * kept

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "seed": self.seed}
