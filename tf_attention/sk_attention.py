"""SKAttention: Selective Kernel attention (Keras 3 port, NHWC)."""

from __future__ import annotations

from collections.abc import Sequence

import keras
from keras import layers, ops

from tf_attention._checks import check_image_shape, check_odd_kernel, check_positive_int


def _softmax(x, axis: int):
    """Softmax over `axis`, written out: `keras.ops.softmax` warns (UserWarning) when that axis has
    size 1, as with a single kernel (branch), and the result would be 1 either way."""
    shifted = x - ops.max(x, axis=axis, keepdims=True)
    exponentials = ops.exp(shifted)
    return exponentials / ops.sum(exponentials, axis=axis, keepdims=True)


@keras.saving.register_keras_serializable(package="tf_attention")
class SKConvBranch(layers.Layer):
    """One SKAttention branch: `conv` (k x k, 'same', grouped) -> `bn` -> `relu`.

    Mirrors the torch `nn.Sequential(OrderedDict(conv=..., bn=..., relu=...))` of
    `reference_torch.SKAttention.convs[i]`, so torch `convs.0.conv` is Keras `convs[0].conv`.

    Args:
        channel: Number of input and output channels.
        kernel_size: Odd kernel size (torch pads `k // 2`, which is 'same' for odd k, stride 1).
        group: Groups of the convolution.
        **kwargs: Base layer keyword arguments, such as `name` and `dtype`.
    """

    def __init__(self, channel: int, kernel_size: int, group: int = 1, **kwargs):
        check_positive_int("channel", channel)
        check_odd_kernel("kernel_size", kernel_size)
        check_positive_int("group", group)
        super().__init__(**kwargs)
        self.channel, self.kernel_size, self.group = channel, kernel_size, group
        policy = self.dtype_policy
        self.conv = layers.Conv2D(
            channel, kernel_size, padding="same", groups=group, name="conv", dtype=policy
        )
        self.bn = layers.BatchNormalization(epsilon=1e-5, momentum=0.9, name="bn", dtype=policy)
        self.relu = layers.ReLU(name="relu", dtype=policy)

    def build(self, input_shape):
        check_image_shape("SKConvBranch", input_shape, self.channel)
        self.conv.build(input_shape)
        self.bn.build(self.conv.compute_output_shape(input_shape))

    def call(self, inputs, training=False):
        return self.relu(self.bn(self.conv(inputs), training=training))

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {
            **super().get_config(),
            "channel": self.channel,
            "kernel_size": self.kernel_size,
            "group": self.group,
        }


@keras.saving.register_keras_serializable(package="tf_attention")
class SKAttention(layers.Layer):
    """Fuses branches of different kernel sizes with a softmax over the branches per channel.

    Each branch is conv -> BN -> ReLU; the branch sum is averaged over space, squeezed by `fc`
    (no BN/ReLU, as upstream), expanded by one `fcs[i]` per branch, and a softmax over the
    branches weights the branch outputs.

    Args:
        channel: Number of input channels. Defaults to `512`.
        kernels: Odd kernel sizes, one branch each. Defaults to `(1, 3, 5, 7)`.
        reduction: `d = max(L, channel // reduction)` units in `fc`. Defaults to `16`.
        group: Groups of every branch convolution (`channel % group == 0`). Defaults to `1`.
        L: Minimum width of `fc`. Defaults to `32`.
        **kwargs: Base layer keyword arguments, such as `name` and `dtype`.

    Input shape:
        4D tensor `(batch, height, width, channel)` (NHWC).

    Output shape:
        Same as the input.

    Reference:
        - [Li et al., 2019](https://arxiv.org/abs/1903.06586); torch: `reference_torch.SKAttention`.
    """

    def __init__(
        self,
        channel: int = 512,
        kernels: Sequence[int] = (1, 3, 5, 7),
        reduction: int = 16,
        group: int = 1,
        L: int = 32,
        **kwargs,
    ):
        check_positive_int("channel", channel)
        if isinstance(kernels, str | bytes) or not isinstance(kernels, Sequence) or not kernels:
            raise ValueError(
                "Expected `kernels` to be a non-empty list of odd kernel sizes. "
                f"Received: kernels={kernels!r}"
            )
        for index, kernel in enumerate(kernels):
            check_odd_kernel(f"kernels[{index}]", kernel)
        check_positive_int("reduction", reduction)
        check_positive_int("group", group)
        if channel % group:
            raise ValueError(
                "Expected `channel` to be divisible by `group` (grouped convolutions). "
                f"Received: group={group!r}, channel={channel!r}"
            )
        check_positive_int("L", L)
        super().__init__(**kwargs)
        self.channel, self.kernels = channel, list(kernels)
        self.reduction, self.group, self.L = reduction, group, L
        self.d = max(L, channel // reduction)
        # Mirrors torch `convs = nn.ModuleList([nn.Sequential(conv, bn, relu), ...])`, `fc` and
        # `fcs = nn.ModuleList([...])`. Sub-layers get the parent's dtype policy explicitly:
        # Keras 3 does not propagate it.
        policy = self.dtype_policy
        self.convs = [
            SKConvBranch(channel, k, group, name=f"convs_{i}", dtype=policy)
            for i, k in enumerate(self.kernels)
        ]
        self.fc = layers.Dense(self.d, name="fc", dtype=policy)
        self.fcs = [
            layers.Dense(channel, name=f"fcs_{i}", dtype=policy) for i in range(len(self.kernels))
        ]

    def build(self, input_shape):
        check_image_shape("SKAttention", input_shape, self.channel)
        for branch in self.convs:
            branch.build(input_shape)
        self.fc.build((None, self.channel))
        for fc in self.fcs:
            fc.build((None, self.d))

    def call(self, inputs, training=False):
        # One branch per kernel size (different kernels: a loop over a handful of branches).
        feats = ops.stack([branch(inputs, training=training) for branch in self.convs], axis=0)
        # feats: (branch, batch, H, W, channel)
        u = ops.sum(feats, axis=0)  # (batch, H, W, channel): fuse
        s = ops.mean(u, axis=(1, 2))  # (batch, channel): average over H, W
        z = self.fc(s)  # (batch, d): no BN/ReLU, as upstream
        logits = ops.stack([fc(z) for fc in self.fcs], axis=0)  # (branch, batch, channel)
        attention_weights = _softmax(logits, axis=0)  # over the branches (axis 0)
        # Broadcast over H, W (axes 2, 3 of feats) and sum the weighted branches.
        return ops.sum(attention_weights[:, :, None, None, :] * feats, axis=0)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {
            **super().get_config(),
            "channel": self.channel,
            "kernels": list(self.kernels),
            "reduction": self.reduction,
            "group": self.group,
            "L": self.L,
        }
