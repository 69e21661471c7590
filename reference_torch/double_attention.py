"""DoubleAttention: A²-Net double attention block (PyTorch reference, NCHW).

Paper:     Chen, Kalantidis, Li, Yan, Feng, "A^2-Nets: Double Attention Networks", NeurIPS 2018.
           https://arxiv.org/abs/1810.11579
Upstream:  xmu-xiaoma666/External-Attention-pytorch, model/attention/A2Atttention.py
           (class DoubleAttention; the file name has three t's)
Licence:   MIT, Copyright (c) 2021 xmu-xiaoma666; the MIT notice ships with this package.
Local deviations from upstream:
  - none in the math or the state_dict (same constructor, attribute names, keys, `init_weights`
    called in `__init__`). Both softmaxes are written `softmax(..., dim=0)`: upstream calls
    `F.softmax` without `dim`, for which torch picks dim 0 on a 3-D tensor (the BATCH axis) and
    emits an "Implicit dimension choice" UserWarning; spelling out dim=0 is the same math without
    the warning. Upstream's `assert c == in_channels` is a `ValueError`; invalid arguments raise
    `ValueError` in `__init__`.
  Upstream quirk kept: the softmaxes run over the batch axis, so each sample's output depends on
  the other samples in the batch, and with batch 1 both attention maps are exactly 1.
"""

from __future__ import annotations

import torch
from torch import nn

from reference_torch._checks import check_image_input, check_positive_int
from reference_torch._init import upstream_init_weights


class DoubleAttention(nn.Module):
    """Gathers `c_n` global descriptors with one attention map and distributes them back to every
    position with a second one.

    Args:
        in_channels: Number of input channels.
        c_m: Channels of the gathered features (`convA`) and of the output without reconstruction.
        c_n: Number of global descriptors (`convB`, `convV`).
        reconstruct: Apply the 1x1 `conv_reconstruct` back to `in_channels`. Defaults to True.
    """

    def __init__(self, in_channels: int, c_m: int, c_n: int, reconstruct: bool = True):
        super().__init__()
        check_positive_int("in_channels", in_channels)
        check_positive_int("c_m", c_m)
        check_positive_int("c_n", c_n)
        if not isinstance(reconstruct, bool):
            raise ValueError(
                f"Expected `reconstruct` to be a bool. Received: reconstruct={reconstruct!r}"
            )
        self.in_channels = in_channels
        self.reconstruct = reconstruct
        self.c_m = c_m
        self.c_n = c_n
        self.convA = nn.Conv2d(in_channels, c_m, 1)
        self.convB = nn.Conv2d(in_channels, c_n, 1)
        self.convV = nn.Conv2d(in_channels, c_n, 1)
        if self.reconstruct:
            self.conv_reconstruct = nn.Conv2d(c_m, in_channels, kernel_size=1)
        self.init_weights()

    def init_weights(self) -> None:
        """Upstream's initialisation (called by upstream's `__init__`)."""
        upstream_init_weights(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """`(B, in_channels, H, W) -> (B, in_channels or c_m, H, W)`."""
        check_image_input(x, self.in_channels)  # parity: upstream asserts c == in_channels
        b, _, h, w = x.shape
        tmpA = self.convA(x).view(b, self.c_m, -1)  # (B, c_m, HW)
        # parity: upstream's F.softmax without `dim` picks dim 0 for a 3-D tensor, the batch axis.
        attention_maps = torch.softmax(self.convB(x).view(b, self.c_n, -1), dim=0)  # (B, c_n, HW)
        attention_vectors = torch.softmax(self.convV(x).view(b, self.c_n, -1), dim=0)
        # Step 1, feature gathering: (B, c_m, HW) x (B, HW, c_n) -> (B, c_m, c_n).
        global_descriptors = torch.bmm(tmpA, attention_maps.permute(0, 2, 1))
        # Step 2, feature distribution: (B, c_m, c_n) x (B, c_n, HW) -> (B, c_m, HW).
        tmpZ = global_descriptors.matmul(attention_vectors).view(b, self.c_m, h, w)
        if self.reconstruct:
            tmpZ = self.conv_reconstruct(tmpZ)
        return tmpZ
