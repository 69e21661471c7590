"""SKAttention: Selective Kernel attention (PyTorch reference, NCHW).

Paper:     Li, Wang, Hu, Yang, "Selective Kernel Networks", CVPR 2019.
           https://arxiv.org/abs/1903.06586
Upstream:  xmu-xiaoma666/External-Attention-pytorch, model/attention/SKAttention.py
           (class SKAttention)
Licence:   MIT, Copyright (c) 2021 xmu-xiaoma666; the MIT notice ships with this package.
Local deviations from upstream:
  - none (same constructor, attribute names, state_dict keys and forward math). The `kernels`
    default is the tuple `(1, 3, 5, 7)` instead of the mutable list `[1, 3, 5, 7]` (same values;
    lists are still accepted). Upstream quirk kept: `fc` has no BN/ReLU after it (the paper has).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence

import torch
from torch import nn

from reference_torch._checks import check_image_input, check_odd_kernel, check_positive_int


class SKAttention(nn.Module):
    """Fuses branches of different kernel sizes with a softmax over the branches per channel.

    Args:
        channel: Number of input channels. Defaults to 512.
        kernels: Odd kernel sizes, one branch each. Defaults to (1, 3, 5, 7).
        reduction: `d = max(L, channel // reduction)` units in the squeeze layer. Defaults to 16.
        group: Groups of every branch convolution (`channel % group == 0`). Defaults to 1.
        L: Minimum width of the squeeze layer. Defaults to 32.
    """

    def __init__(
        self,
        channel: int = 512,
        kernels: Sequence[int] = (1, 3, 5, 7),
        reduction: int = 16,
        group: int = 1,
        L: int = 32,
    ):
        super().__init__()
        check_positive_int("channel", channel)
        if isinstance(kernels, str | bytes) or not isinstance(kernels, Sequence) or not kernels:
            raise ValueError(
                "Expected `kernels` to be a non-empty list of odd kernel sizes. "
                f"Received: kernels={kernels!r}"
            )
        for index, kernel in enumerate(kernels):
            check_odd_kernel(f"kernels[{index}]", kernel)
        check_positive_int("reduction", reduction)
        check_positive_int("group", group)
        if channel % group:
            raise ValueError(
                "Expected `channel` to be divisible by `group` (grouped convolutions). "
                f"Received: group={group!r}, channel={channel!r}"
            )
        check_positive_int("L", L)
        self.d = max(L, channel // reduction)
        self.convs = nn.ModuleList([])
        for k in kernels:
            self.convs.append(
                nn.Sequential(
                    OrderedDict(
                        [
                            (
                                "conv",
                                nn.Conv2d(
                                    channel, channel, kernel_size=k, padding=k // 2, groups=group
                                ),
                            ),
                            ("bn", nn.BatchNorm2d(channel)),
                            ("relu", nn.ReLU()),
                        ]
                    )
                )
            )
        self.fc = nn.Linear(channel, self.d)
        self.fcs = nn.ModuleList([])
        for _ in range(len(kernels)):
            self.fcs.append(nn.Linear(self.d, channel))
        self.softmax = nn.Softmax(dim=0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """`(B, C, H, W) -> (B, C, H, W)`."""
        check_image_input(x, self.fc.in_features)
        bs, c, _, _ = x.size()
        conv_outs = [conv(x) for conv in self.convs]
        feats = torch.stack(conv_outs, 0)  # (K, B, C, H, W)
        u = sum(conv_outs)  # (B, C, H, W)
        s = u.mean(-1).mean(-1)  # (B, C)
        z = self.fc(s)  # (B, d): no BN/ReLU, as upstream
        weights = [fc(z).view(bs, c, 1, 1) for fc in self.fcs]
        attention_weights = self.softmax(torch.stack(weights, 0))  # (K, B, C, 1, 1), over K
        return (attention_weights * feats).sum(0)
