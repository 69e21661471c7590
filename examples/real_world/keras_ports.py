"""Keras ports of `examples.real_world.timm_style`, written the way most existing Keras code is:
sub-layers get no `dtype` (the harness builds them under the requested policy), keras-hub style
names for the attention (`query_dense`, ...; aligned by a name map), and each correct port has
planted bugs beside it that the default `parity check` catches and localises.

    parity check examples.real_world.timm_style:StemBlock \\
        examples.real_world.keras_ports:StemBlock --init '{"in_channels": 3, "channels": 8}' \\
        --input-shape 2,3,8,8
"""

from __future__ import annotations

import keras
from keras import layers, ops

import parity

# ---------------------------------------------------------------------------------------------
# StemBlock: TF 'same' padding is what timm's Conv2dSame computes; BN with the ReLU fused in.


class BatchNormAct(layers.BatchNormalization):
    """BatchNormalization with the activation fused in, mirroring timm's BatchNormAct2d."""

    def __init__(self, activation="relu", **kwargs):
        super().__init__(epsilon=1e-5, momentum=0.9, **kwargs)
        self.fused_activation = keras.activations.get(activation)

    def call(self, inputs, training=False):
        return self.fused_activation(super().call(inputs, training=training))


@keras.saving.register_keras_serializable(package="examples")
class StemBlock(layers.Layer):
    """Conv (stride 2, 'same') -> BN + ReLU -> conv ('same'), plus the residual."""

    activation = "relu"

    def __init__(self, in_channels: int = 3, channels: int = 8, **kwargs):
        super().__init__(**kwargs)
        self.in_channels, self.channels = in_channels, channels
        self.conv1 = self.first_conv(channels)
        self.bn1 = BatchNormAct(self.activation)
        self.conv2 = layers.Conv2D(channels, 3, padding="same")

    def first_conv(self, channels):
        """The strided conv: TF 'same' pads like Conv2dSame (the extra pixel at the end)."""
        return layers.Conv2D(channels, 3, strides=2, padding="same")

    def call(self, x, training=False):
        x = self.bn1(self.conv1(x), training=training)
        return self.conv2(x) + x

    def get_config(self):
        return {**super().get_config(), "in_channels": self.in_channels, "channels": self.channels}


class StemSymmetricPad(StemBlock):
    """Bug: pads one pixel on every side, as torch's `padding=1` would; Conv2dSame pads only at
    the end for stride 2 on an even size."""

    def first_conv(self, channels):
        return layers.Conv2D(channels, 3, strides=2, padding="valid")

    def call(self, x, training=False):
        x = self.bn1(self.conv1(ops.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))), training=training)
        return self.conv2(x) + x


class StemReLU6(StemBlock):
    """Bug: ReLU6 for ReLU; invisible on unit-scale inputs, caught by the large-input variant."""

    activation = "relu6"


class StemKerasEpsilon(StemBlock):
    """Bug: Keras' default BatchNormalization epsilon (1e-3) where torch has 1e-5."""

    def __init__(self, in_channels: int = 3, channels: int = 8, **kwargs):
        super().__init__(in_channels, channels, **kwargs)
        self.bn1.epsilon = 1e-3


# ---------------------------------------------------------------------------------------------
# NormMlpBlock: a LayerNorm over the channels (the last axis in NHWC), a channel MLP.


@keras.saving.register_keras_serializable(package="examples")
class NormMlpBlock(layers.Layer):
    """Depthwise 5x5 conv, LayerNorm over channels, Dense -> GELU -> Dense, residual."""

    approximate_gelu = False

    def __init__(self, channels: int = 8, hidden: int = 16, **kwargs):
        super().__init__(**kwargs)
        self.channels, self.hidden = channels, hidden
        self.dwconv = layers.DepthwiseConv2D(5, padding="same")
        self.norm = layers.LayerNormalization(epsilon=1e-6)
        self.fc1 = layers.Dense(hidden)
        self.act = layers.Activation(
            lambda x: keras.activations.gelu(x, approximate=self.approximate_gelu)
        )
        self.fc2 = layers.Dense(channels)

    def mlp(self, x):
        """The channel MLP on an NHWC map."""
        return self.fc2(self.act(self.fc1(x)))

    def call(self, x, training=False):
        return x + self.mlp(self.norm(self.dwconv(x)))

    def get_config(self):
        return {**super().get_config(), "channels": self.channels, "hidden": self.hidden}


class NormMlpKerasEpsilon(NormMlpBlock):
    """Bug: Keras' default LayerNormalization epsilon (1e-3) where timm's LayerNorm2d has 1e-6."""

    def __init__(self, channels: int = 8, hidden: int = 16, **kwargs):
        super().__init__(channels, hidden, **kwargs)
        self.norm.epsilon = 1e-3


class NormMlpTanhGelu(NormMlpBlock):
    """Bug: the tanh approximation of GELU where torch's nn.GELU() is exact."""

    approximate_gelu = True


class NormMlpSquareOnly(NormMlpBlock):
    """Bug: flattens the pixels for the MLP and restores them as (W, H): right only when H == W."""

    def mlp(self, x):
        batch, height, width = ops.shape(x)[0], ops.shape(x)[1], ops.shape(x)[2]
        tokens = ops.reshape(x, (batch, height * width, self.channels))
        out = self.fc2(self.act(self.fc1(tokens)))
        return ops.reshape(out, (batch, width, height, self.channels))


# ---------------------------------------------------------------------------------------------
# Attention: keras-hub style separate query/key/value layers; aligned by the name map
# examples/real_world/attention_name_map.json ({"qkv": split into the three, "proj": ...}).


@keras.saving.register_keras_serializable(package="examples")
class Attention(layers.Layer):
    """Multi-head self-attention over (batch, tokens, dim) with separate q/k/v projections."""

    def __init__(self, dim: int = 16, num_heads: int = 4, **kwargs):
        super().__init__(**kwargs)
        self.dim, self.num_heads = dim, num_heads
        self.query_dense = layers.Dense(dim)
        self.key_dense = layers.Dense(dim)
        self.value_dense = layers.Dense(dim)
        self.output_dense = layers.Dense(dim)

    def heads(self, x):
        """(batch, tokens, dim) -> (batch, heads, tokens, head_dim)."""
        batch, tokens = ops.shape(x)[0], ops.shape(x)[1]
        x = ops.reshape(x, (batch, tokens, self.num_heads, self.dim // self.num_heads))
        return ops.transpose(x, (0, 2, 1, 3))

    def scale(self) -> float:
        """The query scale, 1/sqrt(head_dim)."""
        return (self.dim // self.num_heads) ** -0.5

    def call(self, x):
        q, k, v = (self.heads(d(x)) for d in (self.query_dense, self.key_dense, self.value_dense))
        weights = ops.softmax(ops.matmul(q * self.scale(), ops.transpose(k, (0, 1, 3, 2))), -1)
        out = ops.transpose(ops.matmul(weights, v), (0, 2, 1, 3))
        return self.output_dense(ops.reshape(out, (ops.shape(x)[0], ops.shape(x)[1], self.dim)))

    def get_config(self):
        return {**super().get_config(), "dim": self.dim, "num_heads": self.num_heads}


class AttentionHeadOrder(Attention):
    """Bug: splits each projection as (head_dim, heads) instead of (heads, head_dim)."""

    def heads(self, x):
        batch, tokens = ops.shape(x)[0], ops.shape(x)[1]
        x = ops.reshape(x, (batch, tokens, self.dim // self.num_heads, self.num_heads))
        return ops.transpose(x, (0, 3, 1, 2))


class AttentionModelScale(Attention):
    """Bug: scales by 1/sqrt(dim) instead of 1/sqrt(head_dim)."""

    def scale(self) -> float:
        return self.dim**-0.5


# ---------------------------------------------------------------------------------------------
# AffineHead: a layer type of the user's own (ScaleShift -> ChannelAffine) needs a converter, and
# torch's `norm_layer=nn.LayerNorm` class has no Keras equivalent: the sides take different
# arguments (--torch-init / --keras-init).


@keras.saving.register_keras_serializable(package="examples")
class ChannelAffine(layers.Layer):
    """`x * gamma + beta` over the channels (NHWC); torch's `ScaleShift` names them weight/bias."""

    def __init__(self, epsilon: float = 0.0, **kwargs):
        super().__init__(**kwargs)
        self.epsilon = epsilon

    def build(self, input_shape):
        self.gamma = self.add_weight(name="gamma", shape=(input_shape[-1],), initializer="ones")
        self.beta = self.add_weight(name="beta", shape=(input_shape[-1],), initializer="zeros")

    def call(self, x):
        return x * (self.gamma + self.epsilon) + self.beta


@keras.saving.register_keras_serializable(package="examples")
class AffineHead(layers.Layer):
    """Dense -> LayerNormalization or nothing (`norm`) -> ChannelAffine, on NHWC."""

    def __init__(self, dim: int = 8, norm: str = "layer_norm", **kwargs):
        super().__init__(**kwargs)
        self.dim, self.norm_name = dim, norm
        self.fc = layers.Dense(dim)
        self.norm = layers.LayerNormalization(epsilon=1e-5) if norm == "layer_norm" else None
        self.affine = ChannelAffine()

    def call(self, x):
        y = self.fc(x)
        return self.affine(self.norm(y) if self.norm is not None else y)

    def get_config(self):
        return {**super().get_config(), "dim": self.dim, "norm": self.norm_name}


def _scale_shift_audit(torch_layer, keras_layer) -> list[str]:
    if float(torch_layer.eps) != float(keras_layer.epsilon):
        return [f"eps: torch {torch_layer.eps:g} vs Keras epsilon {keras_layer.epsilon:g}"]
    return []


def _identity(array):
    return array


# The converter for the user's own layer type, from Python (`converters=CONVERTERS`) or the CLI
# (`--converters examples.real_world.keras_ports:CONVERTERS`).
CONVERTERS = [
    parity.Converter(
        torch_type="examples.real_world.timm_style:ScaleShift",
        keras_type=ChannelAffine,
        tensors=[
            parity.TensorMap("weight", "gamma", to_keras=_identity, to_torch=_identity),
            parity.TensorMap("bias", "beta", to_keras=_identity, to_torch=_identity),
        ],
        audit=_scale_shift_audit,
    )
]
