"""WeightedPermuteMLP: Vision Permutator's permute-MLP (PyTorch reference, channels-last).

Paper:     Hou, Jiang, Yuan, Cheng, Yan, Feng, "Vision Permutator: A Permutable MLP-Like
           Architecture for Visual Recognition", TPAMI 2022. https://arxiv.org/abs/2106.12368
Upstream:  xmu-xiaoma666/External-Attention-pytorch, model/attention/ViP.py
           (classes MLP, WeightedPermuteMLP)
Licence:   MIT, Copyright (c) 2021 xmu-xiaoma666; the MIT notice ships with this package.
Local deviations from upstream:
  - none in the math or the state_dict (same constructors, attribute names, keys and forward,
    including the interleaved (C, 3) reweighting split, branch 1 weighting the w-branch and
    branch 2 the h-branch, and the reweighting MLP's hard-coded dropout 0.1).
  - Arguments and inputs upstream would reject obscurely raise a `ValueError` naming them:
    `dim` not divisible by `seg_dim` or an input other than (B, seg_dim, seg_dim, dim) (upstream
    fails at a reshape or inside `mlp_h`/`mlp_w`), and `dim < 4`, whose reweighting hidden layer
    has `dim // 4 = 0` units (upstream builds a zero-width Linear and returns a
    weight-independent reweighting; Keras cannot build a zero-unit Dense).
"""

from __future__ import annotations

import torch
from torch import nn

from reference_torch._checks import check_positive_int, check_probability


class MLP(nn.Module):
    """`drop(fc2(drop(act(fc1(x)))))`, upstream ViP's helper (dropout 0.1 by default).

    Args:
        in_features: Input features.
        hidden_features: Hidden units.
        out_features: Output features.
        act_layer: Activation class, instantiated once. Defaults to `nn.GELU` (exact erf form).
        drop: Dropout rate after the activation and after `fc2`. Defaults to 0.1.
    """

    def __init__(
        self,
        in_features: int,
        hidden_features: int,
        out_features: int,
        act_layer: type[nn.Module] = nn.GELU,
        drop: float = 0.1,
    ):
        super().__init__()
        self.fc1 = nn.Linear(in_features, hidden_features)
        self.act = act_layer()
        self.fc2 = nn.Linear(hidden_features, out_features)
        self.drop = nn.Dropout(drop)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """`(..., in_features) -> (..., out_features)`."""
        return self.drop(self.fc2(self.drop(self.act(self.fc1(x)))))


def check_segments(dim: object, seg_dim: object) -> None:
    """Raise `ValueError` unless `seg_dim` divides `dim` and `dim >= 4` (see module docstring)."""
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


class WeightedPermuteMLP(nn.Module):
    """Mixes channels (`mlp_c`), rows (`mlp_h`) and columns (`mlp_w`) with three Linears on
    permuted segments, and sums the three branches with per-channel softmax weights.

    `mlp_h` and `mlp_w` are `Linear(dim, dim)` applied to vectors of length H * S and W * S
    (S = dim // seg_dim), so the input must be `(B, seg_dim, seg_dim, dim)`, as upstream.

    Args:
        dim: Number of input and output channels (last axis).
        seg_dim: Number of channel segments; also the required height and width. Defaults to 8.
        qkv_bias: Whether `mlp_c`, `mlp_h` and `mlp_w` have biases. Defaults to False.
        proj_drop: Dropout rate after `proj`. Defaults to 0.
    """

    def __init__(self, dim: int, seg_dim: int = 8, qkv_bias: bool = False, proj_drop: float = 0.0):
        super().__init__()
        check_segments(dim, seg_dim)
        check_probability("proj_drop", proj_drop)
        self.seg_dim = seg_dim

        self.mlp_c = nn.Linear(dim, dim, bias=qkv_bias)
        self.mlp_h = nn.Linear(dim, dim, bias=qkv_bias)
        self.mlp_w = nn.Linear(dim, dim, bias=qkv_bias)

        self.reweighting = MLP(dim, dim // 4, dim * 3)

        self.proj = nn.Linear(dim, dim)
        self.proj_drop = nn.Dropout(proj_drop)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """`(B, seg_dim, seg_dim, dim) -> (B, seg_dim, seg_dim, dim)` (channels-last)."""
        dim = self.proj.in_features
        g = self.seg_dim
        if x.dim() != 4 or x.shape[-1] != dim or x.shape[1] != g or x.shape[2] != g:
            raise ValueError(
                f"WeightedPermuteMLP expects a 4D channels-last input (batch, {g}, {g}, {dim}): "
                "mlp_h and mlp_w mix H * (dim // seg_dim) and W * (dim // seg_dim) features, so "
                "H = W = seg_dim. "
                f"Received: input.shape={tuple(x.shape)}"
            )
        B, H, W, C = x.shape

        c_embed = self.mlp_c(x)

        S = C // g
        # h-branch: segment g, column w; mlp_h mixes the (H, S) pairs (H the slower index).
        h_embed = x.reshape(B, H, W, g, S).permute(0, 3, 2, 1, 4).reshape(B, g, W, H * S)
        h_embed = self.mlp_h(h_embed).reshape(B, g, W, H, S).permute(0, 3, 2, 1, 4)
        h_embed = h_embed.reshape(B, H, W, C)

        # w-branch: segment g, row h; mlp_w mixes the (W, S) pairs.
        w_embed = x.reshape(B, H, W, g, S).permute(0, 3, 1, 2, 4).reshape(B, g, H, W * S)
        w_embed = self.mlp_w(w_embed).reshape(B, g, H, W, S).permute(0, 2, 3, 1, 4)
        w_embed = w_embed.reshape(B, H, W, C)

        weight = (c_embed + h_embed + w_embed).permute(0, 3, 1, 2).flatten(2).mean(2)  # (B, C)
        # Interleaved split: feature c * 3 + branch; softmax over the 3 branches.
        weight = self.reweighting(weight).reshape(B, C, 3).permute(2, 0, 1).softmax(0)
        weight = weight.unsqueeze(2).unsqueeze(2)  # (3, B, 1, 1, C)

        # Branch 0 weights c, branch 1 weights w, branch 2 weights h (upstream's order).
        x = c_embed * weight[0] + w_embed * weight[1] + h_embed * weight[2]
        return self.proj_drop(self.proj(x))
