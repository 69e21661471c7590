"""SpatialGroupEnhance: spatial group-wise enhance, SGE (Keras 3 port, NHWC)."""

from __future__ import annotations

import keras
from keras import layers, ops

from tf_attention._checks import check_image_shape, check_positive_int


@keras.saving.register_keras_serializable(package="tf_attention")
class SpatialGroupEnhance(layers.Layer):
    """Gates every position of each channel group by the similarity of its local feature to the
    group's global average, normalised over the positions.

    The normalisation uses the unbiased (N - 1) standard deviation with `1e-5` added to it, as
    the reference does; so an input with a single position (H * W = 1) gives NaN, as in torch.

    Args:
        groups: Number of channel groups (the input's channels must be divisible by it).
        **kwargs: Base layer keyword arguments, such as `name` and `dtype`.

    Input shape:
        4D tensor `(batch, height, width, channel)` (NHWC), `channel % groups == 0`.

    Output shape:
        Same as the input.

    Reference:
        - [Li et al., 2019](https://arxiv.org/abs/1905.09646); torch:
          `reference_torch.SpatialGroupEnhance`.
    """

    def __init__(self, groups: int, **kwargs):
        check_positive_int("groups", groups)
        super().__init__(**kwargs)
        self.groups = groups

    def build(self, input_shape):
        check_image_shape("SpatialGroupEnhance", input_shape, None)
        channel = input_shape[-1]
        if channel is None or channel % self.groups:
            raise ValueError(
                f"SpatialGroupEnhance expects a known number of channels on the last axis (NHWC) "
                f"divisible by `groups`={self.groups}. Received: input_shape={tuple(input_shape)}, "
                f"groups={self.groups}"
            )
        self.channel = channel
        # Raw torch Parameters (1, G, 1, 1), stored flat as (G,); same (zero) initial values.
        self.weight = self.add_weight(name="weight", shape=(self.groups,), initializer="zeros")
        self.bias = self.add_weight(name="bias", shape=(self.groups,), initializer="zeros")

    def call(self, inputs, training=False):
        shape = ops.shape(inputs)
        batch, height, width = shape[0], shape[1], shape[2]
        # Group-major split of the channel axis: (batch, H, W, G, C/G) is torch's
        # view(B*G, C/G, H, W) without moving the groups next to the batch.
        x = ops.reshape(inputs, (batch, height, width, self.groups, self.channel // self.groups))
        # Similarity of each position to the group's spatial average (mean over H, W: axes 1, 2),
        # summed over the group's channels (axis 4): (batch, H, W, G).
        t = ops.sum(x * ops.mean(x, axis=(1, 2), keepdims=True), axis=4)
        # Normalise over the positions (axes 1, 2) with the unbiased std, eps added to the std.
        t = t - ops.mean(t, axis=(1, 2), keepdims=True)
        # torch's std accumulates float16/bfloat16 in float32 and rounds once: so does this.
        wide = ops.cast(t, "float32") if t.dtype in ("float16", "bfloat16") else t
        positions = ops.cast(height * width, wide.dtype)
        variance = ops.sum(ops.square(wide), axis=(1, 2), keepdims=True) / (positions - 1)
        t = t / (ops.cast(ops.sqrt(variance), t.dtype) + 1e-5)
        t = t * self.weight + self.bias  # per group (axis 3)
        out = x * ops.sigmoid(t)[..., None]  # broadcast over the group's channels (axis 4)
        return ops.reshape(out, shape)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "groups": self.groups}
