"""CoordAtt: coordinate attention (PyTorch reference, NCHW).

Paper:     Hou, Zhou, Feng, "Coordinate Attention for Efficient Mobile Network Design", CVPR 2021.
           https://arxiv.org/abs/2103.02907
Upstream:  xmu-xiaoma666/External-Attention-pytorch, model/attention/CoordAttention.py
           (classes h_sigmoid, h_swish, CoordAtt)
Licence:   MIT, Copyright (c) 2021 xmu-xiaoma666; the MIT notice ships with this package.
Local deviations from upstream:
  - none (same constructors, attribute names, state_dict keys and forward math, including the
    in-place ReLU6 of h_sigmoid, which only ever writes to a temporary). Invalid arguments raise
    `ValueError` in `__init__`: `oup` other than `inp` or 1 (upstream fails at the final
    broadcast), and non-positive `inp`, `oup` or `reduction`.
"""

from __future__ import annotations

import torch
from torch import nn

from reference_torch._checks import check_image_input, check_positive_int


class h_sigmoid(nn.Module):  # noqa: N801 (upstream's class name)
    """Hard sigmoid `ReLU6(x + 3) / 6`.

    Args:
        inplace: Whether the ReLU6 writes into its input (the temporary `x + 3`). Defaults to True.
    """

    def __init__(self, inplace: bool = True):
        super().__init__()
        self.relu = nn.ReLU6(inplace=inplace)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu(x + 3) / 6


class h_swish(nn.Module):  # noqa: N801 (upstream's class name)
    """Hard swish `x * h_sigmoid(x)`.

    Args:
        inplace: Passed to the inner h_sigmoid. Defaults to True.
    """

    def __init__(self, inplace: bool = True):
        super().__init__()
        self.sigmoid = h_sigmoid(inplace=inplace)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.sigmoid(x)


def check_coord_att_arguments(inp: object, oup: object, reduction: object) -> None:
    """Raise `ValueError` unless `inp`, `oup`, `reduction` are positive ints and `oup` is `inp` or 1."""
    check_positive_int("inp", inp)
    check_positive_int("oup", oup)
    check_positive_int("reduction", reduction)
    if oup not in (inp, 1):
        raise ValueError(
            "Expected `oup` to equal `inp` or to be 1 (the gates multiply the input, so they "
            f"must broadcast over its channels). Received: oup={oup!r}, inp={inp!r}"
        )


class CoordAtt(nn.Module):
    """Gates the input by two direction-aware maps: one from the average over each row, one from
    the average over each column, encoded together by a shared 1x1 conv, BN and h_swish.

    Args:
        inp: Number of input channels.
        oup: Number of gate channels: `inp`, or 1 for one gate shared by all channels.
        reduction: The shared encoding has `mip = max(8, inp // reduction)` channels.
            Defaults to 32.
    """

    def __init__(self, inp: int, oup: int, reduction: int = 32):
        super().__init__()
        check_coord_att_arguments(inp, oup, reduction)
        self.pool_h = nn.AdaptiveAvgPool2d((None, 1))
        self.pool_w = nn.AdaptiveAvgPool2d((1, None))
        mip = max(8, inp // reduction)
        self.conv1 = nn.Conv2d(inp, mip, kernel_size=1, stride=1, padding=0)
        self.bn1 = nn.BatchNorm2d(mip)
        self.act = h_swish()
        self.conv_h = nn.Conv2d(mip, oup, kernel_size=1, stride=1, padding=0)
        self.conv_w = nn.Conv2d(mip, oup, kernel_size=1, stride=1, padding=0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """`(B, inp, H, W) -> (B, inp, H, W)`."""
        check_image_input(x, self.conv1.in_channels)
        identity = x
        _, _, h, w = x.size()
        x_h = self.pool_h(x)  # (B, C, H, 1): mean over W
        x_w = self.pool_w(x).permute(0, 1, 3, 2)  # (B, C, 1, W) -> (B, C, W, 1): mean over H
        y = torch.cat([x_h, x_w], dim=2)  # (B, C, H + W, 1)
        y = self.act(self.bn1(self.conv1(y)))  # (B, mip, H + W, 1)
        x_h, x_w = torch.split(y, [h, w], dim=2)
        x_w = x_w.permute(0, 1, 3, 2)  # (B, mip, 1, W)
        a_h = self.conv_h(x_h).sigmoid()  # (B, oup, H, 1)
        a_w = self.conv_w(x_w).sigmoid()  # (B, oup, 1, W)
        return identity * a_w * a_h
