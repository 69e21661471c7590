"""GFNetBlock: GFNet's block, LayerNorm -> GlobalFilter -> LayerNorm -> MLP with one residual
(Keras 3 port, tokens (B, N, C)). Upstream calls it `Block` (gfnet.py)."""

from __future__ import annotations

import keras
from keras import layers

from tf_attention._checks import check_positive_int, check_probability, check_sequence_shape
from tf_attention._drop_path import DropPath
from tf_attention._mlp import TwoLayerMlp
from tf_attention.global_filter import GlobalFilter

# Keras names for torch's class arguments; None means upstream's default.
_NORM_LAYERS = ("layer_norm", None)


def check_block_arguments(
    dim: object, mlp_ratio: object, drop: object, drop_path: object, h: object, w: object
) -> None:
    """Raise `ValueError` for arguments GFNetBlock cannot work with (as the torch reference)."""
    for name, value in (("dim", dim), ("h", h), ("w", w)):
        check_positive_int(name, value)
    check_probability("drop", drop)
    check_probability("drop_path", drop_path)
    if (
        isinstance(mlp_ratio, bool)
        or not isinstance(mlp_ratio, int | float)
        or int(dim * mlp_ratio) < 1
    ):
        raise ValueError(
            "Expected `mlp_ratio` to be a number with int(dim * mlp_ratio) >= 1 (the MLP's hidden "
            f"units). Received: mlp_ratio={mlp_ratio!r}, dim={dim!r}"
        )


@keras.saving.register_keras_serializable(package="tf_attention")
class GFNetBlock(layers.Layer):
    """`x + drop_path(mlp(norm2(filter(norm1(x)))))`: one residual around the whole chain; the
    filter has no residual of its own. Upstream's `Block` (gfnet.py).

    The filter is called without `spatial_size`, so N must be a perfect square a * a with
    `(a, a // 2 + 1) == (h, w)`.

    torch takes classes for `act_layer` and `norm_layer`; this port takes names: `act_layer` is a
    Keras activation name (`"gelu"`, the default, is the exact erf GELU of torch `nn.GELU`;
    `"relu"` is torch `nn.ReLU`...), `norm_layer` only `"layer_norm"` (torch `nn.LayerNorm`,
    epsilon 1e-5). `None` means the default for either.

    Args:
        dim: Number of features per token.
        mlp_ratio: Hidden units of the MLP per feature (`int(dim * mlp_ratio)`). Defaults to `4.0`.
        drop: Dropout rate inside the MLP. Defaults to `0.0`.
        drop_path: Stochastic-depth rate of the residual branch. Defaults to `0.0`.
        act_layer: Activation name of the MLP. Defaults to `"gelu"`.
        norm_layer: Normalisation name; only `"layer_norm"`. Defaults to `"layer_norm"`.
        h: Filter height (the grid side a). Defaults to `14`.
        w: Filter width (a // 2 + 1). Defaults to `8`.
        **kwargs: Base layer keyword arguments, such as `name` and `dtype`.

    Input shape:
        `(batch, N, dim)` with N = h * h.

    Output shape:
        Same as the input.

    Reference:
        - [Rao et al., 2021](https://arxiv.org/abs/2107.00645); torch:
          `reference_torch.GFNetBlock`.
    """

    def __init__(
        self,
        dim: int,
        mlp_ratio: float = 4.0,
        drop: float = 0.0,
        drop_path: float = 0.0,
        act_layer: str | None = "gelu",
        norm_layer: str | None = "layer_norm",
        h: int = 14,
        w: int = 8,
        **kwargs,
    ):
        check_block_arguments(dim, mlp_ratio, drop, drop_path, h, w)
        if norm_layer not in _NORM_LAYERS:
            raise ValueError(
                "Expected `norm_layer` to be 'layer_norm' (torch nn.LayerNorm) or None. "
                f"Received: norm_layer={norm_layer!r}"
            )
        super().__init__(**kwargs)
        self.dim, self.mlp_ratio, self.drop, self.drop_path_rate = dim, mlp_ratio, drop, drop_path
        self.act_layer, self.norm_layer, self.h, self.w = act_layer, norm_layer, h, w
        # Mirrors torch norm1, filter, drop_path (DropPath, or Identity at 0), norm2, mlp (Mlp:
        # fc1, act, fc2, drop). LayerNorm epsilon spelled out: torch 1e-5, Keras 1e-3.
        policy = self.dtype_policy
        self.norm1 = layers.LayerNormalization(epsilon=1e-5, name="norm1", dtype=policy)
        self.filter = GlobalFilter(dim, h=h, w=w, name="filter", dtype=policy)
        self.drop_path = (
            DropPath(drop_path, name="drop_path", dtype=policy)
            if drop_path > 0.0
            else layers.Identity(name="drop_path", dtype=policy)
        )
        self.norm2 = layers.LayerNormalization(epsilon=1e-5, name="norm2", dtype=policy)
        self.mlp = TwoLayerMlp(
            dim,
            int(dim * mlp_ratio),
            dim,
            activation=act_layer or "gelu",
            drop=drop,
            name="mlp",
            dtype=policy,
        )

    def build(self, input_shape):
        check_sequence_shape("input", input_shape, self.dim)
        for layer in (self.norm1, self.filter, self.norm2, self.mlp):
            layer.build((None, input_shape[1], self.dim))

    def call(self, inputs, training=False):
        branch = self.filter(self.norm1(inputs))
        branch = self.mlp(self.norm2(branch), training=training)
        return inputs + self.drop_path(branch, training=training)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {
            **super().get_config(),
            "dim": self.dim,
            "mlp_ratio": self.mlp_ratio,
            "drop": self.drop,
            "drop_path": self.drop_path_rate,
            "act_layer": self.act_layer,
            "norm_layer": self.norm_layer,
            "h": self.h,
            "w": self.w,
        }
