"""ParNetAttention: the ParNet block's attention (PyTorch reference, NCHW).

Paper:     Goyal, Bochkovskiy, Deng, Koltun, "Non-deep Networks", 2021.
           https://arxiv.org/abs/2110.07641
Upstream:  xmu-xiaoma666/External-Attention-pytorch, model/attention/ParNetAttention.py
           (class ParNetAttention)
Licence:   MIT, Copyright (c) 2021 xmu-xiaoma666; the MIT notice ships with this package.
Local deviations from upstream:
  - none (same constructor, attribute names, state_dict keys and forward math). A non-positive
    `channel` raises `ValueError` in `__init__`, and an input whose channel count differs from
    `channel` raises `ValueError` in `forward` (upstream fails inside the first conv).
"""

from __future__ import annotations

import torch
from torch import nn

from reference_torch._checks import check_image_input, check_positive_int


class ParNetAttention(nn.Module):
    """`SiLU(BN(conv1x1(x)) + BN(conv3x3(x)) + sigmoid(conv1x1(mean_hw(x))) * x)`.

    Args:
        channel: Number of input (and output) channels. Defaults to 512.
    """

    def __init__(self, channel: int = 512):
        super().__init__()
        check_positive_int("channel", channel)
        self.sse = nn.Sequential(
            nn.AdaptiveAvgPool2d(1),
            nn.Conv2d(channel, channel, kernel_size=1),
            nn.Sigmoid(),
        )
        self.conv1x1 = nn.Sequential(
            nn.Conv2d(channel, channel, kernel_size=1),
            nn.BatchNorm2d(channel),
        )
        self.conv3x3 = nn.Sequential(
            nn.Conv2d(channel, channel, kernel_size=3, padding=1),
            nn.BatchNorm2d(channel),
        )
        self.silu = nn.SiLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """`(B, C, H, W) -> (B, C, H, W)`."""
        check_image_input(x, self.sse[1].in_channels)
        x1 = self.conv1x1(x)
        x2 = self.conv3x3(x)
        x3 = self.sse(x) * x  # (B, C, 1, 1) gate times the input
        return self.silu(x1 + x2 + x3)
