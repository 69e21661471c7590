"""The layers and the two branches shared by ParallelPolarizedSelfAttention and
SequentialPolarizedSelfAttention (upstream defines both classes in full, with identical
`__init__`s and branch code; only the way the branches combine differs)."""

from __future__ import annotations

import torch
from torch import nn

from reference_torch._checks import check_image_input


def check_polarized_channel(channel: object) -> None:
    """Raise `ValueError` unless `channel` is an int >= 2 (the branches use `channel // 2`)."""
    if isinstance(channel, bool) or not isinstance(channel, int) or channel < 2:
        raise ValueError(
            "Expected `channel` to be an integer of at least 2 (the branches use channel // 2 "
            f"channels, and a conv with 0 outputs is invalid). Received: channel={channel!r}"
        )


class PolarizedSelfAttentionBase(nn.Module):
    """Upstream's layers (same names, so the same state_dict keys) and its two branches.

    Args:
        channel: Number of input channels (at least 2). Defaults to 512.
    """

    def __init__(self, channel: int = 512):
        super().__init__()
        check_polarized_channel(channel)
        self.ch_wv = nn.Conv2d(channel, channel // 2, kernel_size=(1, 1))
        self.ch_wq = nn.Conv2d(channel, 1, kernel_size=(1, 1))
        self.softmax_channel = nn.Softmax(1)
        self.softmax_spatial = nn.Softmax(-1)
        self.ch_wz = nn.Conv2d(channel // 2, channel, kernel_size=(1, 1))
        self.ln = nn.LayerNorm(channel)
        self.sigmoid = nn.Sigmoid()
        self.sp_wv = nn.Conv2d(channel, channel // 2, kernel_size=(1, 1))
        self.sp_wq = nn.Conv2d(channel, channel // 2, kernel_size=(1, 1))
        self.agp = nn.AdaptiveAvgPool2d((1, 1))

    def check_input(self, x: torch.Tensor) -> None:
        """Raise `ValueError` unless `x` is NCHW with `channel` channels."""
        check_image_input(x, self.ln.normalized_shape[0])

    def channel_weight(self, x: torch.Tensor) -> torch.Tensor:
        """Channel-only self-attention: `(B, C, H, W) -> (B, C, 1, 1)` weights in (0, 1)."""
        b, c, _, _ = x.size()
        channel_wv = self.ch_wv(x).reshape(b, c // 2, -1)  # (B, C//2, HW)
        channel_wq = self.ch_wq(x).reshape(b, -1, 1)  # (B, HW, 1)
        channel_wq = self.softmax_channel(channel_wq)  # over dim 1, the HW positions
        channel_wz = torch.matmul(channel_wv, channel_wq).unsqueeze(-1)  # (B, C//2, 1, 1)
        channel_wz = self.ch_wz(channel_wz).reshape(b, c, 1).permute(0, 2, 1)  # (B, 1, C)
        # LayerNorm over C, then sigmoid; back to (B, C, 1, 1).
        return self.sigmoid(self.ln(channel_wz)).permute(0, 2, 1).reshape(b, c, 1, 1)

    def spatial_weight(self, u: torch.Tensor) -> torch.Tensor:
        """Spatial-only self-attention: `(B, C, H, W) -> (B, 1, H, W)` weights in (0, 1)."""
        b, c, h, w = u.size()
        spatial_wv = self.sp_wv(u).reshape(b, c // 2, -1)  # (B, C//2, HW)
        spatial_wq = self.agp(self.sp_wq(u))  # (B, C//2, 1, 1): global mean
        spatial_wq = spatial_wq.permute(0, 2, 3, 1).reshape(b, 1, c // 2)  # (B, 1, C//2)
        spatial_wq = self.softmax_spatial(spatial_wq)  # over the C//2 channels
        spatial_wz = torch.matmul(spatial_wq, spatial_wv)  # (B, 1, HW)
        return self.sigmoid(spatial_wz.reshape(b, 1, h, w))
