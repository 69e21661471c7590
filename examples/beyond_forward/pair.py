"""A user's pair for the checks beyond the forward: a torch block, its correct Keras port, and
five ports with a bug the eval-mode forward cannot see, each caught by exactly one check:

    parity check examples.beyond_forward.pair:PooledGateTorch \\
        examples.beyond_forward.pair:PooledGate --init '{"channels": 6, "scale": 8.0}' \\
        --input-shape 2,6,16,16 --no-variants --checks all

| port                 | the bug                                           | the check   |
|----------------------|---------------------------------------------------|-------------|
| BatchNormNoTraining  | runs its BatchNormalization with training=False   | training    |
| ConfigForgetsScale   | `get_config` forgets `scale`                      | saved       |
| StopGradientWeights  | a `stop_gradient` on the attention weights        | gradients   |
| StaticSpatialShape   | reads `x.shape[1]` as a Python int                | compiled    |
| HalfSoftmax          | a float16 softmax without torch's upcast and max  | float16     |
"""

from __future__ import annotations

import keras
import torch
from keras import layers, ops
from torch import nn


class PooledGateTorch(nn.Module):
    """conv -> BN -> ReLU, then each channel pooled over the positions with softmax weights of a
    1x1 projection, added back: `y + sum_p softmax_p(scale * proj(y)) * y`."""

    def __init__(self, channels: int = 6, scale: float = 1.0):
        super().__init__()
        self.scale = scale
        self.conv = nn.Conv2d(channels, channels, 3, padding=1)
        self.bn = nn.BatchNorm2d(channels)
        self.proj = nn.Conv2d(channels, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = torch.relu(self.bn(self.conv(x)))
        weights = torch.softmax(self.proj(y).flatten(2) * self.scale, dim=-1)  # over positions
        pooled = (weights * y.flatten(2)).sum(-1)
        return y + pooled[:, :, None, None]


@keras.saving.register_keras_serializable(package="examples")
class PooledGate(layers.Layer):
    """The correct Keras port of `PooledGateTorch` (NHWC)."""

    def __init__(self, channels: int = 6, scale: float = 1.0, **kwargs):
        super().__init__(**kwargs)
        self.channels, self.scale = channels, scale
        policy = self.dtype_policy
        self.conv = layers.Conv2D(channels, 3, padding="same", dtype=policy)
        self.bn = layers.BatchNormalization(epsilon=1e-5, momentum=0.9, dtype=policy)
        self.proj = layers.Dense(channels, dtype=policy)

    def normalize(self, y, training):
        return self.bn(y, training=training)

    def positions(self, y):
        """(batch, H, W, C) -> (batch, H*W, C), sizes read dynamically."""
        shape = ops.shape(y)
        return ops.reshape(y, (shape[0], shape[1] * shape[2], self.channels))

    def softmax(self, logits):
        """Softmax over the positions (axis 1), in float32 at least, as torch's kernels do."""
        low = self.compute_dtype in ("float16", "bfloat16")
        work = ops.cast(logits, "float32") if low else logits
        return ops.cast(ops.softmax(work, axis=1), self.compute_dtype)

    def weights_of(self, y):
        return self.softmax(self.proj(self.positions(y)) * self.scale)

    def call(self, x, training=False):
        y = ops.relu(self.normalize(self.conv(x), training))
        pooled = ops.sum(self.weights_of(y) * self.positions(y), axis=1)
        return y + pooled[:, None, None, :]

    def get_config(self):
        return {**super().get_config(), "channels": self.channels, "scale": self.scale}


@keras.saving.register_keras_serializable(package="examples")
class BatchNormNoTraining(PooledGate):
    """Bug: BatchNormalization always in inference mode, `training` not passed on (code from a
    Keras 2 port that froze it). A bare `self.bn(y)` would be right: Keras 3 hands the outer
    call's `training` to sub-layers through the call context."""

    def normalize(self, y, training):
        return self.bn(y, training=False)


@keras.saving.register_keras_serializable(package="examples")
class ConfigForgetsScale(PooledGate):
    """Bug: `get_config` forgets `scale`: a reloaded model is built with the default 1.0."""

    def get_config(self):
        config = super().get_config()
        config.pop("scale")
        return config


@keras.saving.register_keras_serializable(package="examples")
class StopGradientWeights(PooledGate):
    """Bug: a `stop_gradient` on the attention weights (no gradient reaches `proj`)."""

    def weights_of(self, y):
        return ops.stop_gradient(super().weights_of(y))


@keras.saving.register_keras_serializable(package="examples")
class StaticSpatialShape(PooledGate):
    """Bug: the pixel count from the static shape, a Python int: None in a graph."""

    def positions(self, y):
        return ops.reshape(y, (-1, y.shape[1] * y.shape[2], self.channels))


@keras.saving.register_keras_serializable(package="examples")
class HalfSoftmax(PooledGate):
    """Bug: a hand-written softmax, `exp(x) / sum(exp(x))`, in the compute dtype: exact in
    float32 and float64, but in float16 the sum over the positions overflows (65504) where
    torch's kernel subtracts the maximum and accumulates in float32."""

    def softmax(self, logits):
        exponentials = ops.exp(logits)
        return exponentials / ops.sum(exponentials, axis=1, keepdims=True)
