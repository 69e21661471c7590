"""CoTAttention: Contextual Transformer attention (PyTorch reference, NCHW).

Paper:     Li, Yao, Pan, Mei, "Contextual Transformer Networks for Visual Recognition", 2021.
           https://arxiv.org/abs/2107.12292
Upstream:  xmu-xiaoma666/External-Attention-pytorch, model/attention/CoTAttention.py
           (class CoTAttention)
Licence:   MIT, Copyright (c) 2021 xmu-xiaoma666; the MIT notice ships with this package.
Local deviations from upstream:
  - none (same constructor, attribute names, state_dict keys, default init and forward math).
    Invalid arguments raise `ValueError` in `__init__`: `dim % 4 != 0` (upstream: torch's
    "in_channels must be divisible by groups") and even `kernel_size` (upstream: padding k//2 grows
    the map by one and the concatenation fails in forward).
  Upstream quirk kept: the k*k*dim attention map is averaged over its k*k positions (channel
  index c*k*k + j); no local neighbourhood aggregation takes place.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from reference_torch._checks import check_image_input, check_odd_kernel, check_positive_int


def check_cot_dim(dim: object) -> None:
    """Raise `ValueError` unless `dim` is a positive multiple of 4 (key_embed has groups=4)."""
    check_positive_int("dim", dim)
    if dim % 4:
        raise ValueError(
            "Expected `dim` to be divisible by 4 (key_embed is a grouped conv with groups=4). "
            f"Received: dim={dim!r}"
        )


class CoTAttention(nn.Module):
    """Static context from a k x k grouped conv (keys), plus dynamic context: values re-weighted
    by a softmax over positions of an attention map computed from [keys, input].

    Args:
        dim: Number of input channels (a multiple of 4). Defaults to 512.
        kernel_size: Odd kernel size of the key conv (padding `k // 2`). Defaults to 3.
    """

    def __init__(self, dim: int = 512, kernel_size: int = 3):
        super().__init__()
        check_cot_dim(dim)
        check_odd_kernel("kernel_size", kernel_size)
        self.dim = dim
        self.kernel_size = kernel_size
        self.key_embed = nn.Sequential(
            nn.Conv2d(
                dim, dim, kernel_size=kernel_size, padding=kernel_size // 2, groups=4, bias=False
            ),
            nn.BatchNorm2d(dim),
            nn.ReLU(),
        )
        self.value_embed = nn.Sequential(nn.Conv2d(dim, dim, 1, bias=False), nn.BatchNorm2d(dim))
        factor = 4
        self.attention_embed = nn.Sequential(
            nn.Conv2d(2 * dim, 2 * dim // factor, 1, bias=False),
            nn.BatchNorm2d(2 * dim // factor),
            nn.ReLU(),
            nn.Conv2d(2 * dim // factor, kernel_size * kernel_size * dim, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """`(B, dim, H, W) -> (B, dim, H, W)`."""
        check_image_input(x, self.dim)
        bs, c, h, w = x.shape
        k1 = self.key_embed(x)  # (B, C, H, W): static context
        v = self.value_embed(x).view(bs, c, -1)  # (B, C, HW)
        y = torch.cat([k1, x], dim=1)  # (B, 2C, H, W): keys first, then the input
        att = self.attention_embed(y)  # (B, C*k*k, H, W)
        att = att.reshape(bs, c, self.kernel_size * self.kernel_size, h, w)  # channel c*k*k + j
        att = att.mean(2, keepdim=False).view(bs, c, -1)  # (B, C, HW): mean over the k*k axis
        k2 = F.softmax(att, dim=-1) * v  # softmax over the HW positions, per channel
        k2 = k2.view(bs, c, h, w)
        return k1 + k2
