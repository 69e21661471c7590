"""Small torch/Keras pairs written for the harness's own tests (a user's port looks like this)."""

from __future__ import annotations

import keras
import torch
from keras import layers, ops
from torch import nn


class ToyTorch(nn.Module):
    """conv 3x3 (bias) -> BN -> ReLU -> NCHW flatten -> Linear: every classic porting trap."""

    def __init__(self, channels: int = 3, height: int = 5, width: int = 4):
        super().__init__()
        self.conv = nn.Conv2d(channels, 6, 3, padding=1)
        self.bn = nn.BatchNorm2d(6)
        self.fc = nn.Linear(6 * height * width, 7)

    def forward(self, x):
        y = torch.relu(self.bn(self.conv(x)))
        return self.fc(y.flatten(1))


class ToyKeras(layers.Layer):
    """The Keras port of `ToyTorch`; the flags reproduce classic porting bugs."""

    def __init__(
        self,
        channels: int = 3,
        height: int = 5,
        width: int = 4,
        *,
        conv_bias: bool = True,
        bn_epsilon: float = 1e-5,
        transpose_before_flatten: bool = True,
        **kwargs,
    ):
        super().__init__(**kwargs)
        policy = self.dtype_policy
        self.transpose_before_flatten = transpose_before_flatten
        self.conv = layers.Conv2D(6, 3, padding="same", use_bias=conv_bias, dtype=policy)
        self.bn = layers.BatchNormalization(epsilon=bn_epsilon, momentum=0.9, dtype=policy)
        self.fc = layers.Dense(7, dtype=policy)
        self.shape_hw = (height, width)

    def build(self, input_shape):
        height, width = self.shape_hw
        self.conv.build(input_shape)
        self.bn.build((None, height, width, 6))
        self.fc.build((None, 6 * height * width))

    def call(self, x, training=False):
        y = ops.relu(self.bn(self.conv(x), training=training))
        if self.transpose_before_flatten:
            y = ops.transpose(y, (0, 3, 1, 2))  # NHWC -> NCHW so the flatten order is torch's
        return self.fc(ops.reshape(y, (ops.shape(y)[0], -1)))


class AllTypesTorch(nn.Module):
    """One module of every layer type the transfer supports, plus a raw parameter."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(4, 6, (3, 5))
        self.grouped = nn.Conv2d(4, 6, 3, groups=2)
        self.depthwise = nn.Conv2d(4, 8, 3, groups=4)
        self.pointwise = nn.Conv2d(4, 6, 1, bias=False)
        self.conv1d = nn.Conv1d(4, 6, 3, groups=2)
        self.linear = nn.Linear(5, 3)
        self.bn1d = nn.BatchNorm1d(5)
        self.bn2d = nn.BatchNorm2d(4)
        self.ln = nn.LayerNorm(5)
        self.gn = nn.GroupNorm(2, 4)
        self.gate = nn.Parameter(torch.zeros(1, 4, 1, 1))


class AllTypesKeras(layers.Layer):
    """The name-aligned Keras mirror of `AllTypesTorch`."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        p = self.dtype_policy
        self.conv = layers.Conv2D(6, (3, 5), dtype=p)
        self.grouped = layers.Conv2D(6, 3, groups=2, dtype=p)
        self.depthwise = layers.DepthwiseConv2D(3, depth_multiplier=2, dtype=p)
        self.pointwise = layers.Dense(6, use_bias=False, dtype=p)
        self.conv1d = layers.Conv1D(6, 3, groups=2, dtype=p)
        self.linear = layers.Dense(3, dtype=p)
        self.bn1d = layers.BatchNormalization(epsilon=1e-5, momentum=0.9, dtype=p)
        self.bn2d = layers.BatchNormalization(epsilon=1e-5, momentum=0.9, dtype=p)
        self.ln = layers.LayerNormalization(epsilon=1e-5, dtype=p)
        self.gn = layers.GroupNormalization(groups=2, epsilon=1e-5, dtype=p)

    def build(self, input_shape=None):
        self.conv.build((None, 8, 8, 4))
        self.grouped.build((None, 8, 8, 4))
        self.depthwise.build((None, 8, 8, 4))
        self.pointwise.build((None, 4))
        self.conv1d.build((None, 8, 4))
        self.linear.build((None, 5))
        self.bn1d.build((None, 5))
        self.bn2d.build((None, 8, 8, 4))
        self.ln.build((None, 5))
        self.gn.build((None, 8, 8, 4))
        self.gate = self.add_weight(name="gate", shape=(4,), initializer="zeros")


def built(layer: keras.layers.Layer) -> keras.layers.Layer:
    """Build a layer whose `build` needs no input shape."""
    layer.build(None)
    return layer
