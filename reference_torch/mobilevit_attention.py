"""MobileViTAttention: MobileViT block, local convs + a transformer over patches (PyTorch
reference, NCHW).

Paper:     Mehta, Rastegari, "MobileViT: Light-weight, General-purpose, and Mobile-friendly
           Vision Transformer", ICLR 2022. https://arxiv.org/abs/2110.02178
Upstream:  xmu-xiaoma666/External-Attention-pytorch, model/attention/MobileViTAttention.py
           (classes MobileViTAttention, Transformer, PreNorm, Attention, FeedForward)
Licence:   MIT, Copyright (c) 2021 xmu-xiaoma666; the MIT notice ships with this package.
Local deviations from upstream:
  - the two einops `rearrange` calls are written as reshape/permute with the same element
    order (einops is not a dependency); upstream's dead `y = x.clone()` (overwritten on the
    next line) is left out. Outputs and gradients are unchanged.
  - even `kernel_size` (upstream's padding k//2 grows the map and the concat fails) raises
    `ValueError` in `__init__`; H or W not divisible by `patch_size` (einops' error upstream)
    raises `ValueError` in forward.
  - otherwise none: same constructor, attribute names, state_dict keys (the inner transformer
    is hard-coded to depth 3, 8 heads of 64, MLP 1024, dropout 0, whatever `dim` is) and math.
"""

from __future__ import annotations

import torch
from torch import nn

from reference_torch._checks import check_image_input, check_odd_kernel, check_positive_int


class PreNorm(nn.Module):
    """`fn(LayerNorm(x))` over the last axis."""

    def __init__(self, dim: int, fn: nn.Module):
        super().__init__()
        self.ln = nn.LayerNorm(dim)
        self.fn = fn

    def forward(self, x: torch.Tensor, **kwargs) -> torch.Tensor:
        return self.fn(self.ln(x), **kwargs)


class FeedForward(nn.Module):
    """`Linear(dim, mlp_dim), SiLU, Dropout, Linear(mlp_dim, dim), Dropout`."""

    def __init__(self, dim: int, mlp_dim: int, dropout: float):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(dim, mlp_dim),
            nn.SiLU(),
            nn.Dropout(dropout),
            nn.Linear(mlp_dim, dim),
            nn.Dropout(dropout),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class Attention(nn.Module):
    """Multi-head self-attention on `(B, P, N, dim)`: over the N patches, separately for each of
    the P pixel-in-patch positions."""

    def __init__(self, dim: int, heads: int, head_dim: int, dropout: float):
        super().__init__()
        inner_dim = heads * head_dim
        project_out = not (heads == 1 and head_dim == dim)
        self.heads = heads
        self.scale = head_dim**-0.5
        self.attend = nn.Softmax(dim=-1)
        self.to_qkv = nn.Linear(dim, inner_dim * 3, bias=False)
        self.to_out = (
            nn.Sequential(nn.Linear(inner_dim, dim), nn.Dropout(dropout))
            if project_out
            else nn.Identity()
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, p, n, _ = x.shape

        def split_heads(t: torch.Tensor) -> torch.Tensor:
            # 'b p n (h d) -> b p h n d'
            return t.reshape(b, p, n, self.heads, -1).permute(0, 1, 3, 2, 4)

        q, k, v = (split_heads(t) for t in self.to_qkv(x).chunk(3, dim=-1))
        dots = torch.matmul(q, k.transpose(-1, -2)) * self.scale
        attn = self.attend(dots)
        out = torch.matmul(attn, v)
        out = out.permute(0, 1, 3, 2, 4).reshape(b, p, n, -1)  # 'b p h n d -> b p n (h d)'
        return self.to_out(out)


class Transformer(nn.Module):
    """`depth` pre-norm layers: `out += attention(LN(out))`, `out += ffn(LN(out))`; no final LN."""

    def __init__(
        self, dim: int, depth: int, heads: int, head_dim: int, mlp_dim: int, dropout: float = 0.0
    ):
        super().__init__()
        self.layers = nn.ModuleList([])
        for _ in range(depth):
            self.layers.append(
                nn.ModuleList(
                    [
                        PreNorm(dim, Attention(dim, heads, head_dim, dropout)),
                        PreNorm(dim, FeedForward(dim, mlp_dim, dropout)),
                    ]
                )
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = x
        for att, ffn in self.layers:
            out = out + att(out)
            out = out + ffn(out)
        return out


class MobileViTAttention(nn.Module):
    """Local `conv1` (k x k) and `conv2` (1x1 to `dim`), a transformer over patches, `conv3`
    (1x1 back to `in_channel`), then `conv4` (k x k) on `[x, y]`.

    Patchify: `(B, dim, nh*ph, nw*pw) -> (B, ph*pw, nh*nw, dim)`, pixel-in-patch index
    `i*pw + j` first, patch index `a*nw + c` second; attention runs over the patches.

    Args:
        in_channel: Input (and output) channels. Defaults to 3.
        dim: Transformer width. Defaults to 512.
        kernel_size: Odd kernel of conv1 and conv4 (padding k//2). Defaults to 3.
        patch_size: Square patch side; H and W must be divisible by it. Defaults to 7.
    """

    def __init__(
        self, in_channel: int = 3, dim: int = 512, kernel_size: int = 3, patch_size: int = 7
    ):
        check_mobilevit_args(in_channel, dim, kernel_size, patch_size)
        super().__init__()
        self.ph, self.pw = patch_size, patch_size
        self.conv1 = nn.Conv2d(
            in_channel, in_channel, kernel_size=kernel_size, padding=kernel_size // 2
        )
        self.conv2 = nn.Conv2d(in_channel, dim, kernel_size=1)
        self.trans = Transformer(dim=dim, depth=3, heads=8, head_dim=64, mlp_dim=1024)
        self.conv3 = nn.Conv2d(dim, in_channel, kernel_size=1)
        self.conv4 = nn.Conv2d(
            2 * in_channel, in_channel, kernel_size=kernel_size, padding=kernel_size // 2
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """`(B, in_channel, H, W) -> (B, in_channel, H, W)`."""
        check_image_input(x, self.conv1.in_channels)
        if x.shape[2] % self.ph or x.shape[3] % self.pw:
            raise ValueError(
                f"Expected H and W divisible by patch_size={self.ph}. "
                f"Received: input.shape={tuple(x.shape)}"
            )
        # Local representation (upstream's `y = x.clone()` here is dead code).
        y = self.conv2(self.conv1(x))  # (B, dim, H, W)
        # Global representation
        bs, dim, h, w = y.shape
        nh, nw = h // self.ph, w // self.pw
        # 'bs dim (nh ph) (nw pw) -> bs (ph pw) (nh nw) dim'
        y = y.reshape(bs, dim, nh, self.ph, nw, self.pw).permute(0, 3, 5, 2, 4, 1)
        y = y.reshape(bs, self.ph * self.pw, nh * nw, dim)
        y = self.trans(y)
        # 'bs (ph pw) (nh nw) dim -> bs dim (nh ph) (nw pw)'
        y = y.reshape(bs, self.ph, self.pw, nh, nw, dim).permute(0, 5, 3, 1, 4, 2)
        y = y.reshape(bs, dim, h, w)
        # Fusion
        y = self.conv3(y)
        y = torch.cat([x, y], 1)  # (B, 2 * in_channel, H, W): x first
        return self.conv4(y)


def check_mobilevit_args(in_channel, dim, kernel_size, patch_size) -> None:
    """The constructor checks, shared word for word with the Keras port's messages."""
    check_positive_int("in_channel", in_channel)
    check_positive_int("dim", dim)
    check_odd_kernel("kernel_size", kernel_size)
    check_positive_int("patch_size", patch_size)
