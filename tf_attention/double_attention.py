"""DoubleAttention: A²-Net double attention block (Keras 3 port, NHWC)."""

from __future__ import annotations

import keras
from keras import layers, ops

from tf_attention._checks import check_image_shape, check_positive_int


def _softmax(x, axis: int):
    """Softmax over `axis`, written out: `keras.ops.softmax` warns (UserWarning) when that axis has
    a static size of 1, as with batch 1 here, and the result would be 1 either way."""
    shifted = x - ops.max(x, axis=axis, keepdims=True)
    exponentials = ops.exp(shifted)
    return exponentials / ops.sum(exponentials, axis=axis, keepdims=True)


@keras.saving.register_keras_serializable(package="tf_attention")
class DoubleAttention(layers.Layer):
    """Gathers `c_n` global descriptors with one attention map and distributes them back to every
    position with a second one.

    Upstream quirk, reproduced: both softmaxes run over the BATCH axis (upstream calls torch's
    softmax without `dim`, which picks dim 0 of the 3-D maps). Each sample's output therefore
    depends on the other samples in the batch, and with batch 1 both attention maps are 1.

    Args:
        in_channels: Number of input channels.
        c_m: Channels of the gathered features (`convA`) and of the output without reconstruction.
        c_n: Number of global descriptors (`convB`, `convV`).
        reconstruct: Apply the 1x1 `conv_reconstruct` back to `in_channels`. Defaults to `True`.
        **kwargs: Base layer keyword arguments, such as `name` and `dtype`.

    Input shape:
        4D tensor `(batch, height, width, in_channels)` (NHWC).

    Output shape:
        `(batch, height, width, in_channels)`, or `(batch, height, width, c_m)` when
        `reconstruct=False`.

    Reference:
        - [Chen et al., 2018](https://arxiv.org/abs/1810.11579); torch:
          `reference_torch.DoubleAttention`.
    """

    def __init__(self, in_channels: int, c_m: int, c_n: int, reconstruct: bool = True, **kwargs):
        check_positive_int("in_channels", in_channels)
        check_positive_int("c_m", c_m)
        check_positive_int("c_n", c_n)
        if not isinstance(reconstruct, bool):
            raise ValueError(
                f"Expected `reconstruct` to be a bool. Received: reconstruct={reconstruct!r}"
            )
        super().__init__(**kwargs)
        self.in_channels, self.c_m, self.c_n, self.reconstruct = in_channels, c_m, c_n, reconstruct
        # Mirrors torch's 1x1 convs (with bias) by name. Sub-layers get the parent's dtype policy
        # explicitly: Keras 3 does not propagate it.
        policy = self.dtype_policy
        self.convA = layers.Conv2D(c_m, 1, name="convA", dtype=policy)
        self.convB = layers.Conv2D(c_n, 1, name="convB", dtype=policy)
        self.convV = layers.Conv2D(c_n, 1, name="convV", dtype=policy)
        # torch registers `conv_reconstruct` only when reconstruct=True: no variables otherwise.
        self.conv_reconstruct = (
            layers.Conv2D(in_channels, 1, name="conv_reconstruct", dtype=policy)
            if reconstruct
            else None
        )

    def build(self, input_shape):
        check_image_shape("DoubleAttention", input_shape, self.in_channels)
        for conv in (self.convA, self.convB, self.convV):
            conv.build(input_shape)
        if self.conv_reconstruct is not None:
            self.conv_reconstruct.build((*tuple(input_shape[:-1]), self.c_m))

    def call(self, inputs, training=False):
        features = self.convA(inputs)  # (batch, H, W, c_m)
        # parity: softmax over axis 0, the batch axis, as upstream's implicit-dim softmax.
        attention_maps = _softmax(self.convB(inputs), axis=0)  # (batch, H, W, c_n)
        attention_vectors = _softmax(self.convV(inputs), axis=0)  # (batch, H, W, c_n)
        # Step 1, feature gathering over the positions (H, W): (batch, c_n, c_m), the transpose
        # of torch's (B, c_m, c_n) global descriptors.
        descriptors = ops.einsum("bhwn,bhwm->bnm", attention_maps, features)
        # Step 2, feature distribution back to every position: (batch, H, W, c_m).
        out = ops.einsum("bhwn,bnm->bhwm", attention_vectors, descriptors)
        if self.conv_reconstruct is not None:
            out = self.conv_reconstruct(out)
        return out

    def compute_output_shape(self, input_shape):
        channels = self.in_channels if self.reconstruct else self.c_m
        return (*tuple(input_shape[:-1]), channels)

    def get_config(self):
        return {
            **super().get_config(),
            "in_channels": self.in_channels,
            "c_m": self.c_m,
            "c_n": self.c_n,
            "reconstruct": self.reconstruct,
        }
