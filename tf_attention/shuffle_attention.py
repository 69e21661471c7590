"""ShuffleAttention: SA-Net shuffle attention (Keras 3 port, NHWC)."""

from __future__ import annotations

import keras
import tensorflow as tf
from keras import layers, ops

from tf_attention._checks import check_image_shape, check_positive_int


def _in_xla_context() -> bool:
    """Whether the op being traced will be compiled by XLA (`jit_compile=True`).

    TensorFlow has no public test for this; its own ops use `GraphOrParentsInXlaContext`. If
    that private helper moves, answer True: the XLA-safe path is correct everywhere.
    """
    try:
        from tensorflow.python.framework import ops as tf_ops
        from tensorflow.python.ops.control_flow_util import GraphOrParentsInXlaContext
    except ImportError:
        return True
    return bool(GraphOrParentsInXlaContext(tf_ops.get_default_graph()))


@tf.custom_gradient
def _interleave(first, second):
    """`(..., n)` and `(..., n)` -> `(..., n, 2)` with `[..., i, 0] = first[..., i]` and
    `[..., i, 1] = second[..., i]`, through a complex tensor read back as reals (float32/64).

    `Bitcast` has no registered gradient; the interleave's gradient is the de-interleave.
    """
    pairs = tf.bitcast(tf.complex(first, second), first.dtype)

    def gradient(upstream):
        return upstream[..., 0], upstream[..., 1]

    return pairs, gradient


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
        # normalisation over H, W of each (batch, group) sample. It holds the weights (`gamma`,
        # `beta`, for the transfer) and `epsilon`; `call` computes the normalisation itself (see
        # there). The dtype policy is passed explicitly: Keras 3 does not propagate it.
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
        # Channel c = g * 2c'' + branch * c'' + j (torch's view(B*G, C/G, H, W) + chunk(2)):
        # branch 0 is gated by its channel average, branch 1 by its GroupNorm-ed map. Both gates
        # are per-channel functions of statistics over H, W, so they are computed for all channels
        # at once in NHWC, with per-channel coefficient vectors (branch 0 gets a zero scale):
        #     z = (x - mean) * scale + offset,  out = x * sigmoid(z)
        # instead of slicing the branches and moving the groups next to the batch for a Keras
        # GroupNormalization call (two 5-D transposes: TF's CPU transpose moves ~1 GB/s).
        mean = ops.mean(inputs, axis=(1, 2), keepdims=True)  # (batch, 1, 1, C): over H, W
        # Centred first: GN's `x * inv - mean * inv` (inv ~ 1/sqrt(eps)) cancels catastrophically
        # in float32 for an uncentred input whose variance is far below epsilon.
        centred = inputs - mean
        # torch GroupNorm(c'', c''): one channel per group, biased variance over H, W.
        variance = ops.mean(ops.square(centred), axis=(1, 2), keepdims=True)
        inverse_std = ops.rsqrt(variance + self.gn.epsilon)
        zeros = ops.zeros_like(self.cweight)
        # (2, c'') per branch -> (G, 2, c'') -> (C,) in channel order. The GroupNorm's affine
        # (`gn.gamma`, `gn.beta`) and the spatial gate's affine fold into one scale and offset.
        scale = self._per_channel(zeros, self.sweight * self.gn.gamma)
        mean_weight = self._per_channel(self.cweight, zeros)
        offset = self._per_channel(self.cbias, self.sweight * self.gn.beta + self.sbias)
        gate = ops.sigmoid(centred * (scale * inverse_std) + (mean_weight * mean + offset))
        return self._channel_shuffle(inputs * gate)

    def _per_channel(self, branch_0, branch_1):
        """Two (c'',) vectors (tensors or variables) as one (C,) vector in channel order
        (group, branch, j)."""
        # `cast` reads a variable as a tensor (`ops.stack` takes tensors), a no-op otherwise.
        pair = ops.stack([ops.cast(b, self.compute_dtype) for b in (branch_0, branch_1)])
        return ops.reshape(ops.broadcast_to(pair, (self.G, 2, self.half)), (self.channel,))

    def _channel_shuffle(self, x):
        """torch `channel_shuffle(x, 2)`: new channel 2i + k <- old channel k * C/2 + i.

        In a TF graph (or eagerly) the two halves of the channel axis are interleaved by building
        a complex tensor from them (real = first half, imaginary = second half) and reading it
        back as real numbers, which lays each (real, imag) pair side by side: one elementwise op
        where the transpose `(..., 2, C/2) -> (..., C/2, 2)` is TF's slow generic CPU transpose
        (usage shape 50 x 7 x 7 x 512, one thread: ~8 ms against ~1 ms). Exact, float32 and
        float64, with the de-interleave as its gradient. XLA has no complex bitcast but compiles
        the transpose well (~1 ms), so under `jit_compile=True` (Keras' default for
        `fit`/`predict` on TF) the transpose is used, and so it is for float16 and bfloat16,
        which have no complex type. Raw `tf` because `keras.ops` has neither a complex
        constructor nor a complex bitcast.
        """
        shape = ops.shape(x)
        if x.dtype not in (tf.float32, tf.float64) or _in_xla_context():
            halves = ops.reshape(x, (*shape[:-1], 2, self.channel // 2))  # (..., k, i)
            return ops.reshape(ops.swapaxes(halves, -1, -2), shape)  # (..., i, k)
        first, second = ops.split(x, 2, axis=-1)  # (batch, H, W, C/2) each
        return ops.reshape(_interleave(first, second), shape)  # via (batch, H, W, C/2, 2)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {
            **super().get_config(),
            "channel": self.channel,
            "reduction": self.reduction,
            "G": self.G,
        }
