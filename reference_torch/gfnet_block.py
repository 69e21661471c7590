"""GFNetBlock: GFNet's block, LayerNorm -> GlobalFilter -> LayerNorm -> MLP with one residual
(PyTorch reference, tokens (B, N, C)).

Paper:     Rao, Zhao, Zhu, Lu, Zhou, "Global Filter Networks for Image Classification",
           NeurIPS 2021. https://arxiv.org/abs/2107.00645
Upstream:  xmu-xiaoma666/External-Attention-pytorch, model/attention/gfnet.py
           (classes Block, Mlp, GlobalFilter; DropPath comes from timm.models.layers)
Licence:   MIT, Copyright (c) 2021 xmu-xiaoma666; the MIT notice ships with this package.
Local deviations from upstream:
  - the class is named `GFNetBlock`: upstream's `Block` is too generic a name for our package
    exports. Constructor, attribute names, state_dict keys and forward are upstream's, so a
    checkpoint of upstream's `Block` loads with strict=True.
  - `DropPath` is our own, with timm's semantics (per-sample stochastic depth, kept samples scaled
    by 1 / keep_prob, the identity in eval): upstream imports it from timm, which this package
    does not depend on. As upstream, it is only built when `drop_path > 0` (else `nn.Identity`).
  - Arguments upstream would accept but cannot work, or that Keras cannot build, raise a
    `ValueError`: non-positive `dim`, `h`, `w`; rates outside [0, 1]; an `mlp_ratio` with
    `int(dim * mlp_ratio) < 1` (upstream builds a zero-width hidden Linear; Keras cannot build
    a zero-unit Dense). Grid errors are GlobalFilter's (see `reference_torch.global_filter`).
"""

from __future__ import annotations

import torch
from torch import nn

from reference_torch._checks import check_positive_int, check_probability, check_sequence_input
from reference_torch.global_filter import GlobalFilter


def drop_path(
    x: torch.Tensor, drop_prob: float = 0.0, training: bool = False, scale_by_keep: bool = True
) -> torch.Tensor:
    """timm's stochastic depth: zero whole samples with probability `drop_prob` in training."""
    if drop_prob == 0.0 or not training:
        return x
    keep_prob = 1 - drop_prob
    shape = (x.shape[0],) + (1,) * (x.ndim - 1)  # one draw per sample
    random_tensor = x.new_empty(shape).bernoulli_(keep_prob)
    if keep_prob > 0.0 and scale_by_keep:
        random_tensor.div_(keep_prob)
    return x * random_tensor


class DropPath(nn.Module):
    """timm's `DropPath` (stand-in with the same semantics; no parameters or buffers).

    Args:
        drop_prob: Probability of dropping a sample's whole residual branch. Defaults to 0.
        scale_by_keep: Whether kept samples are divided by `1 - drop_prob`. Defaults to True.
    """

    def __init__(self, drop_prob: float = 0.0, scale_by_keep: bool = True):
        super().__init__()
        self.drop_prob = drop_prob
        self.scale_by_keep = scale_by_keep

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Identity in eval; per-sample drop and rescale in training."""
        return drop_path(x, self.drop_prob, self.training, self.scale_by_keep)


class Mlp(nn.Module):
    """gfnet's MLP: `drop(fc2(drop(act(fc1(x)))))`.

    Args:
        in_features: Input features.
        hidden_features: Hidden units. Defaults to `in_features`.
        out_features: Output features. Defaults to `in_features`.
        act_layer: Activation class, instantiated once. Defaults to `nn.GELU` (exact erf form).
        drop: Dropout rate after the activation and after `fc2`. Defaults to 0.
    """

    def __init__(
        self,
        in_features: int,
        hidden_features: int | None = None,
        out_features: int | None = None,
        act_layer: type[nn.Module] = nn.GELU,
        drop: float = 0.0,
    ):
        super().__init__()
        out_features = out_features or in_features
        hidden_features = hidden_features or in_features
        self.fc1 = nn.Linear(in_features, hidden_features)
        self.act = act_layer()
        self.fc2 = nn.Linear(hidden_features, out_features)
        self.drop = nn.Dropout(drop)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """`(..., in_features) -> (..., out_features)`."""
        x = self.fc1(x)
        x = self.act(x)
        x = self.drop(x)
        x = self.fc2(x)
        x = self.drop(x)
        return x


def check_block_arguments(
    dim: object, mlp_ratio: object, drop: object, drop_path: object, h: object, w: object
) -> None:
    """Raise `ValueError` for arguments GFNetBlock cannot work with (see module docstring)."""
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


class GFNetBlock(nn.Module):
    """`x + drop_path(mlp(norm2(filter(norm1(x)))))`: one residual around the whole chain; the
    filter has no residual of its own. Upstream's `Block` (gfnet.py).

    The filter is called without `spatial_size`, so N must be a perfect square a * a with
    `(a, a // 2 + 1) == (h, w)`.

    Args:
        dim: Number of features per token.
        mlp_ratio: Hidden units of the MLP per feature (`int(dim * mlp_ratio)`). Defaults to 4.
        drop: Dropout rate inside the MLP. Defaults to 0.
        drop_path: Stochastic-depth rate of the residual branch. Defaults to 0.
        act_layer: Activation class of the MLP. Defaults to `nn.GELU`.
        norm_layer: Normalisation class, called as `norm_layer(dim)`. Defaults to `nn.LayerNorm`
            (eps 1e-5).
        h: Filter height (the grid side a). Defaults to 14.
        w: Filter width (a // 2 + 1). Defaults to 8.
    """

    def __init__(
        self,
        dim: int,
        mlp_ratio: float = 4.0,
        drop: float = 0.0,
        drop_path: float = 0.0,
        act_layer: type[nn.Module] = nn.GELU,
        norm_layer: type[nn.Module] = nn.LayerNorm,
        h: int = 14,
        w: int = 8,
    ):
        super().__init__()
        check_block_arguments(dim, mlp_ratio, drop, drop_path, h, w)
        self.norm1 = norm_layer(dim)
        self.filter = GlobalFilter(dim, h=h, w=w)
        self.drop_path = DropPath(drop_path) if drop_path > 0.0 else nn.Identity()
        self.norm2 = norm_layer(dim)
        mlp_hidden_dim = int(dim * mlp_ratio)
        self.mlp = Mlp(
            in_features=dim, hidden_features=mlp_hidden_dim, act_layer=act_layer, drop=drop
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """`(B, N, dim) -> (B, N, dim)`, N = h * h."""
        check_sequence_input("input", x, self.mlp.fc1.in_features)
        x = x + self.drop_path(self.mlp(self.norm2(self.filter(self.norm1(x)))))
        return x
