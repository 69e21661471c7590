"""TripletAttention: rotate-to-attend triplet attention (PyTorch reference, NCHW).

Paper:     Misra, Nalamada, Arasanipalai, Hou, "Rotate to Attend: Convolutional Triplet Attention
           Module", WACV 2021. https://arxiv.org/abs/2010.03045
Upstream:  xmu-xiaoma666/External-Attention-pytorch, model/attention/TripletAttention.py
           (classes BasicConv, ZPool, AttentionGate, TripletAttention)
Licence:   MIT, Copyright (c) 2021 xmu-xiaoma666; the MIT notice ships with this package.
Local deviations from upstream:
  - none (same constructors, attribute names, state_dict keys and forward math). Upstream quirks
    kept: BN momentum 0.01; the branch names do not say what they pool (`cw` pools over H, `hc`
    over W); the channel axis is a *spatial* axis of the `cw` and `hc` convs (zero-padded by 3);
    `sigmoid_` is in place, on a temporary. A `no_spatial` that is not a bool raises `ValueError`
    in `__init__` (upstream takes any truthy value).
"""

from __future__ import annotations

import torch
from torch import nn

from reference_torch._checks import check_image_input


class BasicConv(nn.Module):
    """Conv (no bias by default), then BN (eps 1e-5, momentum 0.01) if `bn`, then ReLU if `relu`.

    Args:
        in_planes: Input channels.
        out_planes: Output channels.
        kernel_size: Conv kernel size.
        stride, padding, dilation, groups, bias: As `nn.Conv2d`. Defaults 1, 0, 1, 1, False.
        relu: Apply a ReLU at the end. Defaults to True.
        bn: Apply a BatchNorm2d after the conv. Defaults to True.
    """

    def __init__(
        self,
        in_planes: int,
        out_planes: int,
        kernel_size: int,
        stride: int = 1,
        padding: int = 0,
        dilation: int = 1,
        groups: int = 1,
        relu: bool = True,
        bn: bool = True,
        bias: bool = False,
    ):
        super().__init__()
        self.out_channels = out_planes
        self.conv = nn.Conv2d(
            in_planes,
            out_planes,
            kernel_size=kernel_size,
            stride=stride,
            padding=padding,
            dilation=dilation,
            groups=groups,
            bias=bias,
        )
        self.bn = nn.BatchNorm2d(out_planes, eps=1e-5, momentum=0.01, affine=True) if bn else None
        self.relu = nn.ReLU() if relu else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv(x)
        if self.bn is not None:
            x = self.bn(x)
        if self.relu is not None:
            x = self.relu(x)
        return x


class ZPool(nn.Module):
    """`(B, C, H, W) -> (B, 2, H, W)`: the [max, mean] over axis 1, in that order."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat((torch.max(x, 1)[0].unsqueeze(1), torch.mean(x, 1).unsqueeze(1)), dim=1)


class AttentionGate(nn.Module):
    """`x * sigmoid(BN(conv7x7(ZPool(x))))`, the 7x7 conv zero-padded by 3 on the (H, W) plane."""

    def __init__(self):
        super().__init__()
        kernel_size = 7
        self.compress = ZPool()
        self.conv = BasicConv(
            2, 1, kernel_size, stride=1, padding=(kernel_size - 1) // 2, relu=False
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x_compress = self.compress(x)
        x_out = self.conv(x_compress)
        scale = torch.sigmoid_(x_out)  # in place on the BN output, a temporary
        return x * scale


class TripletAttention(nn.Module):
    """Averages three gated copies of the input: gated on the (C, W) plane (`cw`, pooled over H),
    on the (H, C) plane (`hc`, pooled over W) and on the (H, W) plane (`hw`, pooled over C).

    Args:
        no_spatial: Drop the `hw` branch and average the other two. Defaults to False.
    """

    def __init__(self, no_spatial: bool = False):
        super().__init__()
        if not isinstance(no_spatial, bool):
            raise ValueError(
                f"Expected `no_spatial` to be a bool. Received: no_spatial={no_spatial!r}"
            )
        self.cw = AttentionGate()
        self.hc = AttentionGate()
        self.no_spatial = no_spatial
        if not no_spatial:
            self.hw = AttentionGate()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """`(B, C, H, W) -> (B, C, H, W)`."""
        check_image_input(x)
        x_perm1 = x.permute(0, 2, 1, 3).contiguous()  # (B, H, C, W): pool H, conv on (C, W)
        x_out1 = self.cw(x_perm1)
        x_out11 = x_out1.permute(0, 2, 1, 3).contiguous()
        x_perm2 = x.permute(0, 3, 2, 1).contiguous()  # (B, W, H, C): pool W, conv on (H, C)
        x_out2 = self.hc(x_perm2)
        x_out21 = x_out2.permute(0, 3, 2, 1).contiguous()
        if not self.no_spatial:
            x_out = self.hw(x)  # pool C, conv on (H, W)
            x_out = 1 / 3 * (x_out + x_out11 + x_out21)
        else:
            x_out = 1 / 2 * (x_out11 + x_out21)
        return x_out
