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


# ---------------------------------------------------------------------------------------------
# Code written the way real third-party code is (in-place ops, aliases, ties, buffers).


class InplaceChannelGate(nn.Module):
    """CBAM-style channel gate with an in-place ReLU right after `fc1`."""

    def __init__(self, channels: int, hidden: int):
        super().__init__()
        self.fc1 = nn.Conv2d(channels, hidden, 1)
        self.relu = nn.ReLU(inplace=True)
        self.fc2 = nn.Conv2d(hidden, channels, 1)

    def forward(self, x):
        return torch.sigmoid(self.fc2(self.relu(self.fc1(x.mean((2, 3), keepdim=True)))))


class InplaceTorch(nn.Module):
    """`relu(conv(x * gate(x)) + x)`, the residual added and the ReLU applied in place."""

    def __init__(self, channels: int = 8, hidden: int = 4):
        super().__init__()
        self.channel = InplaceChannelGate(channels, hidden)
        self.conv = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x):
        y = self.conv(x * self.channel(x))
        y += x
        return torch.relu_(y)


class InplaceChannelGateKeras(layers.Layer):
    """Keras port of `InplaceChannelGate`; `squash` is the gate's final function."""

    def __init__(self, channels: int, hidden: int, **kwargs):
        super().__init__(**kwargs)
        self.fc1 = layers.Dense(hidden, dtype=self.dtype_policy)
        self.fc2 = layers.Dense(channels, dtype=self.dtype_policy)

    def squash(self, logits):
        return ops.sigmoid(logits)

    def call(self, x):
        pooled = ops.mean(x, axis=(1, 2), keepdims=True)
        return self.squash(self.fc2(ops.relu(self.fc1(pooled))))


class HardChannelGateKeras(InplaceChannelGateKeras):
    """The planted bug: `hard_sigmoid` for `sigmoid`, inside `channel`."""

    def squash(self, logits):
        return ops.hard_sigmoid(logits)


class InplaceKeras(layers.Layer):
    """Keras port of `InplaceTorch` (`gate_class` picks a correct or a broken gate)."""

    gate_class = InplaceChannelGateKeras

    def __init__(self, channels: int = 8, hidden: int = 4, **kwargs):
        super().__init__(**kwargs)
        self.channel = self.gate_class(channels, hidden, dtype=self.dtype_policy)
        self.conv = layers.Conv2D(channels, 3, padding="same", dtype=self.dtype_policy)

    def call(self, x, training=False):
        return ops.relu(self.conv(x * self.channel(x)) + x)


class BrokenInplaceKeras(InplaceKeras):
    """`InplaceKeras` with the broken gate: the culprit is `channel`, not `channel.fc1`."""

    gate_class = HardChannelGateKeras


class ScaledTorch(nn.Module):
    """A Linear scaled by a constant kept as a non-persistent buffer (not in the state_dict)."""

    def __init__(self, features: int = 4):
        super().__init__()
        self.fc = nn.Linear(features, features)
        self.register_buffer("scale", torch.linspace(0.5, 2.0, features), persistent=False)

    def forward(self, x):
        return self.fc(x) * self.scale


class ScaledKeras(layers.Layer):
    """Keras port of `ScaledTorch`: the constant is computed, not a variable."""

    def __init__(self, features: int = 4, **kwargs):
        super().__init__(**kwargs)
        self.features = features
        self.fc = layers.Dense(features, dtype=self.dtype_policy)

    def call(self, x):
        scale = ops.linspace(0.5, 2.0, self.features, dtype=self.compute_dtype)
        return self.fc(x) * scale


class AliasTorch(nn.Module):
    """One Linear reached under two attribute names (`self.second = self.first`)."""

    def __init__(self, features: int = 4):
        super().__init__()
        self.first = nn.Linear(features, features)
        self.second = self.first

    def forward(self, x):
        return self.second(torch.tanh(self.first(x)))


class AliasKeras(layers.Layer):
    """Keras port of `AliasTorch`, aliased the same way."""

    def __init__(self, features: int = 4, **kwargs):
        super().__init__(**kwargs)
        self.first = layers.Dense(features, dtype=self.dtype_policy)
        self.second = self.first

    def call(self, x):
        return self.second(ops.tanh(self.first(x)))


class TiedTorch(nn.Module):
    """Two Linears sharing one weight Parameter (tied weights), separate biases."""

    def __init__(self, features: int = 4):
        super().__init__()
        self.encode = nn.Linear(features, features)
        self.decode = nn.Linear(features, features)
        self.decode.weight = self.encode.weight

    def forward(self, x):
        return self.decode(torch.tanh(self.encode(x)))


class UntiedKeras(layers.Layer):
    """Keras port of `TiedTorch` with two independent Dense layers (the tie not reproduced)."""

    def __init__(self, features: int = 4, **kwargs):
        super().__init__(**kwargs)
        self.encode = layers.Dense(features, dtype=self.dtype_policy)
        self.decode = layers.Dense(features, dtype=self.dtype_policy)

    def call(self, x):
        return self.decode(ops.tanh(self.encode(x)))


class GateTorch(nn.Module):
    """A raw (2, 3) parameter used as a matrix: `x @ gate`."""

    def __init__(self):
        super().__init__()
        self.gate = nn.Parameter(torch.zeros(2, 3))

    def forward(self, x):
        return x @ self.gate


class TransposedGateKeras(layers.Layer):
    """Keras port holding the gate transposed, (3, 2): the elements cannot be moved by reshape."""

    def build(self, input_shape):
        self.gate = self.add_weight(name="gate", shape=(3, 2), initializer="zeros")

    def call(self, x):
        return ops.matmul(x, ops.transpose(self.gate))


class DropoutTorch(nn.Module):
    """Linear then Dropout(p)."""

    def __init__(self, p: float = 0.5):
        super().__init__()
        self.fc = nn.Linear(6, 6)
        self.drop = nn.Dropout(p)

    def forward(self, x):
        return self.drop(self.fc(x))


class DropoutKeras(layers.Layer):
    """Keras port of `DropoutTorch`."""

    def __init__(self, p: float = 0.5, **kwargs):
        super().__init__(**kwargs)
        self.fc = layers.Dense(6, dtype=self.dtype_policy)
        self.drop = layers.Dropout(p, dtype=self.dtype_policy)

    def call(self, x, training=False):
        return self.drop(self.fc(x), training=training)
