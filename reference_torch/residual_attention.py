"""ResidualAttention: class-specific residual attention (PyTorch reference, NCHW in, logits out).

Paper:     Zhu, Wu, "Residual Attention: A Simple but Effective Method for Multi-Label
           Recognition", ICCV 2021. https://arxiv.org/abs/2108.02456
Upstream:  xmu-xiaoma666/External-Attention-pytorch, model/attention/ResidualAttention.py
           (class ResidualAttention)
Licence:   MIT, Copyright (c) 2021 xmu-xiaoma666; the MIT notice ships with this package.
Local deviations from upstream:
  - none (same constructor, attribute names, state_dict keys and forward math). Invalid `channel`,
    `num_class` or a non-numeric `la` raise `ValueError` in `__init__`.
"""

from __future__ import annotations

import math
import numbers

import torch
from torch import nn

from reference_torch._checks import check_image_input, check_positive_int


class ResidualAttention(nn.Module):
    """Class scores as the spatial mean plus `la` times the spatial max of 1x1-conv class maps.

    Args:
        channel: Number of input channels. Defaults to 512.
        num_class: Number of classes (output features). Defaults to 1000.
        la: Weight of the spatial max (lambda in the paper). Defaults to 0.2.
    """

    def __init__(self, channel: int = 512, num_class: int = 1000, la: float = 0.2):
        super().__init__()
        check_positive_int("channel", channel)
        check_positive_int("num_class", num_class)
        if isinstance(la, bool) or not isinstance(la, numbers.Real) or not math.isfinite(la):
            raise ValueError(f"Expected `la` to be a finite real number. Received: la={la!r}")
        self.la = la
        self.fc = nn.Conv2d(
            in_channels=channel, out_channels=num_class, kernel_size=1, stride=1, bias=False
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """`(B, C, H, W) -> (B, num_class)`."""
        check_image_input(x, self.fc.in_channels)
        y_raw = self.fc(x).flatten(2)  # (B, num_class, H*W)
        y_avg = torch.mean(y_raw, dim=2)  # (B, num_class)
        y_max = torch.max(y_raw, dim=2)[0]  # (B, num_class)
        return y_avg + self.la * y_max
