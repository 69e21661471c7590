"""SequentialPolarizedSelfAttention: polarized self-attention, sequential layout (PyTorch
reference, NCHW).

Paper:     Liu, Shao, Yang, Qian, Zhang, Zhu, "Polarized Self-Attention: Towards High-quality
           Pixel-wise Regression", 2021. https://arxiv.org/abs/2107.00782
Upstream:  xmu-xiaoma666/External-Attention-pytorch, model/attention/PolarizedSelfAttention.py
           (class SequentialPolarizedSelfAttention)
Licence:   MIT, Copyright (c) 2021 xmu-xiaoma666; the MIT notice ships with this package.
Local deviations from upstream:
  - none (same constructor, attribute names, state_dict keys, default init and forward math).
    The layers and branches shared with ParallelPolarizedSelfAttention live in
    `reference_torch._polarized` (upstream repeats them in both classes). `channel < 2` raises
    `ValueError` in `__init__` (upstream builds a conv with 0 outputs and fails inside torch).
"""

from __future__ import annotations

import torch

from reference_torch._polarized import PolarizedSelfAttentionBase


class SequentialPolarizedSelfAttention(PolarizedSelfAttentionBase):
    """Channel-only self-attention, then spatial-only self-attention on its output:
    `u = channel_weight(x) * x`, `out = spatial_weight(u) * u`.

    Args:
        channel: Number of input channels (at least 2). Defaults to 512.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """`(B, C, H, W) -> (B, C, H, W)`."""
        self.check_input(x)
        channel_out = self.channel_weight(x) * x
        return self.spatial_weight(channel_out) * channel_out
