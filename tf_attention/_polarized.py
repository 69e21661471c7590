"""The layers and the two branches shared by the Keras ParallelPolarizedSelfAttention and
SequentialPolarizedSelfAttention ports (upstream repeats them in both classes)."""

from __future__ import annotations

from keras import layers, ops

from tf_attention._checks import check_image_shape


def check_polarized_channel(channel: object) -> None:
    """Raise `ValueError` unless `channel` is an int >= 2 (the branches use `channel // 2`)."""
    if isinstance(channel, bool) or not isinstance(channel, int) or channel < 2:
        raise ValueError(
            "Expected `channel` to be an integer of at least 2 (the branches use channel // 2 "
            f"channels, and a conv with 0 outputs is invalid). Received: channel={channel!r}"
        )


def _softmax(x, axis):
    """Softmax over `axis` (an int or a tuple), written out: `keras.ops.softmax` warns
    (UserWarning) when the axis has a static size of 1 (a 1x1 image, or channel // 2 == 1), and
    the result would be 1 either way."""
    shifted = x - ops.max(x, axis=axis, keepdims=True)
    exponentials = ops.exp(shifted)
    return exponentials / ops.sum(exponentials, axis=axis, keepdims=True)


class PolarizedSelfAttentionBase(layers.Layer):
    """torch's layers by name (`ch_wv`, `ch_wq`, `ch_wz`, `ln`, `sp_wv`, `sp_wq`) and the two
    branches; subclasses combine them in `call`.

    Args:
        channel: Number of input channels (at least 2). Defaults to `512`.
        **kwargs: Base layer keyword arguments, such as `name` and `dtype`.
    """

    def __init__(self, channel: int = 512, **kwargs):
        check_polarized_channel(channel)
        super().__init__(**kwargs)
        self.channel = channel
        half = channel // 2
        # The 1x1 convs on the image stay Conv2D; `ch_wz` acts on the pooled (batch, C//2) vector,
        # so it is a Dense. torch's softmax/sigmoid/pool modules hold no weights: plain ops here.
        # Sub-layers get the parent's dtype policy explicitly: Keras 3 does not propagate it.
        policy = self.dtype_policy
        self.ch_wv = layers.Conv2D(half, 1, name="ch_wv", dtype=policy)
        self.ch_wq = layers.Conv2D(1, 1, name="ch_wq", dtype=policy)
        self.ch_wz = layers.Dense(channel, name="ch_wz", dtype=policy)
        self.ln = layers.LayerNormalization(epsilon=1e-5, name="ln", dtype=policy)
        self.sp_wv = layers.Conv2D(half, 1, name="sp_wv", dtype=policy)
        self.sp_wq = layers.Conv2D(half, 1, name="sp_wq", dtype=policy)

    def build(self, input_shape):
        check_image_shape(type(self).__name__, input_shape, self.channel)
        for conv in (self.ch_wv, self.ch_wq, self.sp_wv, self.sp_wq):
            conv.build(input_shape)
        self.ch_wz.build((None, self.channel // 2))
        self.ln.build((None, self.channel))

    def channel_weight(self, x):
        """Channel-only self-attention: `(batch, H, W, C) -> (batch, 1, 1, C)` weights."""
        channel_wv = self.ch_wv(x)  # (batch, H, W, C//2)
        channel_wq = _softmax(self.ch_wq(x)[..., 0], axis=(1, 2))  # (batch, H, W): over H, W
        channel_wz = ops.einsum("bhwc,bhw->bc", channel_wv, channel_wq)  # (batch, C//2)
        # LayerNorm over C (the last axis), then sigmoid.
        channel_weight = ops.sigmoid(self.ln(self.ch_wz(channel_wz)))  # (batch, C)
        return channel_weight[:, None, None, :]

    def spatial_weight(self, u):
        """Spatial-only self-attention: `(batch, H, W, C) -> (batch, H, W, 1)` weights."""
        spatial_wv = self.sp_wv(u)  # (batch, H, W, C//2)
        spatial_wq = ops.mean(self.sp_wq(u), axis=(1, 2))  # (batch, C//2): global mean
        spatial_wq = _softmax(spatial_wq, axis=-1)  # over the C//2 channels
        spatial_wz = ops.einsum("bhwc,bc->bhw", spatial_wv, spatial_wq)  # (batch, H, W)
        return ops.sigmoid(spatial_wz)[..., None]

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "channel": self.channel}
