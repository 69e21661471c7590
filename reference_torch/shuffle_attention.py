"""ShuffleAttention: SA-Net shuffle attention (PyTorch reference, NCHW).

Paper:     Zhang, Yang, "SA-Net: Shuffle Attention for Deep Convolutional Neural Networks",
           ICASSP 2021. https://arxiv.org/abs/2102.00240
Upstream:  xmu-xiaoma666/External-Attention-pytorch, model/attention/ShuffleAttention.py
           (class ShuffleAttention)
Licence:   MIT, Copyright (c) 2021 xmu-xiaoma666; the MIT notice ships with this package.
Local deviations from upstream:
  - none (same constructor, attribute names, state_dict keys and forward math). Upstream quirk
    kept: `reduction` is accepted and unused.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.parameter import Parameter

from reference_torch._checks import check_image_input, check_positive_int
from reference_torch._init import upstream_init_weights


class ShuffleAttention(nn.Module):
    """Splits channels into `G` groups, gates half of each group by its channel statistics and
    half by its GroupNorm-ed spatial map, then shuffles the channels with 2 groups.

    Args:
        channel: Number of input channels (`channel % (2 * G) == 0`). Defaults to 512.
        reduction: Unused (kept for upstream's signature). Defaults to 16.
        G: Number of channel groups. Defaults to 8.
    """

    def __init__(self, channel: int = 512, reduction: int = 16, G: int = 8):
        super().__init__()
        check_positive_int("channel", channel)
        check_positive_int("G", G)
        if channel % (2 * G):
            raise ValueError(
                "Expected `channel` to be divisible by `2 * G` (each group splits into two equal "
                f"halves). Received: G={G!r}, channel={channel!r}"
            )
        self.G = G
        self.channel = channel
        self.avg_pool = nn.AdaptiveAvgPool2d(1)
        self.gn = nn.GroupNorm(channel // (2 * G), channel // (2 * G))
        self.cweight = Parameter(torch.zeros(1, channel // (2 * G), 1, 1))
        self.cbias = Parameter(torch.ones(1, channel // (2 * G), 1, 1))
        self.sweight = Parameter(torch.zeros(1, channel // (2 * G), 1, 1))
        self.sbias = Parameter(torch.ones(1, channel // (2 * G), 1, 1))
        self.sigmoid = nn.Sigmoid()

    def init_weights(self) -> None:
        """Upstream's initialisation (defined upstream but never called by it)."""
        upstream_init_weights(self)

    @staticmethod
    def channel_shuffle(x: torch.Tensor, groups: int) -> torch.Tensor:
        """New channel `groups * i + k` <- old channel `k * C / groups + i`."""
        b, _, h, w = x.shape
        x = x.reshape(b, groups, -1, h, w)
        x = x.permute(0, 2, 1, 3, 4)
        return x.reshape(b, -1, h, w)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """`(B, C, H, W) -> (B, C, H, W)`."""
        check_image_input(x, self.channel)
        b, _, h, w = x.size()
        x = x.view(b * self.G, -1, h, w)  # (B*G, C/G, H, W), group-major
        x_0, x_1 = x.chunk(2, dim=1)  # (B*G, C/(2G), H, W) each
        # Channel attention.
        x_channel = self.avg_pool(x_0)
        x_channel = self.cweight * x_channel + self.cbias
        x_channel = x_0 * self.sigmoid(x_channel)
        # Spatial attention.
        x_spatial = self.gn(x_1)
        x_spatial = self.sweight * x_spatial + self.sbias
        x_spatial = x_1 * self.sigmoid(x_spatial)
        out = torch.cat([x_channel, x_spatial], dim=1)  # (B*G, C/G, H, W)
        out = out.contiguous().view(b, -1, h, w)
        return self.channel_shuffle(out, 2)
