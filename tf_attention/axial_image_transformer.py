"""AxialImageTransformer: axial-attention + conv-FFN image transformer (Keras 3 port, NHWC).

The sub-layers mirror the torch module tree of both execution types, so upstream checkpoints
transfer by name: reversible `layers.blocks.{j}.{f,g}.net...`, sequential
`layers.blocks.{j}.{0,1}...`. Only the forward is ported: training uses plain autograd
(`GradientTape`), not torch's memory-saving reversible backward.
"""

from __future__ import annotations

import keras
from keras import layers, ops

from tf_attention._checks import check_image_shape, check_positive_int
from tf_attention.axial_attention import PermuteToFrom, SelfAttention, check_heads

_CHAN_LAYER_NORM_EPSILON = 1e-5  # upstream ChanLayerNorm default, added to the std
_LEAKY_RELU_SLOPE = 0.01  # torch nn.LeakyReLU default


def check_args(dim, depth, heads, dim_heads, dim_index, reversible, axial_pos_emb_shape) -> None:
    """The constructor checks, word for word the torch reference's messages."""
    check_positive_int("dim", dim)
    if isinstance(depth, bool) or not isinstance(depth, int) or depth < 0:
        raise ValueError(
            f"Expected `depth` to be a non-negative integer. Received: depth={depth!r}"
        )
    check_heads(dim, heads, dim_heads)
    if dim_index != 1 or isinstance(dim_index, bool):
        raise ValueError(
            "Expected `dim_index=1` (NCHW): the conv feed-forward and the reversible split "
            f"always use axis 1 as the channels. Received: dim_index={dim_index!r}"
        )
    if not isinstance(reversible, bool):
        raise ValueError(f"Expected `reversible` to be a bool. Received: reversible={reversible!r}")
    if axial_pos_emb_shape is not None and (
        not isinstance(axial_pos_emb_shape, list | tuple)
        or len(axial_pos_emb_shape) != 2
        or any(isinstance(s, bool) or not isinstance(s, int) or s < 1 for s in axial_pos_emb_shape)
    ):
        raise ValueError(
            "Expected `axial_pos_emb_shape` to be None or two positive integers (H, W). "
            f"Received: axial_pos_emb_shape={axial_pos_emb_shape!r}"
        )


def run_net(net, x):
    """Apply a mirrored torch `nn.Sequential` (a list of layers) or a single layer."""
    if isinstance(net, list | tuple):
        for layer in net:
            x = layer(x)
        return x
    return net(x)


class ChanLayerNorm(layers.Layer):
    """Normalises over the channel (last) axis with `eps` added to the biased std:
    `(x - mean) / (std + eps) * g + b` (torch `ChanLayerNorm`; `g`, `b` are `(dim,)` here,
    torch `(1, dim, 1, 1)`: the same values in the same order)."""

    def __init__(self, dim: int, eps: float = _CHAN_LAYER_NORM_EPSILON, **kwargs):
        super().__init__(**kwargs)
        self.dim, self.eps = dim, eps

    def build(self, input_shape):
        self.g = self.add_weight(name="g", shape=(self.dim,), initializer="ones")
        self.b = self.add_weight(name="b", shape=(self.dim,), initializer="zeros")

    def call(self, inputs):
        mean = ops.mean(inputs, axis=-1, keepdims=True)
        std = ops.sqrt(ops.var(inputs, axis=-1, keepdims=True))  # biased, as torch unbiased=False
        return (inputs - mean) / (std + self.eps) * self.g + self.b

    def compute_output_shape(self, input_shape):
        return input_shape


class LeakyReLU(layers.Layer):
    """`x` where `x > 0`, else `negative_slope * x` (torch `nn.LeakyReLU`).

    Not `keras.layers.LeakyReLU`: its TF kernel holds the slope as a float32 attribute, so in
    float64 it multiplies by 0.009999999776 (measured: 8.7e-10 off torch on N(0, 1) inputs,
    2.2e-8 relative on the negative side), over the float64 tolerance.
    """

    def __init__(self, negative_slope: float = _LEAKY_RELU_SLOPE, **kwargs):
        super().__init__(**kwargs)
        self.negative_slope = negative_slope

    def call(self, inputs):
        return ops.where(inputs > 0, inputs, inputs * self.negative_slope)

    def compute_output_shape(self, input_shape):
        return input_shape


class PreNorm(layers.Layer):
    """`fn(LayerNormalization(x))` over the last axis (torch `PreNorm`: `norm`, `fn`)."""

    def __init__(self, dim: int, fn: layers.Layer, **kwargs):
        super().__init__(**kwargs)
        self.dim = dim
        self.fn = fn
        self.norm = layers.LayerNormalization(
            epsilon=1e-5, name=f"{self.name}_norm", dtype=self.dtype_policy
        )

    def build(self, input_shape):
        self.norm.build(input_shape)
        self.fn.build(input_shape)

    def call(self, inputs):
        return self.fn(self.norm(inputs))


class AxialPositionalEmbedding(layers.Layer):
    """Adds a learned table per spatial axis. The variables keep torch's shapes
    (`param_0 (1, dim, H, 1)`, `param_1 (1, dim, 1, W)`), so the transfer is a plain copy; the
    call moves their channel axis last."""

    def __init__(self, dim: int, shape: tuple[int, int], **kwargs):
        super().__init__(**kwargs)
        self.dim, self.shape = dim, tuple(shape)

    def build(self, input_shape):
        height, width = self.shape
        initializer = keras.initializers.RandomNormal(stddev=1.0)  # torch.randn
        self.param_0 = self.add_weight(
            name="param_0", shape=(1, self.dim, height, 1), initializer=initializer
        )
        self.param_1 = self.add_weight(
            name="param_1", shape=(1, self.dim, 1, width), initializer=initializer
        )

    def call(self, inputs):
        # (1, dim, H, 1) -> (1, H, 1, dim) and (1, dim, 1, W) -> (1, 1, W, dim); torch adds
        # param_0 first, then param_1.
        inputs = inputs + ops.transpose(self.param_0, (0, 2, 3, 1))
        return inputs + ops.transpose(self.param_1, (0, 2, 3, 1))


class Deterministic(layers.Layer):
    """Runs `net` (torch `Deterministic`; the RNG bookkeeping is only for torch's recompute)."""

    def __init__(self, net, **kwargs):
        super().__init__(**kwargs)
        self.net = net

    def build(self, input_shape):
        build_net(self.net, input_shape)

    def call(self, inputs):
        return run_net(self.net, inputs)


class ReversibleBlock(layers.Layer):
    """On `concat([x1, x2], -1)`: `y1 = x1 + f(x2)`, `y2 = x2 + g(y1)`, returns
    `concat([y1, y2], -1)` (torch concatenates on axis 1 of NCHW: the same channel order)."""

    def __init__(self, f, g, **kwargs):
        super().__init__(**kwargs)
        self.f = Deterministic(f, name=f"{self.name}_f", dtype=self.dtype_policy)
        self.g = Deterministic(g, name=f"{self.name}_g", dtype=self.dtype_policy)

    def build(self, input_shape):
        half = (*input_shape[:-1], input_shape[-1] // 2)
        self.f.build(half)
        self.g.build(half)

    def call(self, inputs):
        x1, x2 = ops.split(inputs, 2, axis=-1)
        y1 = x1 + self.f(x2)
        y2 = x2 + self.g(y1)
        return ops.concatenate([y1, y2], axis=-1)


class ReversibleSequence(layers.Layer):
    """`x1 = x2 = x`, the reversible blocks, then `(y1 + y2) / 2` (torch `ReversibleSequence`)."""

    def __init__(self, blocks, **kwargs):
        super().__init__(**kwargs)
        self.blocks = [
            ReversibleBlock(f, g, name=f"{self.name}_blocks_{j}", dtype=self.dtype_policy)
            for j, (f, g) in enumerate(blocks)
        ]

    def build(self, input_shape):
        doubled = (*input_shape[:-1], 2 * input_shape[-1])
        for block in self.blocks:
            block.build(doubled)

    def call(self, inputs):
        x = ops.concatenate([inputs, inputs], axis=-1)
        for block in self.blocks:
            x = block(x)
        y1, y2 = ops.split(x, 2, axis=-1)
        return (y1 + y2) / 2


class Sequential(layers.Layer):
    """The non-reversible path (torch upstream `Sequential`): for each `(f, g)` pair,
    `x = x + f(x)`, then `x = x + g(x)`."""

    def __init__(self, blocks, **kwargs):
        super().__init__(**kwargs)
        self.blocks = [list(pair) for pair in blocks]

    def build(self, input_shape):
        for pair in self.blocks:
            for net in pair:
                build_net(net, input_shape)

    def call(self, inputs):
        x = inputs
        for f, g in self.blocks:
            x = x + run_net(f, x)
            x = x + run_net(g, x)
        return x


def build_net(net, input_shape) -> None:
    """Build a mirrored `nn.Sequential` (a list) or a single layer on `input_shape`."""
    if isinstance(net, list | tuple):
        shape = tuple(input_shape)
        for layer in net:
            layer.build(shape)
            shape = tuple(layer.compute_output_shape(shape))
        return
    net.build(input_shape)


@keras.saving.register_keras_serializable(package="tf_attention")
class AxialImageTransformer(layers.Layer):
    """`depth` layers of (attention along H, attention along W) and (conv FFN, conv FFN) pairs.

    Each attention is `PermuteToFrom(PreNorm(dim, SelfAttention(dim, heads, dim_heads)))`; each
    FFN is `ChanLayerNorm, Conv2D(4 dim, 3, same), LeakyReLU(0.01), Conv2D(dim, 3, same)`.
    Reversible (default): `x1 = x2 = x`, for each pair `x1 += f(x2)`, `x2 += g(x1)`, output
    `(x1 + x2) / 2`. Non-reversible: `x += f(x)`, `x += g(x)`: a different function of the same
    weights. Only the forward is ported: training uses plain autograd, not torch's reversible
    backward (the same gradients in training mode). The FFN's LeakyReLU is this module's own:
    `keras.layers.LeakyReLU` keeps its slope as a float32 attribute, 2e-8 off in float64.

    Args:
        dim: Channels.
        depth: Number of (attention, FFN) layer pairs.
        heads: Attention heads. Defaults to `8`.
        dim_heads: Features per head. Defaults to `dim // heads`.
        dim_index: The torch reference's channel axis; only `1` (NCHW, here NHWC) works.
            Defaults to `1`.
        reversible: Reversible residuals (True) or plain residuals. Defaults to `True`.
        axial_pos_emb_shape: Optional `(H, W)`: adds learned positional tables and fixes the
            input size to H x W. Defaults to `None`.
        **kwargs: Base layer keyword arguments, such as `name` and `dtype`.

    Input shape:
        4D tensor `(batch, height, width, dim)` (NHWC).

    Output shape:
        Same as the input.

    Reference:
        - [Ho et al., 2019](https://arxiv.org/abs/1912.12180); torch:
          `reference_torch.axial_image_transformer.AxialImageTransformer`.
    """

    def __init__(
        self,
        dim: int,
        depth: int,
        heads: int = 8,
        dim_heads: int | None = None,
        dim_index: int = 1,
        reversible: bool = True,
        axial_pos_emb_shape: tuple[int, int] | None = None,
        **kwargs,
    ):
        check_args(dim, depth, heads, dim_heads, dim_index, reversible, axial_pos_emb_shape)
        super().__init__(**kwargs)
        self.dim, self.depth, self.heads, self.dim_heads = dim, depth, heads, dim_heads
        self.dim_index, self.reversible = dim_index, reversible
        self.axial_pos_emb_shape = (
            None if axial_pos_emb_shape is None else tuple(axial_pos_emb_shape)
        )
        policy = self.dtype_policy
        # torch `pos_emb`: nn.Identity or AxialPositionalEmbedding (param_0, param_1).
        self.pos_emb = (
            layers.Identity(name="pos_emb", dtype=policy)
            if axial_pos_emb_shape is None
            else AxialPositionalEmbedding(dim, axial_pos_emb_shape, name="pos_emb", dtype=policy)
        )
        # torch `layers` (before wrapping): per depth, [attention H, attention W] and
        # [ffn, ffn]. The Keras names are the final torch paths, which depend on `reversible`.
        pairs = []
        for i in range(depth):
            pairs.append([self._attention(2 * i, k, axis) for k, axis in enumerate((1, 2))])
            pairs.append([self._ffn(2 * i + 1, k) for k in range(2)])
        execute_type = ReversibleSequence if reversible else Sequential
        self.layers = execute_type(pairs, name="layers", dtype=policy)

    def _prefix(self, block: int, k: int) -> str:
        """The torch path of the k-th function of a block, with `_` for `.`."""
        return f"layers_blocks_{block}_" + (("f", "g")[k] + "_net" if self.reversible else str(k))

    def _attention(self, block: int, k: int, axis: int) -> PermuteToFrom:
        policy, prefix = self.dtype_policy, self._prefix(block, k)
        self_attention = SelfAttention(
            self.dim, self.heads, self.dim_heads, name=f"{prefix}_fn_fn", dtype=policy
        )
        return PermuteToFrom(
            axis,
            4,
            PreNorm(self.dim, self_attention, name=f"{prefix}_fn", dtype=policy),
            name=prefix,
            dtype=policy,
        )

    def _ffn(self, block: int, k: int) -> list:
        policy, prefix, dim = self.dtype_policy, self._prefix(block, k), self.dim
        # torch nn.Sequential(ChanLayerNorm, Conv2d(3, pad 1), LeakyReLU, Conv2d(3, pad 1)):
        # padding 1 on a 3x3 kernel at stride 1 is "same".
        return [
            ChanLayerNorm(dim, name=f"{prefix}_0", dtype=policy),
            layers.Conv2D(4 * dim, 3, padding="same", name=f"{prefix}_1", dtype=policy),
            LeakyReLU(_LEAKY_RELU_SLOPE, name=f"{prefix}_2", dtype=policy),
            layers.Conv2D(dim, 3, padding="same", name=f"{prefix}_3", dtype=policy),
        ]

    def build(self, input_shape):
        check_image_shape("AxialImageTransformer", input_shape, self.dim)
        if self.axial_pos_emb_shape is not None and any(
            size is not None and size != expected
            for size, expected in zip(input_shape[1:3], self.axial_pos_emb_shape, strict=True)
        ):
            raise ValueError(
                f"Expected the input's (H, W) to equal axial_pos_emb_shape="
                f"{self.axial_pos_emb_shape}. Received: input_shape={tuple(input_shape)}"
            )
        self.pos_emb.build(input_shape)
        self.layers.build(input_shape)

    def call(self, inputs, training=None):
        return self.layers(self.pos_emb(inputs))

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {
            **super().get_config(),
            "dim": self.dim,
            "depth": self.depth,
            "heads": self.heads,
            "dim_heads": self.dim_heads,
            "dim_index": self.dim_index,
            "reversible": self.reversible,
            "axial_pos_emb_shape": self.axial_pos_emb_shape,
        }
