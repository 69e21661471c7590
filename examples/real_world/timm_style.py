"""Torch modules written the way real third-party code (timm) writes them, for the real-world
ports example set: layer subclasses that compute in `forward`, fused norm + activation, a
LayerNorm over the channels of an NCHW map, in-place ReLU, a fused-qkv ViT attention.

Written for this project (timm itself drags in a GPU-only torchvision here); the patterns follow
timm's `Conv2dSame`, `BatchNormAct2d`, `LayerNorm2d` and `Attention`.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


class Conv2dSame(nn.Conv2d):
    """TensorFlow-style 'same' convolution: the padding is computed in `forward` from the input
    size (asymmetric for even totals: the extra row/column goes at the end), so `self.padding` is
    0 and says nothing about what the layer does."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding=0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pads = []
        for size, kernel, stride in zip(
            reversed(x.shape[-2:]), reversed(self.kernel_size), reversed(self.stride), strict=True
        ):
            total = max((math.ceil(size / stride) - 1) * stride + kernel - size, 0)
            pads += [total // 2, total - total // 2]
        return F.conv2d(F.pad(x, pads), self.weight, self.bias, self.stride)


class BatchNormAct2d(nn.BatchNorm2d):
    """BatchNorm2d with its activation fused in (timm's norm + act layers)."""

    def __init__(self, num_features: int, eps: float = 1e-5):
        super().__init__(num_features, eps=eps)
        self.act = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(super().forward(x))


class LayerNorm2d(nn.LayerNorm):
    """LayerNorm over the channels of an NCHW map (permute, normalise, permute back)."""

    def __init__(self, num_channels: int, eps: float = 1e-6):
        super().__init__(num_channels, eps=eps)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.permute(0, 2, 3, 1)
        x = F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)
        return x.permute(0, 3, 1, 2)


class ChannelLinear(nn.Linear):
    """A user's Linear subclass applied over the channel axis of an NCHW map."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)


class StemBlock(nn.Module):
    """A strided 'same' conv stem: Conv2dSame (stride 2) -> BN + ReLU (in place) -> Conv2dSame,
    with an in-place residual add of the first conv's activation."""

    def __init__(self, in_channels: int = 3, channels: int = 8):
        super().__init__()
        self.conv1 = Conv2dSame(in_channels, channels, 3, stride=2)
        self.bn1 = BatchNormAct2d(channels)
        self.conv2 = Conv2dSame(channels, channels, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.bn1(self.conv1(x))
        y = self.conv2(x)
        y += x
        return y


class NormMlpBlock(nn.Module):
    """ConvNeXt-style: depthwise 5x5 conv, LayerNorm over NCHW channels, channel MLP with GELU,
    residual."""

    def __init__(self, channels: int = 8, hidden: int = 16):
        super().__init__()
        self.dwconv = nn.Conv2d(channels, channels, 5, padding=2, groups=channels)
        self.norm = LayerNorm2d(channels)
        self.fc1 = ChannelLinear(channels, hidden)
        self.act = nn.GELU()
        self.fc2 = ChannelLinear(hidden, channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.fc2(self.act(self.fc1(self.norm(self.dwconv(x)))))
        return x + y


class Attention(nn.Module):
    """ViT multi-head self-attention with one fused `qkv` Linear (timm's `Attention`), over
    `(batch, tokens, dim)`."""

    def __init__(self, dim: int = 16, num_heads: int = 4):
        super().__init__()
        if dim % num_heads:
            raise ValueError(f"dim must be divisible by num_heads. Received: {dim}, {num_heads}")
        self.num_heads = num_heads
        self.scale = (dim // num_heads) ** -0.5
        self.qkv = nn.Linear(dim, dim * 3)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, tokens, dim = x.shape
        qkv = self.qkv(x).reshape(batch, tokens, 3, self.num_heads, dim // self.num_heads)
        q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)  # each (batch, heads, tokens, head_dim)
        attention = (q * self.scale) @ k.transpose(-2, -1)
        x = attention.softmax(dim=-1) @ v
        return self.proj(x.transpose(1, 2).reshape(batch, tokens, dim))


class ScaleShift(nn.Module):
    """A user's own layer type: a per-channel affine `x * weight + bias` on NCHW (no torch layer
    class the harness knows)."""

    def __init__(self, channels: int = 8, eps: float = 0.0):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * (self.weight + self.eps)[:, None, None] + self.bias[:, None, None]


class AffineHead(nn.Module):
    """Linear -> a norm layer chosen by class (timm's `norm_layer=` argument) -> ScaleShift."""

    def __init__(self, dim: int = 8, norm_layer: type[nn.Module] = nn.LayerNorm):
        super().__init__()
        self.fc = nn.Linear(dim, dim)
        self.norm = norm_layer(dim)
        self.affine = ScaleShift(dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.norm(self.fc(x.permute(0, 2, 3, 1))).permute(0, 3, 1, 2)
        return self.affine(y)
