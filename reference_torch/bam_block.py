"""BAMBlock: Bottleneck Attention Module (PyTorch reference, NCHW).

Paper:     Park, Woo, Lee, Kweon, "BAM: Bottleneck Attention Module", BMVC 2018.
           https://arxiv.org/abs/1807.06514
Upstream:  xmu-xiaoma666/External-Attention-pytorch, model/attention/BAM.py at commit 8f69516
           (classes Flatten, ChannelAttention, SpatialAttention, BAMBlock)
Licence:   MIT, Copyright (c) 2021 xmu-xiaoma666; the MIT notice ships with this package.
Local deviations from upstream:
  - none (same constructors, attribute names, state_dict keys and forward math). Upstream's quirks
    are kept: three dilated 3x3 convs (the paper has two, upstream #102), each with `padding=1`
    whatever the dilation (upstream #38; PR #111's `padding="same"` is not adopted), so the spatial
    map shrinks by `6 * (dia_val - 1)` and only broadcasts back when `dia_val == 1` (any H, W) or
    `H == W == 6 * dia_val - 5` (then it is one value per sample).
  - errors instead of obscure failures: invalid `channel`/`reduction`/`dia_val`/`num_layers` raise
    `ValueError` in `__init__`; an input size whose spatial branch cannot broadcast raises a
    `ValueError` naming H, W and `dia_val` in `forward` (upstream fails in a conv or `expand_as`).
"""

from __future__ import annotations

import torch
from torch import nn

from reference_torch._checks import check_image_input, check_positive_int, check_reduction
from reference_torch._init import upstream_init_weights


def _check_num_layers(num_layers: object) -> None:
    if isinstance(num_layers, bool) or not isinstance(num_layers, int) or num_layers < 0:
        raise ValueError(
            "Expected `num_layers` to be a non-negative integer. "
            f"Received: num_layers={num_layers!r}"
        )


def check_spatial_size(height: int, width: int, dia_val: int) -> None:
    """Raise `ValueError` unless the spatial branch's output broadcasts to `height` x `width`.

    Each of the three dilated convs pads 1 but spans `2 * dia_val + 1` pixels, so the map shrinks
    by `6 * (dia_val - 1)`: it keeps its size for `dia_val == 1` and is 1x1 exactly when
    `height == width == 6 * dia_val - 5`. Every other size fails to broadcast (or to convolve).
    """
    if dia_val == 1 or height == width == 6 * dia_val - 5:
        return
    raise ValueError(
        f"BAMBlock's spatial branch (three 3x3 convs with padding=1 and dilation dia_val) shrinks "
        f"the map by 6 * (dia_val - 1) = {6 * (dia_val - 1)} pixels, so its output broadcasts "
        f"back only for dia_val=1 (any size) or H = W = 6 * dia_val - 5 = {6 * dia_val - 5}. "
        f"Use dia_val=1 or a {6 * dia_val - 5}x{6 * dia_val - 5} input. "
        f"Received: H={height}, W={width}, dia_val={dia_val}"
    )


class Flatten(nn.Module):
    """`(B, ...) -> (B, prod(...))`."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.view(x.shape[0], -1)


class ChannelAttention(nn.Module):
    """BAM's channel branch: average pool, `num_layers` x (Linear, BN, ReLU), Linear back to C.

    Args:
        channel: Number of input channels.
        reduction: Bottleneck ratio (`channel // reduction` hidden units). Defaults to 16.
        num_layers: Number of hidden (Linear, BatchNorm1d, ReLU) stages. Defaults to 3.
    """

    def __init__(self, channel: int, reduction: int = 16, num_layers: int = 3):
        super().__init__()
        check_reduction(channel, reduction)
        _check_num_layers(num_layers)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        gate_channels = [channel]
        gate_channels += [channel // reduction] * num_layers
        gate_channels += [channel]
        self.ca = nn.Sequential()
        self.ca.add_module("flatten", Flatten())
        for i in range(len(gate_channels) - 2):
            self.ca.add_module(f"fc{i}", nn.Linear(gate_channels[i], gate_channels[i + 1]))
            self.ca.add_module(f"bn{i}", nn.BatchNorm1d(gate_channels[i + 1]))
            self.ca.add_module(f"relu{i}", nn.ReLU())
        self.ca.add_module("last_fc", nn.Linear(gate_channels[-2], gate_channels[-1]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """`(B, C, H, W) -> (B, C, H, W)` (the per-channel logits, expanded)."""
        res = self.avgpool(x)
        res = self.ca(res)
        return res.unsqueeze(-1).unsqueeze(-1).expand_as(x)


class SpatialAttention(nn.Module):
    """BAM's spatial branch: 1x1 reduce, `num_layers` dilated 3x3 convs (padding 1), 1x1 to one map.

    Args:
        channel: Number of input channels.
        reduction: Bottleneck ratio (`channel // reduction` hidden channels). Defaults to 16.
        num_layers: Number of dilated (Conv2d, BatchNorm2d, ReLU) stages. Defaults to 3.
        dia_val: Dilation of the 3x3 convs (their padding stays 1). Defaults to 2.
    """

    def __init__(self, channel: int, reduction: int = 16, num_layers: int = 3, dia_val: int = 2):
        super().__init__()
        check_reduction(channel, reduction)
        _check_num_layers(num_layers)
        check_positive_int("dia_val", dia_val)
        hidden = channel // reduction
        self.sa = nn.Sequential()
        self.sa.add_module(
            "conv_reduce1", nn.Conv2d(kernel_size=1, in_channels=channel, out_channels=hidden)
        )
        self.sa.add_module("bn_reduce1", nn.BatchNorm2d(hidden))
        self.sa.add_module("relu_reduce1", nn.ReLU())
        for i in range(num_layers):
            self.sa.add_module(
                f"conv_{i}",
                nn.Conv2d(
                    kernel_size=3,
                    in_channels=hidden,
                    out_channels=hidden,
                    padding=1,
                    dilation=dia_val,
                ),
            )
            self.sa.add_module(f"bn_{i}", nn.BatchNorm2d(hidden))
            self.sa.add_module(f"relu_{i}", nn.ReLU())
        self.sa.add_module("last_conv", nn.Conv2d(hidden, 1, kernel_size=1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """`(B, C, H, W) -> (B, C, H, W)` (the spatial logits, expanded)."""
        res = self.sa(x)
        return res.expand_as(x)


class BAMBlock(nn.Module):
    """`out = (1 + sigmoid(spatial + channel)) * x` with BAM's two bottleneck branches.

    Args:
        channel: Number of input channels. Defaults to 512.
        reduction: Bottleneck ratio of both branches. Defaults to 16.
        dia_val: Dilation of the spatial branch's 3x3 convs (padding stays 1; see the module
            docstring for the input sizes this allows). Defaults to 2.
    """

    def __init__(self, channel: int = 512, reduction: int = 16, dia_val: int = 2):
        super().__init__()
        self.ca = ChannelAttention(channel=channel, reduction=reduction)
        self.sa = SpatialAttention(channel=channel, reduction=reduction, dia_val=dia_val)
        self.sigmoid = nn.Sigmoid()
        self.channel, self.dia_val = channel, dia_val  # plain ints: not in the state_dict

    def init_weights(self) -> None:
        """Upstream's initialisation (defined upstream but never called by it)."""
        upstream_init_weights(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """`(B, C, H, W) -> (B, C, H, W)`."""
        check_image_input(x, self.channel)
        check_spatial_size(x.shape[2], x.shape[3], self.dia_val)
        sa_out = self.sa(x)
        ca_out = self.ca(x)
        weight = self.sigmoid(sa_out + ca_out)
        return (1 + weight) * x
