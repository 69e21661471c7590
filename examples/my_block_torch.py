"""A small user-written PyTorch block: conv -> BN -> SiLU, gated by a squeeze gate, residual."""

from __future__ import annotations

import torch
from torch import nn


class SqueezeGate(nn.Module):
    """Channel gate from the spatial mean: Linear -> ReLU -> Linear -> sigmoid, `(B, C, 1, 1)`."""

    def __init__(self, channels: int, hidden: int):
        super().__init__()
        self.fc1 = nn.Linear(channels, hidden)
        self.fc2 = nn.Linear(hidden, channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pooled = x.mean(dim=(2, 3))
        return torch.sigmoid(self.fc2(torch.relu(self.fc1(pooled))))[:, :, None, None]


class GatedConvBlock(nn.Module):
    """`x + y * gate(y)` with `y = silu(norm(conv(x)))`; NCHW in, NCHW out."""

    def __init__(self, channels: int = 16, hidden: int = 8):
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.norm = nn.BatchNorm2d(channels)
        self.gate = SqueezeGate(channels, hidden)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = nn.functional.silu(self.norm(self.conv(x)))
        return x + y * self.gate(y)
