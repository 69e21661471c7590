"""SEAttention: Squeeze-and-Excitation channel attention (PyTorch reference, NCHW).

Paper:     Hu, Shen, Sun, "Squeeze-and-Excitation Networks", CVPR 2018. https://arxiv.org/abs/1709.01507
Upstream:  xmu-xiaoma666/External-Attention-pytorch, model/attention/SEAttention.py (class SEAttention)
Licence:   MIT, Copyright (c) 2021 xmu-xiaoma666; the MIT notice ships with this package.
Local deviations from upstream:
  - none (same constructor, attribute names, state_dict keys and forward math).
"""

from __future__ import annotations

import torch
from torch import nn

from reference_torch._checks import check_image_input, check_reduction
from reference_torch._init import upstream_init_weights


class SEAttention(nn.Module):
    """Re-weights channels with a gate computed from their global average.

    Args:
        channel: Number of input channels. Defaults to 512.
        reduction: Bottleneck ratio (`channel // reduction` hidden units). Defaults to 16.
    """

    def __init__(self, channel: int = 512, reduction: int = 16):
        super().__init__()
        check_reduction(channel, reduction)
        self.avg_pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Sequential(
            nn.Linear(channel, channel // reduction, bias=False),
            nn.ReLU(inplace=True),
            nn.Linear(channel // reduction, channel, bias=False),
            nn.Sigmoid(),
        )

    def init_weights(self) -> None:
        """Upstream's initialisation (defined upstream but never called by it)."""
        upstream_init_weights(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """`(B, C, H, W) -> (B, C, H, W)`."""
        check_image_input(x, self.fc[0].in_features)
        b, c, _, _ = x.size()
        y = self.avg_pool(x).view(b, c)
        y = self.fc(y).view(b, c, 1, 1)
        return x * y.expand_as(x)
