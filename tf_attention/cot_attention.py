"""CoTAttention: Contextual Transformer attention (Keras 3 port, NHWC)."""

from __future__ import annotations

import keras
from keras import layers, ops

from tf_attention._checks import check_image_shape, check_odd_kernel, check_positive_int


def check_cot_dim(dim: object) -> None:
    """Raise `ValueError` unless `dim` is a positive multiple of 4 (key_embed has groups=4)."""
    check_positive_int("dim", dim)
    if dim % 4:
        raise ValueError(
            "Expected `dim` to be divisible by 4 (key_embed is a grouped conv with groups=4). "
            f"Received: dim={dim!r}"
        )


def _softmax(x, axis):
    """Softmax over `axis` (an int or a tuple), written out: `keras.ops.softmax` warns
    (UserWarning) when the axis has a static size of 1 (a 1x1 image), and the result would be 1
    either way."""
    shifted = x - ops.max(x, axis=axis, keepdims=True)
    exponentials = ops.exp(shifted)
    return exponentials / ops.sum(exponentials, axis=axis, keepdims=True)


def _run(sequence, x, training):
    """Apply a mirrored torch `nn.Sequential` (a list of layers); BN gets `training`."""
    for layer in sequence:
        if isinstance(layer, layers.BatchNormalization):
            x = layer(x, training=training)
        else:
            x = layer(x)
    return x


@keras.saving.register_keras_serializable(package="tf_attention")
class CoTAttention(layers.Layer):
    """Static context from a k x k grouped conv (keys), plus dynamic context: values re-weighted
    by a softmax over positions of an attention map computed from [keys, input].

    Upstream quirk, reproduced: the `k * k * dim` attention map is averaged over its `k * k`
    positions (channel index `c * k * k + j`); no local neighbourhood aggregation takes place.

    Args:
        dim: Number of input channels (a multiple of 4). Defaults to `512`.
        kernel_size: Odd kernel size of the key conv (torch pads `k // 2`). Defaults to `3`.
        **kwargs: Base layer keyword arguments, such as `name` and `dtype`.

    Input shape:
        4D tensor `(batch, height, width, dim)` (NHWC).

    Output shape:
        Same as the input.

    Reference:
        - [Li et al., 2021](https://arxiv.org/abs/2107.12292); torch:
          `reference_torch.CoTAttention`.
    """

    def __init__(self, dim: int = 512, kernel_size: int = 3, **kwargs):
        check_cot_dim(dim)
        check_odd_kernel("kernel_size", kernel_size)
        super().__init__(**kwargs)
        self.dim, self.kernel_size = dim, kernel_size
        hidden = 2 * dim // 4  # upstream's factor = 4
        # Mirrors torch's three nn.Sequential by index: torch key_embed.1 is self.key_embed[1].
        # Odd k, stride 1: torch's padding k//2 is Keras 'same'. Sub-layers get the parent's
        # dtype policy explicitly: Keras 3 does not propagate it.
        policy = self.dtype_policy

        def batch_norm(name):
            return layers.BatchNormalization(epsilon=1e-5, momentum=0.9, name=name, dtype=policy)

        self.key_embed = [
            layers.Conv2D(
                dim,
                kernel_size,
                padding="same",
                groups=4,
                use_bias=False,
                name="key_embed_0",
                dtype=policy,
            ),
            batch_norm("key_embed_1"),
            layers.ReLU(name="key_embed_2", dtype=policy),
        ]
        self.value_embed = [
            layers.Conv2D(dim, 1, use_bias=False, name="value_embed_0", dtype=policy),
            batch_norm("value_embed_1"),
        ]
        self.attention_embed = [
            layers.Conv2D(hidden, 1, use_bias=False, name="attention_embed_0", dtype=policy),
            batch_norm("attention_embed_1"),
            layers.ReLU(name="attention_embed_2", dtype=policy),
            layers.Conv2D(
                kernel_size * kernel_size * dim, 1, name="attention_embed_3", dtype=policy
            ),
        ]

    def build(self, input_shape):
        check_image_shape("CoTAttention", input_shape, self.dim)
        spatial = tuple(input_shape[:-1])
        self.key_embed[0].build(input_shape)
        self.key_embed[1].build(input_shape)
        self.value_embed[0].build(input_shape)
        self.value_embed[1].build(input_shape)
        hidden = 2 * self.dim // 4
        self.attention_embed[0].build((*spatial, 2 * self.dim))
        self.attention_embed[1].build((*spatial, hidden))
        self.attention_embed[3].build((*spatial, hidden))

    def call(self, inputs, training=False):
        shape = ops.shape(inputs)
        batch, height, width = shape[0], shape[1], shape[2]
        k1 = _run(self.key_embed, inputs, training)  # (batch, H, W, C): static context
        v = _run(self.value_embed, inputs, training)  # (batch, H, W, C)
        y = ops.concatenate([k1, inputs], axis=-1)  # (batch, H, W, 2C): keys first, as torch
        att = _run(self.attention_embed, y, training)  # (batch, H, W, C*k*k)
        # Channel index c*k*k + j (channel-major, as torch's reshape to (B, C, k*k, H, W)): split
        # the last axis into (C, k*k) and average over k*k.
        k_squared = self.kernel_size * self.kernel_size
        att = ops.reshape(att, (batch, height, width, self.dim, k_squared))
        att = ops.mean(att, axis=-1)  # (batch, H, W, C)
        k2 = _softmax(att, axis=(1, 2)) * v  # softmax over the H*W positions, per channel
        return k1 + k2

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "dim": self.dim, "kernel_size": self.kernel_size}
