"""PSA: Pyramid Split Attention from EPSANet (Keras 3 port, NHWC)."""

from __future__ import annotations

import keras
from keras import layers, ops

from tf_attention._checks import check_image_shape, check_positive_int


def _softmax(x, axis: int):
    """Softmax over `axis`, written out: `keras.ops.softmax` warns (UserWarning) when that axis has
    size 1, as with a single scale (S = 1), and the result would be 1 either way."""
    shifted = x - ops.max(x, axis=axis, keepdims=True)
    exponentials = ops.exp(shifted)
    return exponentials / ops.sum(exponentials, axis=axis, keepdims=True)


@keras.saving.register_keras_serializable(package="tf_attention")
class PSA(layers.Layer):
    """Splits channels into `S` groups, convolves group `i` with kernel `2i + 3` and re-weights the
    groups with SE gates normalised by a softmax over the `S` scales.

    Args:
        channel: Number of input channels (`channel % S == 0`). Defaults to `512`.
        reduction: SE bottleneck ratio (`channel // (S * reduction)` units). Defaults to `4`.
        S: Number of scales (channel groups). Defaults to `4`.
        **kwargs: Base layer keyword arguments, such as `name` and `dtype`.

    Input shape:
        4D tensor `(batch, height, width, channel)` (NHWC).

    Output shape:
        Same as the input.

    Reference:
        - [Zhang et al., 2021](https://arxiv.org/abs/2105.14447); torch: `reference_torch.PSA`.
    """

    def __init__(self, channel: int = 512, reduction: int = 4, S: int = 4, **kwargs):
        check_positive_int("channel", channel)
        check_positive_int("reduction", reduction)
        check_positive_int("S", S)
        if channel % S:
            raise ValueError(
                "Expected `channel` to be divisible by `S` (one channel group per scale). "
                f"Received: S={S!r}, channel={channel!r}"
            )
        if channel // (S * reduction) < 1:
            raise ValueError(
                "Expected `channel // (S * reduction)` to be at least 1 (the SE bottleneck needs "
                f"one unit). Received: reduction={reduction!r}, channel={channel!r}, S={S!r}"
            )
        super().__init__(**kwargs)
        self.channel, self.reduction, self.S = channel, reduction, S
        self.split = channel // S  # channels per scale
        self.hidden = channel // (S * reduction)  # SE bottleneck units
        # Mirrors torch `convs = nn.ModuleList([Conv2d(c', c', 2i+3, padding=i+1), ...])`: odd
        # kernels, stride 1, padding k//2 == 'same'. Sub-layers get the parent's dtype policy
        # explicitly: Keras 3 does not propagate it.
        policy = self.dtype_policy
        self.convs = [
            layers.Conv2D(
                self.split, 2 * (i + 1) + 1, padding="same", name=f"convs_{i}", dtype=policy
            )
            for i in range(S)
        ]
        # Mirrors torch `se_blocks[i] = Sequential(pool, conv1x1, ReLU, conv1x1, Sigmoid)`: the
        # 1x1 convs act on the pooled (batch, c') vector, so they are Dense layers at indices 1, 3.
        self.se_blocks = [
            [
                layers.GlobalAveragePooling2D(name=f"se_blocks_{i}_0", dtype=policy),
                layers.Dense(self.hidden, use_bias=False, name=f"se_blocks_{i}_1", dtype=policy),
                layers.ReLU(name=f"se_blocks_{i}_2", dtype=policy),
                layers.Dense(self.split, use_bias=False, name=f"se_blocks_{i}_3", dtype=policy),
                layers.Activation("sigmoid", name=f"se_blocks_{i}_4", dtype=policy),
            ]
            for i in range(S)
        ]

    def build(self, input_shape):
        check_image_shape("PSA", input_shape, self.channel)
        group_shape = (*tuple(input_shape[:-1]), self.split)
        for conv in self.convs:
            conv.build(group_shape)
        for se_block in self.se_blocks:
            se_block[1].build((None, self.split))
            se_block[3].build((None, self.hidden))

    def call(self, inputs, training=False):
        # Group-major split on the channel axis (-1): group i = channels [i*c', (i+1)*c'), the
        # same channels as torch's view(B, S, C/S, H, W). One conv per scale (different kernels).
        groups = ops.split(inputs, self.S, axis=-1)
        spc_out = [conv(group) for conv, group in zip(self.convs, groups, strict=True)]
        gates = []
        for se_block, features in zip(self.se_blocks, spc_out, strict=True):
            gate = features
            for layer in se_block:
                gate = layer(gate)
            gates.append(gate)  # (batch, c')
        gates = _softmax(ops.stack(gates, axis=1), axis=1)  # (batch, S, c'): over the scales
        gates = ops.reshape(gates, (-1, 1, 1, self.channel))  # group-major (S, c') -> channel
        return ops.concatenate(spc_out, axis=-1) * gates

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {
            **super().get_config(),
            "channel": self.channel,
            "reduction": self.reduction,
            "S": self.S,
        }
