"""ECAAttention: Efficient Channel Attention (PyTorch reference, NCHW).

Paper:     Wang, Wu, Zhu, Li, Zuo, Hu, "ECA-Net: Efficient Channel Attention for Deep Convolutional
           Neural Networks", CVPR 2020. https://arxiv.org/abs/1910.03151
Upstream:  xmu-xiaoma666/External-Attention-pytorch, model/attention/ECAAttention.py
           (class ECAAttention)
Licence:   MIT, Copyright (c) 2021 xmu-xiaoma666; the MIT notice ships with this package.
Local deviations from upstream:
  - none (same constructor, attribute names, state_dict keys and forward math). Even or non-positive
    `kernel_size` raises `ValueError` in `__init__` (upstream's `padding=(k-1)//2` shrinks the
    channel sequence for even k and fails later in `expand_as`).
"""

from __future__ import annotations

import torch
from torch import nn

from reference_torch._checks import check_image_input, check_odd_kernel
from reference_torch._init import upstream_init_weights


class ECAAttention(nn.Module):
    """Re-weights channels with a gate from a 1-D convolution across the pooled channel sequence.

    Args:
        kernel_size: Odd length of the 1-D convolution that slides over the channel axis.
            Defaults to 3.
    """

    def __init__(self, kernel_size: int = 3):
        super().__init__()
        check_odd_kernel("kernel_size", kernel_size)
        self.gap = nn.AdaptiveAvgPool2d(1)
        self.conv = nn.Conv1d(1, 1, kernel_size=kernel_size, padding=(kernel_size - 1) // 2)
        self.sigmoid = nn.Sigmoid()

    def init_weights(self) -> None:
        """Upstream's initialisation (defined upstream but never called by it)."""
        upstream_init_weights(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """`(B, C, H, W) -> (B, C, H, W)`."""
        check_image_input(x)
        y = self.gap(x)  # (B, C, 1, 1)
        y = y.squeeze(-1).permute(0, 2, 1)  # (B, 1, C): the channels are the 1-D sequence
        y = self.conv(y)  # (B, 1, C)
        y = self.sigmoid(y)
        y = y.permute(0, 2, 1).unsqueeze(-1)  # (B, C, 1, 1)
        return x * y.expand_as(x)
