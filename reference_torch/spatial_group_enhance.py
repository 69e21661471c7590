"""SpatialGroupEnhance: spatial group-wise enhance, SGE (PyTorch reference, NCHW).

Paper:     Li, Hu, Yang, "Spatial Group-wise Enhance: Improving Semantic Feature Learning in
           Convolutional Networks", 2019. https://arxiv.org/abs/1905.09646
Upstream:  xmu-xiaoma666/External-Attention-pytorch, model/attention/SGE.py
           (class SpatialGroupEnhance)
Licence:   MIT, Copyright (c) 2021 xmu-xiaoma666; the MIT notice ships with this package.
Local deviations from upstream:
  - none (same constructor, attribute names, state_dict keys and forward math). Upstream quirks
    kept: the unbiased standard deviation with the epsilon added to it, and so a NaN output at
    H*W = 1 (zero degrees of freedom; torch warns).
"""

from __future__ import annotations

import torch
from torch import nn

from reference_torch._checks import check_image_input, check_positive_int
from reference_torch._init import upstream_init_weights


class SpatialGroupEnhance(nn.Module):
    """Gates every position of each channel group by the similarity of its local feature to the
    group's global average, normalised over the positions.

    Args:
        groups: Number of channel groups (the input's channels must be divisible by it).
    """

    def __init__(self, groups: int):
        super().__init__()
        check_positive_int("groups", groups)
        self.groups = groups
        self.avg_pool = nn.AdaptiveAvgPool2d(1)
        self.weight = nn.Parameter(torch.zeros(1, groups, 1, 1))
        self.bias = nn.Parameter(torch.zeros(1, groups, 1, 1))
        self.sig = nn.Sigmoid()
        self.init_weights()

    def init_weights(self) -> None:
        """Upstream's initialisation (called by upstream; a no-op here: no Conv/BN/Linear)."""
        upstream_init_weights(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """`(B, C, H, W) -> (B, C, H, W)`."""
        check_image_input(x)
        if x.shape[1] % self.groups:
            raise ValueError(
                f"Expected the input's channels (axis 1, NCHW) to be divisible by `groups`="
                f"{self.groups}. Received: input.shape={tuple(x.shape)}, groups={self.groups}"
            )
        b, c, h, w = x.shape
        x = x.view(b * self.groups, -1, h, w)  # (B*G, C/G, H, W), group-major
        xn = x * self.avg_pool(x)
        xn = xn.sum(dim=1, keepdim=True)  # (B*G, 1, H, W)
        t = xn.view(b * self.groups, -1)  # (B*G, H*W)
        t = t - t.mean(dim=1, keepdim=True)
        std = t.std(dim=1, keepdim=True) + 1e-5  # unbiased (N - 1), as upstream
        t = t / std
        t = t.view(b, self.groups, h, w)
        t = t * self.weight + self.bias
        t = t.view(b * self.groups, 1, h, w)
        x = x * self.sig(t)
        return x.view(b, c, h, w)
