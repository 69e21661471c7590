"""BAMBlock: Bottleneck Attention Module (Keras 3 port, NHWC)."""

from __future__ import annotations

import keras
from keras import layers, ops

from tf_attention._checks import check_image_shape, check_positive_int, check_reduction


def _check_num_layers(num_layers: object) -> None:
    if isinstance(num_layers, bool) or not isinstance(num_layers, int) or num_layers < 0:
        raise ValueError(
            "Expected `num_layers` to be a non-negative integer. "
            f"Received: num_layers={num_layers!r}"
        )


def check_spatial_size(height: int | None, width: int | None, dia_val: int) -> None:
    """Raise `ValueError` unless the spatial branch's output broadcasts to `height` x `width`.

    Each of the three dilated convs pads 1 but spans `2 * dia_val + 1` pixels (torch's quirk, kept),
    so the map shrinks by `6 * (dia_val - 1)`: it keeps its size for `dia_val == 1` and is 1x1
    exactly when `height == width == 6 * dia_val - 5`. Unknown (`None`) sizes are not checked.
    """
    if dia_val == 1 or height is None or width is None or height == width == 6 * dia_val - 5:
        return
    raise ValueError(
        f"BAMBlock's spatial branch (three 3x3 convs with padding=1 and dilation dia_val) shrinks "
        f"the map by 6 * (dia_val - 1) = {6 * (dia_val - 1)} pixels, so its output broadcasts "
        f"back only for dia_val=1 (any size) or H = W = 6 * dia_val - 5 = {6 * dia_val - 5}. "
        f"Use dia_val=1 or a {6 * dia_val - 5}x{6 * dia_val - 5} input. "
        f"Received: H={height}, W={width}, dia_val={dia_val}"
    )


class _NamedSequential(layers.Layer):
    """Mirror of a torch `nn.Sequential` filled with `add_module(name, ...)`.

    Each child is an attribute under its torch name (torch `ca.fc0` is `self.ca.fc0`), and `call`
    runs them in insertion order. `pad_before` maps a child's name to the number of zero pixels
    added on each side of H and W before it (torch `Conv2d(padding=p)` = pad, then "valid").
    Built and configured by its owner, which re-creates it from its own constructor arguments.
    """

    def __init__(self, named_layers, pad_before=None, **kwargs):
        super().__init__(**kwargs)
        self.layer_names = [name for name, _ in named_layers]
        for name, layer in named_layers:
            setattr(self, name, layer)
        self.pad_before = dict(pad_before or {})

    def build(self, input_shape):
        shape = tuple(input_shape)
        for name in self.layer_names:
            if name in self.pad_before:
                shape = self._padded_shape(shape, self.pad_before[name])
            layer = getattr(self, name)
            layer.build(shape)
            shape = tuple(layer.compute_output_shape(shape))

    @staticmethod
    def _padded_shape(shape, pad):
        # NHWC: grow H (axis 1) and W (axis 2) by `pad` on each side.
        grow = [None if size is None else size + 2 * pad for size in shape[1:3]]
        return (shape[0], *grow, shape[3])

    def call(self, inputs, training=None):
        outputs = inputs
        for name in self.layer_names:
            if name in self.pad_before:
                pad = self.pad_before[name]
                # NHWC: zero-pad H (axis 1) and W (axis 2) only.
                outputs = ops.pad(outputs, [[0, 0], [pad, pad], [pad, pad], [0, 0]])
            layer = getattr(self, name)
            if isinstance(layer, layers.BatchNormalization):
                outputs = layer(outputs, training=training)
            else:
                outputs = layer(outputs)
        return outputs

    def compute_output_shape(self, input_shape):
        shape = tuple(input_shape)
        for name in self.layer_names:
            if name in self.pad_before:
                shape = self._padded_shape(shape, self.pad_before[name])
            shape = tuple(getattr(self, name).compute_output_shape(shape))
        return shape


def _batch_norm(name, policy):
    # torch BatchNorm defaults: eps 1e-5, momentum 0.1 (Keras' momentum is 1 - torch's).
    return layers.BatchNormalization(epsilon=1e-5, momentum=0.9, name=name, dtype=policy)


@keras.saving.register_keras_serializable(package="tf_attention", name="BAMChannelAttention")
class ChannelAttention(layers.Layer):
    """BAM's channel branch: average pool, `num_layers` x (Dense, BN, ReLU), Dense back to C.

    Args:
        channel: Number of input channels.
        reduction: Bottleneck ratio (`channel // reduction` hidden units). Defaults to `16`.
        num_layers: Number of hidden (Dense, BatchNormalization, ReLU) stages. Defaults to `3`.
        **kwargs: Base layer keyword arguments, such as `name` and `dtype`.

    Input shape:
        4D tensor `(batch, height, width, channel)` (NHWC).

    Output shape:
        `(batch, 1, 1, channel)`: the channel logits, broadcastable to the input.
    """

    def __init__(self, channel: int, reduction: int = 16, num_layers: int = 3, **kwargs):
        check_reduction(channel, reduction)
        _check_num_layers(num_layers)
        super().__init__(**kwargs)
        self.channel, self.reduction, self.num_layers = channel, reduction, num_layers
        policy = self.dtype_policy
        gate_channels = [channel] + [channel // reduction] * num_layers + [channel]
        # Mirrors torch `ca = nn.Sequential()` + add_module: torch ca.fc0 is self.ca.fc0.
        named = [("flatten", layers.Flatten(name="flatten", dtype=policy))]
        for i in range(len(gate_channels) - 2):
            named += [
                (f"fc{i}", layers.Dense(gate_channels[i + 1], name=f"fc{i}", dtype=policy)),
                (f"bn{i}", _batch_norm(f"bn{i}", policy)),
                (f"relu{i}", layers.ReLU(name=f"relu{i}", dtype=policy)),
            ]
        named.append(("last_fc", layers.Dense(gate_channels[-1], name="last_fc", dtype=policy)))
        self.ca = _NamedSequential(named, name="ca", dtype=policy)

    def build(self, input_shape):
        check_image_shape("ChannelAttention", input_shape, self.channel)
        self.ca.build((input_shape[0], 1, 1, self.channel))

    def call(self, inputs, training=None):
        pooled = ops.mean(inputs, axis=(1, 2), keepdims=True)  # (batch, 1, 1, channel)
        logits = self.ca(pooled, training=training)  # (batch, channel)
        return logits[:, None, None, :]

    def compute_output_shape(self, input_shape):
        return (input_shape[0], 1, 1, self.channel)

    def get_config(self):
        return {
            **super().get_config(),
            "channel": self.channel,
            "reduction": self.reduction,
            "num_layers": self.num_layers,
        }


@keras.saving.register_keras_serializable(package="tf_attention", name="BAMSpatialAttention")
class SpatialAttention(layers.Layer):
    """BAM's spatial branch: 1x1 reduce, `num_layers` dilated 3x3 convs (padding 1), 1x1 to one map.

    Args:
        channel: Number of input channels.
        reduction: Bottleneck ratio (`channel // reduction` hidden channels). Defaults to `16`.
        num_layers: Number of dilated (Conv2D, BatchNormalization, ReLU) stages. Defaults to `3`.
        dia_val: Dilation of the 3x3 convs; as in torch their padding stays 1, so each shrinks the
            map by `2 * (dia_val - 1)`. Defaults to `2`.
        **kwargs: Base layer keyword arguments, such as `name` and `dtype`.

    Input shape:
        4D tensor `(batch, height, width, channel)` (NHWC).

    Output shape:
        `(batch, height - s, width - s, 1)` with `s = 2 * num_layers * (dia_val - 1)`: the spatial
        logits.
    """

    def __init__(
        self, channel: int, reduction: int = 16, num_layers: int = 3, dia_val: int = 2, **kwargs
    ):
        check_reduction(channel, reduction)
        _check_num_layers(num_layers)
        check_positive_int("dia_val", dia_val)
        super().__init__(**kwargs)
        self.channel, self.reduction = channel, reduction
        self.num_layers, self.dia_val = num_layers, dia_val
        policy = self.dtype_policy
        hidden = channel // reduction
        # Mirrors torch `sa = nn.Sequential()` + add_module: torch sa.conv_0 is self.sa.conv_0.
        named = [
            ("conv_reduce1", layers.Conv2D(hidden, 1, name="conv_reduce1", dtype=policy)),
            ("bn_reduce1", _batch_norm("bn_reduce1", policy)),
            ("relu_reduce1", layers.ReLU(name="relu_reduce1", dtype=policy)),
        ]
        for i in range(num_layers):
            # torch Conv2d(3, padding=1, dilation=dia_val): pad 1 explicitly, then "valid"
            # ("same" would keep the size and differ from torch for dia_val > 1).
            conv = layers.Conv2D(
                hidden, 3, padding="valid", dilation_rate=dia_val, name=f"conv_{i}", dtype=policy
            )
            named += [
                (f"conv_{i}", conv),
                (f"bn_{i}", _batch_norm(f"bn_{i}", policy)),
                (f"relu_{i}", layers.ReLU(name=f"relu_{i}", dtype=policy)),
            ]
        named.append(("last_conv", layers.Conv2D(1, 1, name="last_conv", dtype=policy)))
        pad_before = {f"conv_{i}": 1 for i in range(num_layers)}
        self.sa = _NamedSequential(named, pad_before=pad_before, name="sa", dtype=policy)

    def build(self, input_shape):
        check_image_shape("SpatialAttention", input_shape, self.channel)
        self.sa.build(input_shape)

    def call(self, inputs, training=None):
        return self.sa(inputs, training=training)

    def compute_output_shape(self, input_shape):
        return self.sa.compute_output_shape(input_shape)

    def get_config(self):
        return {
            **super().get_config(),
            "channel": self.channel,
            "reduction": self.reduction,
            "num_layers": self.num_layers,
            "dia_val": self.dia_val,
        }


@keras.saving.register_keras_serializable(package="tf_attention")
class BAMBlock(layers.Layer):
    """`out = (1 + sigmoid(spatial + channel)) * x` with BAM's two bottleneck branches.

    Reproduces the torch reference's quirk: the three dilated 3x3 convs pad 1 whatever
    `dia_val`, so the spatial map shrinks by `6 * (dia_val - 1)`. Valid inputs are therefore any
    H, W for `dia_val=1`, or exactly `H = W = 6 * dia_val - 5` for `dia_val > 1` (the spatial
    logits are then one value per sample); other sizes raise `ValueError`, as in torch.

    Args:
        channel: Number of input channels. Defaults to `512`.
        reduction: Bottleneck ratio of both branches. Defaults to `16`.
        dia_val: Dilation of the spatial branch's 3x3 convs. Defaults to `2`.
        **kwargs: Base layer keyword arguments, such as `name` and `dtype`.

    Input shape:
        4D tensor `(batch, height, width, channel)` (NHWC).

    Output shape:
        Same as the input.

    Reference:
        - [Park et al., 2018](https://arxiv.org/abs/1807.06514); torch: `reference_torch.BAMBlock`.
    """

    def __init__(self, channel: int = 512, reduction: int = 16, dia_val: int = 2, **kwargs):
        check_reduction(channel, reduction)
        check_positive_int("dia_val", dia_val)
        super().__init__(**kwargs)
        self.channel, self.reduction, self.dia_val = channel, reduction, dia_val
        policy = self.dtype_policy
        self.ca = ChannelAttention(channel, reduction, name="ca", dtype=policy)
        self.sa = SpatialAttention(channel, reduction, dia_val=dia_val, name="sa", dtype=policy)

    def build(self, input_shape):
        check_image_shape("BAMBlock", input_shape, self.channel)
        check_spatial_size(input_shape[1], input_shape[2], self.dia_val)
        self.ca.build(input_shape)
        self.sa.build(input_shape)

    def call(self, inputs, training=None):
        # Static H (axis 1), W (axis 2) when known; a None size (symbolic) is left unchecked.
        check_spatial_size(inputs.shape[1], inputs.shape[2], self.dia_val)
        sa_out = self.sa(inputs, training=training)  # (batch, H or 1, W or 1, 1)
        ca_out = self.ca(inputs, training=training)  # (batch, 1, 1, channel)
        weight = ops.sigmoid(sa_out + ca_out)
        return (1 + weight) * inputs

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {
            **super().get_config(),
            "channel": self.channel,
            "reduction": self.reduction,
            "dia_val": self.dia_val,
        }
