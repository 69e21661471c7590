"""The Keras port of `examples.my_block_torch`, and a broken port with one realistic mistake.

Sub-layers carry the torch attribute names (`conv`, `norm`, `gate.fc1`, `gate.fc2`), so
`parity` can copy the weights and localise a difference without any mapping table.
"""

from __future__ import annotations

import keras
from keras import layers, ops


class SqueezeGate(layers.Layer):
    """Channel gate from the spatial mean (NHWC): Dense -> ReLU -> Dense -> sigmoid."""

    def __init__(self, channels: int, hidden: int, **kwargs):
        super().__init__(**kwargs)
        self.channels, self.hidden = channels, hidden
        self.fc1 = layers.Dense(hidden, dtype=self.dtype_policy, name="fc1")
        self.fc2 = layers.Dense(channels, dtype=self.dtype_policy, name="fc2")

    def build(self, input_shape):
        self.fc1.build((None, self.channels))
        self.fc2.build((None, self.hidden))

    def activation(self, logits):
        """The gate's squashing function."""
        return ops.sigmoid(logits)

    def call(self, x):
        pooled = ops.mean(x, axis=(1, 2))  # (batch, channels): mean over H, W
        return self.activation(self.fc2(ops.relu(self.fc1(pooled))))[:, None, None, :]


class BrokenSqueezeGate(SqueezeGate):
    """The classic slip: Keras' `hard_sigmoid` where torch has `sigmoid`."""

    def activation(self, logits):
        return ops.hard_sigmoid(logits)


@keras.saving.register_keras_serializable(package="examples")
class GatedConvBlock(layers.Layer):
    """`x + y * gate(y)` with `y = silu(norm(conv(x)))`; NHWC in, NHWC out."""

    gate_class = SqueezeGate

    def __init__(self, channels: int = 16, hidden: int = 8, **kwargs):
        super().__init__(**kwargs)
        self.channels, self.hidden = channels, hidden
        policy = self.dtype_policy
        self.conv = layers.Conv2D(channels, 3, padding="same", use_bias=False, dtype=policy)
        # torch's BatchNorm2d defaults, spelled out (Keras' own are 1e-3 and 0.99).
        self.norm = layers.BatchNormalization(epsilon=1e-5, momentum=0.9, dtype=policy)
        self.gate = self.gate_class(channels, hidden, dtype=policy, name="gate")

    def build(self, input_shape):
        self.conv.build(input_shape)
        self.norm.build((*input_shape[:-1], self.channels))
        self.gate.build((*input_shape[:-1], self.channels))

    def call(self, x, training=False):
        y = ops.silu(self.norm(self.conv(x), training=training))
        return x + y * self.gate(y)

    def get_config(self):
        return {**super().get_config(), "channels": self.channels, "hidden": self.hidden}


@keras.saving.register_keras_serializable(package="examples")
class BrokenGatedConvBlock(GatedConvBlock):
    """`GatedConvBlock` with the broken gate: `parity` names `gate` as the first divergence."""

    gate_class = BrokenSqueezeGate
