"""DAModule: DANet's dual (position + channel) attention (PyTorch reference, NCHW).

Paper:     Fu et al., "Dual Attention Network for Scene Segmentation", CVPR 2019.
           https://arxiv.org/abs/1809.02983
Upstream:  xmu-xiaoma666/External-Attention-pytorch, model/attention/DANet.py
           (classes PositionAttentionModule, ChannelAttentionModule, DAModule)
Licence:   MIT, Copyright (c) 2021 xmu-xiaoma666; the MIT notice ships with this package.
Local deviations from upstream:
  - DAModule honours its constructor arguments `d_model`, `kernel_size`, `H`, `W` and passes them
    to both sub-modules (upstream always builds 512/3/7/7, issue #56). At the defaults the
    state_dict keys and shapes are upstream's; otherwise they follow `d_model`, `kernel_size` and
    `H * W`.
  - Invalid arguments (non-positive sizes, an even `kernel_size`, whose padding (k-1)//2 shrinks
    the map) raise `ValueError` in `__init__`; an input whose channels differ from `d_model` or
    whose H_in * W_in differs from H * W raises `ValueError` in `forward`.
  Reproduced as upstream: no residual, no gamma, no BN (unlike the paper); dropout 0.1 inside
  both attentions; the input only needs H_in * W_in == H * W (7x7, 1x49, 49x1 all work at 7/7).
"""

from __future__ import annotations

import torch
from torch import nn

from reference_torch._checks import check_image_input, check_odd_kernel, check_positive_int
from reference_torch.scaled_dot_product_attention import ScaledDotProductAttention
from reference_torch.simplified_scaled_dot_product_attention import (
    SimplifiedScaledDotProductAttention,
)


def _check_arguments(d_model: object, kernel_size: object, H: object, W: object) -> None:
    check_positive_int("d_model", d_model)
    check_odd_kernel("kernel_size", kernel_size)
    check_positive_int("H", H)
    check_positive_int("W", W)


def _check_input(x: torch.Tensor, d_model: int, H: int, W: int) -> None:
    check_image_input(x, d_model)
    if x.shape[2] * x.shape[3] != H * W:
        raise ValueError(
            f"Expected an input with H * W = {H * W} positions (constructor H={H}, W={W}). "
            f"Received: input.shape={tuple(x.shape)}"
        )


class PositionAttentionModule(nn.Module):
    """Self-attention over the H*W positions (tokens) with `d_model` features, after a conv.

    Args:
        d_model: Number of channels. Defaults to 512.
        kernel_size: Odd kernel size of the `cnn` conv. Defaults to 3.
        H: Input height the module is built for (only H * W is used). Defaults to 7.
        W: Input width the module is built for. Defaults to 7.
    """

    def __init__(self, d_model: int = 512, kernel_size: int = 3, H: int = 7, W: int = 7):
        super().__init__()
        _check_arguments(d_model, kernel_size, H, W)
        self.H, self.W = H, W
        self.cnn = nn.Conv2d(
            d_model, d_model, kernel_size=kernel_size, padding=(kernel_size - 1) // 2
        )
        self.pa = ScaledDotProductAttention(d_model, d_k=d_model, d_v=d_model, h=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """`(B, C, H, W) -> (B, H*W, C)`."""
        _check_input(x, self.cnn.in_channels, self.H, self.W)
        bs, c = x.shape[:2]
        y = self.cnn(x)
        y = y.view(bs, c, -1).permute(0, 2, 1)  # (B, H*W, C)
        return self.pa(y, y, y)  # (B, H*W, C)


class ChannelAttentionModule(nn.Module):
    """Self-attention over the channels (tokens) with H*W features, after a conv.

    Args:
        d_model: Number of channels. Defaults to 512.
        kernel_size: Odd kernel size of the `cnn` conv. Defaults to 3.
        H: Input height the module is built for (`pa` has H * W features). Defaults to 7.
        W: Input width the module is built for. Defaults to 7.
    """

    def __init__(self, d_model: int = 512, kernel_size: int = 3, H: int = 7, W: int = 7):
        super().__init__()
        _check_arguments(d_model, kernel_size, H, W)
        self.H, self.W = H, W
        self.cnn = nn.Conv2d(
            d_model, d_model, kernel_size=kernel_size, padding=(kernel_size - 1) // 2
        )
        self.pa = SimplifiedScaledDotProductAttention(H * W, h=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """`(B, C, H, W) -> (B, C, H*W)`."""
        _check_input(x, self.cnn.in_channels, self.H, self.W)
        bs, c = x.shape[:2]
        y = self.cnn(x)
        y = y.view(bs, c, -1)  # (B, C, H*W)
        return self.pa(y, y, y)  # (B, C, H*W)


class DAModule(nn.Module):
    """Sum of position attention and channel attention, each on its own conv of the input.

    Args:
        d_model: Number of channels. Defaults to 512.
        kernel_size: Odd kernel size of both convs. Defaults to 3.
        H: Input height (only H * W must match the input). Defaults to 7.
        W: Input width. Defaults to 7.
    """

    def __init__(self, d_model: int = 512, kernel_size: int = 3, H: int = 7, W: int = 7):
        super().__init__()
        _check_arguments(d_model, kernel_size, H, W)
        # parity: fix (b), upstream passes d_model=512, kernel_size=3, H=7, W=7 here (#56).
        self.position_attention_module = PositionAttentionModule(
            d_model=d_model, kernel_size=kernel_size, H=H, W=W
        )
        self.channel_attention_module = ChannelAttentionModule(
            d_model=d_model, kernel_size=kernel_size, H=H, W=W
        )

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        """`(B, C, H, W) -> (B, C, H, W)`."""
        position = self.position_attention_module
        _check_input(input, position.cnn.in_channels, position.H, position.W)
        bs, c, h, w = input.shape
        p_out = self.position_attention_module(input)
        c_out = self.channel_attention_module(input)
        p_out = p_out.permute(0, 2, 1).view(bs, c, h, w)
        c_out = c_out.view(bs, c, h, w)
        return p_out + c_out
