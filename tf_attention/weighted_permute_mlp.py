"""WeightedPermuteMLP: Vision Permutator's permute-MLP (Keras 3 port, channels-last)."""

from __future__ import annotations

import keras
from keras import layers, ops

from tf_attention._checks import check_positive_int, check_probability
from tf_attention._mlp import TwoLayerMlp

# torch's (0, 3, 2, 1, 4): (B, H, W, seg, S) <-> (B, seg, W, H, S); its own inverse.
_H_BRANCH_ORDER = (0, 3, 2, 1, 4)
# torch's (0, 3, 1, 2, 4): (B, H, W, seg, S) -> (B, seg, H, W, S), undone by (0, 2, 3, 1, 4).
_W_BRANCH_ORDER = (0, 3, 1, 2, 4)
_W_BRANCH_INVERSE = (0, 2, 3, 1, 4)


def check_segments(dim: object, seg_dim: object) -> None:
    """Raise `ValueError` unless `seg_dim` divides `dim` and `dim >= 4` (a reweighting hidden
    layer of `dim // 4` units needs at least one)."""
    check_positive_int("dim", dim)
    check_positive_int("seg_dim", seg_dim)
    if dim % seg_dim:
        raise ValueError(
            "Expected `seg_dim` to divide `dim` (channels split into seg_dim segments of "
            f"dim // seg_dim). Received: dim={dim!r}, seg_dim={seg_dim!r}"
        )
    if dim < 4:
        raise ValueError(
            "Expected `dim` to be at least 4: the reweighting MLP has dim // 4 hidden units. "
            f"Received: dim={dim!r}"
        )


@keras.saving.register_keras_serializable(package="tf_attention")
class WeightedPermuteMLP(layers.Layer):
    """Mixes channels (`mlp_c`), rows (`mlp_h`) and columns (`mlp_w`) with three Dense layers on
    permuted segments, and sums the three branches with per-channel softmax weights.

    `mlp_h` and `mlp_w` map `dim` features made of H * S and W * S values
    (S = dim // seg_dim), so the input must be `(batch, seg_dim, seg_dim, dim)`, as upstream.
    The reweighting MLP's GELU is torch's exact erf form written out (`_mlp.exact_gelu`):
    Keras' own exact GELU builds its 1/sqrt(2) through a float32 constant and is off by 5e-9 in
    float64, 50x the float64 tolerance.

    Args:
        dim: Number of input and output channels (last axis).
        seg_dim: Number of channel segments; also the required height and width.
            Defaults to `8`.
        qkv_bias: Whether `mlp_c`, `mlp_h` and `mlp_w` have biases. Defaults to `False`.
        proj_drop: Dropout rate after `proj`. Defaults to `0.0`.
        **kwargs: Base layer keyword arguments, such as `name` and `dtype`.

    Input shape:
        4D tensor `(batch, seg_dim, seg_dim, dim)` (channels-last, as the torch reference).

    Output shape:
        Same as the input.

    Reference:
        - [Hou et al., 2022](https://arxiv.org/abs/2106.12368); torch:
          `reference_torch.WeightedPermuteMLP`.
    """

    def __init__(
        self,
        dim: int,
        seg_dim: int = 8,
        qkv_bias: bool = False,
        proj_drop: float = 0.0,
        **kwargs,
    ):
        check_segments(dim, seg_dim)
        check_probability("proj_drop", proj_drop)
        super().__init__(**kwargs)
        self.dim, self.seg_dim, self.qkv_bias, self.proj_drop_rate = (
            dim,
            seg_dim,
            qkv_bias,
            proj_drop,
        )
        # Mirrors torch mlp_c, mlp_h, mlp_w, reweighting (MLP: fc1, act, fc2, drop with the
        # hard-coded rate 0.1), proj, proj_drop.
        policy = self.dtype_policy
        use_bias = bool(qkv_bias)
        self.mlp_c = layers.Dense(dim, use_bias=use_bias, name="mlp_c", dtype=policy)
        self.mlp_h = layers.Dense(dim, use_bias=use_bias, name="mlp_h", dtype=policy)
        self.mlp_w = layers.Dense(dim, use_bias=use_bias, name="mlp_w", dtype=policy)
        self.reweighting = TwoLayerMlp(
            dim, dim // 4, dim * 3, activation="gelu", drop=0.1, name="reweighting", dtype=policy
        )
        self.proj = layers.Dense(dim, name="proj", dtype=policy)
        self.proj_drop = layers.Dropout(proj_drop, name="proj_drop", dtype=policy)

    def build(self, input_shape):
        expected = (self.seg_dim, self.seg_dim, self.dim)
        if len(input_shape) != 4 or any(
            a is not None and a != e for a, e in zip(input_shape[1:], expected, strict=True)
        ):
            raise ValueError(
                f"WeightedPermuteMLP expects a 4D channels-last input (batch, {self.seg_dim}, "
                f"{self.seg_dim}, {self.dim}): mlp_h and mlp_w mix H * (dim // seg_dim) and "
                "W * (dim // seg_dim) features, so H = W = seg_dim. "
                f"Received: input_shape={tuple(input_shape)}"
            )
        for layer in (self.mlp_c, self.mlp_h, self.mlp_w, self.proj):
            layer.build((None, None, None, self.dim))
        self.reweighting.build((None, self.dim))

    def call(self, inputs, training=False):
        g, dim = self.seg_dim, self.dim
        S = dim // g
        c_embed = self.mlp_c(inputs)  # (B, H, W, C)
        segments = ops.reshape(inputs, (-1, g, g, g, S))  # (B, H, W, seg, S), H = W = seg

        # h-branch: (B, seg, W, H * S), H the slower index, as torch lays it out for mlp_h.
        h_embed = ops.reshape(ops.transpose(segments, _H_BRANCH_ORDER), (-1, g, g, g * S))
        h_embed = ops.reshape(self.mlp_h(h_embed), (-1, g, g, g, S))  # (B, seg, W, H, S)
        h_embed = ops.reshape(ops.transpose(h_embed, _H_BRANCH_ORDER), (-1, g, g, dim))

        # w-branch: (B, seg, H, W * S), as torch lays it out for mlp_w.
        w_embed = ops.reshape(ops.transpose(segments, _W_BRANCH_ORDER), (-1, g, g, g * S))
        w_embed = ops.reshape(self.mlp_w(w_embed), (-1, g, g, g, S))  # (B, seg, H, W, S)
        w_embed = ops.reshape(ops.transpose(w_embed, _W_BRANCH_INVERSE), (-1, g, g, dim))

        weight = ops.mean(c_embed + h_embed + w_embed, axis=(1, 2))  # (B, C): mean over H, W
        # Interleaved split: feature c * 3 + branch, softmax over the 3 branches (last axis).
        weight = ops.softmax(ops.reshape(self.reweighting(weight, training=training), (-1, dim, 3)))
        weight = weight[:, None, None, :, :]  # (B, 1, 1, C, 3)

        # Branch 0 weights c, branch 1 weights w, branch 2 weights h (upstream's order).
        out = c_embed * weight[..., 0] + w_embed * weight[..., 1] + h_embed * weight[..., 2]
        return self.proj_drop(self.proj(out), training=training)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {
            **super().get_config(),
            "dim": self.dim,
            "seg_dim": self.seg_dim,
            "qkv_bias": self.qkv_bias,
            "proj_drop": self.proj_drop_rate,
        }
