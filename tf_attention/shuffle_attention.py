"""ShuffleAttention: SA-Net shuffle attention (Keras 3 port, NHWC)."""

from __future__ import annotations

import keras
from keras import layers, ops

from tf_attention._checks import check_image_shape, check_positive_int


@keras.saving.register_keras_serializable(package="tf_attention")
class ShuffleAttention(layers.Layer):
    """Splits channels into `G` groups, gates half of each group by its channel statistics and
    half by its GroupNorm-ed spatial map, then shuffles the channels with 2 groups.

    Args:
        channel: Number of input channels (`channel % (2 * G) == 0`). Defaults to `512`.
        reduction: Unused (kept for the reference's signature). Defaults to `16`.
        G: Number of channel groups. Defaults to `8`.
        **kwargs: Base layer keyword arguments, such as `name` and `dtype`.

    Input shape:
        4D tensor `(batch, height, width, channel)` (NHWC).

    Output shape:
        Same as the input.

    Reference:
        - [Zhang and Yang, 2021](https://arxiv.org/abs/2102.00240); torch:
          `reference_torch.ShuffleAttention`.
    """

    def __init__(self, channel: int = 512, reduction: int = 16, G: int = 8, **kwargs):
        check_positive_int("channel", channel)
        check_positive_int("G", G)
        if channel % (2 * G):
            raise ValueError(
                "Expected `channel` to be divisible by `2 * G` (each group splits into two equal "
                f"halves). Received: G={G!r}, channel={channel!r}"
            )
        super().__init__(**kwargs)
        self.channel, self.reduction, self.G = channel, reduction, G
        self.half = channel // (2 * G)  # c'': channels in each half of a group
        # Mirrors torch `gn = GroupNorm(c'', c'')`: one channel per group, i.e. a per-channel
        # normalisation over H, W of each (batch, group) sample. The dtype policy is passed
        # explicitly: Keras 3 does not propagate it.
        self.gn = layers.GroupNormalization(
            groups=self.half, epsilon=1e-5, name="gn", dtype=self.dtype_policy
        )

    def build(self, input_shape):
        check_image_shape("ShuffleAttention", input_shape, self.channel)
        # Raw torch Parameters (1, c'', 1, 1), stored flat as (c''); same initial values.
        self.cweight = self.add_weight(name="cweight", shape=(self.half,), initializer="zeros")
        self.cbias = self.add_weight(name="cbias", shape=(self.half,), initializer="ones")
        self.sweight = self.add_weight(name="sweight", shape=(self.half,), initializer="zeros")
        self.sbias = self.add_weight(name="sbias", shape=(self.half,), initializer="ones")
        self.gn.build((None, input_shape[1], input_shape[2], self.half))

    def call(self, inputs, training=False):
        shape = ops.shape(inputs)
        batch, height, width = shape[0], shape[1], shape[2]
        # Group-major split of the channel axis: (batch, H, W, G, half, c'') is torch's
        # view(B*G, C/G, H, W) followed by chunk(2, dim=1) (half 0 = channel branch).
        x = ops.reshape(inputs, (batch, height, width, self.G, 2, self.half))
        x_0, x_1 = x[:, :, :, :, 0, :], x[:, :, :, :, 1, :]  # (batch, H, W, G, c'')
        # Channel attention: average over H, W (axes 1, 2) per (batch, group, channel).
        x_channel = ops.mean(x_0, axis=(1, 2), keepdims=True)
        x_channel = x_0 * ops.sigmoid(self.cweight * x_channel + self.cbias)
        # Spatial attention: GroupNorm over H, W per (batch, group, channel). Centring first
        # changes nothing mathematically (GN subtracts the mean again) but keeps float32 exact
        # where the variance is far below epsilon: GN computes `x * inv - mean * inv` with
        # inv ~ 1/sqrt(1e-5), which cancels catastrophically for an uncentred input.
        x_spatial = x_1 - ops.mean(x_1, axis=(1, 2), keepdims=True)
        # The Keras layer normalises per sample, so the groups move next to the batch:
        # (batch*G, H, W, c'').
        x_spatial = ops.reshape(
            ops.transpose(x_spatial, (0, 3, 1, 2, 4)), (batch * self.G, height, width, self.half)
        )
        x_spatial = self.gn(x_spatial)
        x_spatial = ops.transpose(
            ops.reshape(x_spatial, (batch, self.G, height, width, self.half)), (0, 2, 3, 1, 4)
        )
        x_spatial = x_1 * ops.sigmoid(self.sweight * x_spatial + self.sbias)
        # Concatenate the halves back in torch's channel order g*2c'' + half*c'' + j ...
        out = ops.stack([x_channel, x_spatial], axis=4)  # (batch, H, W, G, 2, c'')
        # ... then channel shuffle with 2 groups: new channel 2i + k <- old channel k*C/2 + i.
        out = ops.reshape(out, (batch, height, width, 2, self.channel // 2))
        out = ops.transpose(out, (0, 1, 2, 4, 3))  # (batch, H, W, C/2, 2)
        return ops.reshape(out, (batch, height, width, self.channel))

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {
            **super().get_config(),
            "channel": self.channel,
            "reduction": self.reduction,
            "G": self.G,
        }
