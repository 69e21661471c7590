"""CBAMBlock: Convolutional Block Attention Module (PyTorch reference, NCHW).

Paper:     Woo, Park, Lee, Kweon, "CBAM: Convolutional Block Attention Module", ECCV 2018.
           https://arxiv.org/abs/1807.06521
Upstream:  xmu-xiaoma666/External-Attention-pytorch, model/attention/CBAM.py
           (classes ChannelAttention, SpatialAttention, CBAMBlock)
Licence:   MIT, Copyright (c) 2021 xmu-xiaoma666; the MIT notice ships with this package.
Local deviations from upstream:
  - none (same constructors, attribute names, state_dict keys and forward math, including the
    residual `out + x`). Invalid arguments raise `ValueError` in `__init__`: `reduction > channel`
    (upstream builds a zero-width bottleneck) and even `kernel_size` (upstream's `padding=k//2`
    grows the map by one and fails at the broadcast).
"""

from __future__ import annotations

import torch
from torch import nn

from reference_torch._checks import (
    check_image_input,
    check_odd_kernel,
    check_reduction,
)
from reference_torch._init import upstream_init_weights


class ChannelAttention(nn.Module):
    """CBAM's channel gate: a shared bottleneck MLP on the max- and average-pooled channels.

    Args:
        channel: Number of input channels.
        reduction: Bottleneck ratio (`channel // reduction` hidden units). Defaults to 16.
    """

    def __init__(self, channel: int, reduction: int = 16):
        super().__init__()
        check_reduction(channel, reduction)
        self.maxpool = nn.AdaptiveMaxPool2d(1)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.se = nn.Sequential(
            nn.Conv2d(channel, channel // reduction, 1, bias=False),
            nn.ReLU(),
            nn.Conv2d(channel // reduction, channel, 1, bias=False),
        )
        self.sigmoid = nn.Sigmoid()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """`(B, C, H, W) -> (B, C, 1, 1)` gate."""
        max_out = self.se(self.maxpool(x))
        avg_out = self.se(self.avgpool(x))
        return self.sigmoid(max_out + avg_out)


class SpatialAttention(nn.Module):
    """CBAM's spatial gate: a k x k conv over the channel-wise [max, mean] maps.

    Args:
        kernel_size: Odd kernel size of the conv (padding `k // 2`). Defaults to 7.
    """

    def __init__(self, kernel_size: int = 7):
        super().__init__()
        check_odd_kernel("kernel_size", kernel_size)
        self.conv = nn.Conv2d(2, 1, kernel_size=kernel_size, padding=kernel_size // 2)
        self.sigmoid = nn.Sigmoid()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """`(B, C, H, W) -> (B, 1, H, W)` gate."""
        max_result, _ = torch.max(x, dim=1, keepdim=True)
        avg_result = torch.mean(x, dim=1, keepdim=True)
        result = torch.cat([max_result, avg_result], 1)  # (B, 2, H, W): [max, mean]
        return self.sigmoid(self.conv(result))


class CBAMBlock(nn.Module):
    """Channel gate, then spatial gate on the refined map, then a residual add of the input.

    Args:
        channel: Number of input channels. Defaults to 512.
        reduction: Bottleneck ratio of the channel gate. Defaults to 16.
        kernel_size: Odd kernel size of the spatial gate's conv. Defaults to 49.
    """

    def __init__(self, channel: int = 512, reduction: int = 16, kernel_size: int = 49):
        super().__init__()
        self.ca = ChannelAttention(channel=channel, reduction=reduction)
        self.sa = SpatialAttention(kernel_size=kernel_size)

    def init_weights(self) -> None:
        """Upstream's initialisation (defined upstream but never called by it)."""
        upstream_init_weights(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """`(B, C, H, W) -> (B, C, H, W)`."""
        check_image_input(x, self.ca.se[0].in_channels)
        residual = x
        out = x * self.ca(x)
        out = out * self.sa(out)
        return out + residual
