"""The two-layer MLP `drop(fc2(drop(act(fc1(x)))))` shared by two ports: ViP's `MLP`
(WeightedPermuteMLP's `reweighting`) and gfnet's `Mlp` (GFNetBlock's `mlp`) compute the same."""

from __future__ import annotations

import math

import keras
from keras import layers, ops

from tf_attention._checks import check_positive_int, check_probability


@keras.saving.register_keras_serializable(package="tf_attention")
def exact_gelu(x):
    """torch `nn.GELU()`: `x * 0.5 * (1 + erf(x / sqrt(2)))`, exact in float64 too.

    Not `keras.activations.gelu`: TF's `tf.nn.gelu(approximate=False)` builds its 1/sqrt(2) with
    `math_ops.cast(0.7071067811865476, dtype)`, which makes a float32 constant first, so in
    float64 it is off by up to 5.0e-9 of the output (measured on [-8, 8] against `math.erf`;
    torch: 2.2e-16, this function: 2.2e-16). The Python float here converts straight to x's dtype.
    """
    return x * 0.5 * (1.0 + ops.erf(x * math.sqrt(0.5)))


def get_activation(activation):
    """`"gelu"` -> `exact_gelu` (torch's `nn.GELU`); anything else -> `keras.activations.get`."""
    if activation == "gelu":
        return exact_gelu
    return keras.activations.get(activation)


@keras.saving.register_keras_serializable(package="tf_attention")
class TwoLayerMlp(layers.Layer):
    """`drop(fc2(drop(act(fc1(x)))))` on the last axis.

    Mirrors torch `MLP` (ViP.py) and `Mlp` (gfnet.py): attributes `fc1`, `act`, `fc2`, `drop`,
    one dropout layer applied twice, as in torch.

    Args:
        in_features: Input features.
        hidden_features: Hidden units of `fc1`.
        out_features: Output features of `fc2`.
        activation: A Keras activation name or callable for `act`. Defaults to `"gelu"`, which
            maps to `exact_gelu` (the erf form of torch `nn.GELU()`, exact in float64).
        drop: Dropout rate after the activation and after `fc2`. Defaults to `0.0`.
        **kwargs: Base layer keyword arguments, such as `name` and `dtype`.

    Input shape:
        `(..., in_features)`.

    Output shape:
        `(..., out_features)`.
    """

    def __init__(
        self,
        in_features: int,
        hidden_features: int,
        out_features: int,
        activation="gelu",
        drop: float = 0.0,
        **kwargs,
    ):
        for name, value in (
            ("in_features", in_features),
            ("hidden_features", hidden_features),
            ("out_features", out_features),
        ):
            check_positive_int(name, value)
        check_probability("drop", drop)
        super().__init__(**kwargs)
        self.in_features, self.hidden_features = in_features, hidden_features
        self.out_features, self.activation, self.drop_rate = out_features, activation, drop
        policy = self.dtype_policy
        self.fc1 = layers.Dense(hidden_features, name="fc1", dtype=policy)
        self.act = layers.Activation(get_activation(activation), name="act", dtype=policy)
        self.fc2 = layers.Dense(out_features, name="fc2", dtype=policy)
        self.drop = layers.Dropout(drop, name="drop", dtype=policy)

    def build(self, input_shape):
        self.fc1.build((None, self.in_features))
        self.fc2.build((None, self.hidden_features))

    def call(self, inputs, training=False):
        hidden = self.drop(self.act(self.fc1(inputs)), training=training)
        return self.drop(self.fc2(hidden), training=training)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.out_features)

    def get_config(self):
        return {
            **super().get_config(),
            "in_features": self.in_features,
            "hidden_features": self.hidden_features,
            "out_features": self.out_features,
            "activation": self.activation,
            "drop": self.drop_rate,
        }
