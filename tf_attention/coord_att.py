"""CoordAtt: coordinate attention (Keras 3 port, NHWC)."""

from __future__ import annotations

import keras
from keras import layers, ops

from tf_attention._checks import check_image_shape, check_positive_int


def check_coord_att_arguments(inp: object, oup: object, reduction: object) -> None:
    """Raise `ValueError` unless `inp`, `oup`, `reduction` are positive ints and `oup` is `inp` or 1."""
    check_positive_int("inp", inp)
    check_positive_int("oup", oup)
    check_positive_int("reduction", reduction)
    if oup not in (inp, 1):
        raise ValueError(
            "Expected `oup` to equal `inp` or to be 1 (the gates multiply the input, so they "
            f"must broadcast over its channels). Received: oup={oup!r}, inp={inp!r}"
        )


def h_swish(x):
    """Hard swish `x * ReLU6(x + 3) / 6` (torch `h_swish` with its inner `h_sigmoid`)."""
    return x * (ops.relu6(x + 3) / 6)


@keras.saving.register_keras_serializable(package="tf_attention")
class CoordAtt(layers.Layer):
    """Gates the input by two direction-aware maps: one from the average over each row, one from
    the average over each column, encoded together by a shared 1x1 conv, BN and h_swish.

    The 1x1 convs act on pooled vectors `(batch, positions, channel)`, so they are Dense layers;
    BN normalises the H row averages and W column averages together, as torch does.

    Args:
        inp: Number of input channels.
        oup: Number of gate channels: `inp`, or 1 for one gate shared by all channels.
        reduction: The shared encoding has `mip = max(8, inp // reduction)` channels.
            Defaults to `32`.
        **kwargs: Base layer keyword arguments, such as `name` and `dtype`.

    Input shape:
        4D tensor `(batch, height, width, inp)` (NHWC).

    Output shape:
        Same as the input.

    Reference:
        - [Hou et al., 2021](https://arxiv.org/abs/2103.02907); torch: `reference_torch.CoordAtt`.
    """

    def __init__(self, inp: int, oup: int, reduction: int = 32, **kwargs):
        check_coord_att_arguments(inp, oup, reduction)
        super().__init__(**kwargs)
        self.inp, self.oup, self.reduction = inp, oup, reduction
        self.mip = max(8, inp // reduction)
        policy = self.dtype_policy
        self.conv1 = layers.Dense(self.mip, name="conv1", dtype=policy)
        self.bn1 = layers.BatchNormalization(epsilon=1e-5, momentum=0.9, name="bn1", dtype=policy)
        self.conv_h = layers.Dense(oup, name="conv_h", dtype=policy)
        self.conv_w = layers.Dense(oup, name="conv_w", dtype=policy)

    def build(self, input_shape):
        check_image_shape("CoordAtt", input_shape, self.inp)
        self.conv1.build((None, None, self.inp))
        self.bn1.build((None, None, self.mip))
        self.conv_h.build((None, None, self.mip))
        self.conv_w.build((None, None, self.mip))

    def call(self, inputs, training=False):
        height = ops.shape(inputs)[1]
        x_h = ops.mean(inputs, axis=2)  # (B, H, C): mean over W (axis 2)
        x_w = ops.mean(inputs, axis=1)  # (B, W, C): mean over H (axis 1)
        y = ops.concatenate([x_h, x_w], axis=1)  # (B, H + W, C): torch's cat on dim 2
        y = h_swish(self.bn1(self.conv1(y), training=training))  # (B, H + W, mip)
        a_h = ops.sigmoid(self.conv_h(y[:, :height]))  # (B, H, oup)
        a_w = ops.sigmoid(self.conv_w(y[:, height:]))  # (B, W, oup)
        # torch `identity * a_w * a_h`, in that order: a_w varies along W (axis 2), a_h along H.
        return inputs * a_w[:, None, :, :] * a_h[:, :, None, :]

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {
            **super().get_config(),
            "inp": self.inp,
            "oup": self.oup,
            "reduction": self.reduction,
        }
