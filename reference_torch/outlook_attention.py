"""OutlookAttention: VOLO's outlook attention (PyTorch reference, channels-last (B, H, W, C)).

Paper:     Yuan, Hou, Jiang, Feng, Yan, "VOLO: Vision Outlooker for Visual Recognition", 2021.
           https://arxiv.org/abs/2106.13112
Upstream:  xmu-xiaoma666/External-Attention-pytorch, model/attention/OutlookAttention.py
           (class OutlookAttention)
Licence:   MIT, Copyright (c) 2021 xmu-xiaoma666; the MIT notice ships with this package.
Local deviations from upstream:
  - none in the math or the state_dict (same constructor, attribute names, keys and forward,
    including the swapped `nn.Unfold(kernel_size, padding, stride)` positional arguments, which
    give the unfold dilation=`padding` and padding=`stride`, and `proj_drop` reusing `attn_drop`).
  - Upstream runs only at kernel_size=3, padding=1, stride=1 (every other combination fails in
    upstream's forward with a reshape, dilation or unfold size error), so any other value raises
    a `ValueError` in `__init__` that says why. `num_heads` must divide `dim` (upstream fails at
    a reshape) and the input must be (B, H, W, dim): both raise a `ValueError` instead.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from reference_torch._checks import check_positive_int, check_probability

# The only (kernel_size, padding, stride) upstream's forward runs with.
SUPPORTED_WINDOW = (3, 1, 1)


def check_outlook_window(kernel_size: object, padding: object, stride: object) -> None:
    """Raise `ValueError` unless (kernel_size, padding, stride) == (3, 1, 1), and say why."""
    window = (kernel_size, padding, stride)
    if window != SUPPORTED_WINDOW or any(type(value) is not int for value in window):
        raise ValueError(
            "OutlookAttention supports only kernel_size=3, padding=1, stride=1: upstream builds "
            "`nn.Unfold(kernel_size, padding, stride)` positionally, so its unfold gets "
            "dilation=padding and padding=stride, and every other combination fails in "
            "upstream's forward (a reshape, dilation or unfold size error). "
            f"Received: kernel_size={kernel_size!r}, padding={padding!r}, stride={stride!r}"
        )


def check_num_heads(dim: object, num_heads: object) -> None:
    """Raise `ValueError` unless `dim` and `num_heads` are positive and `num_heads` divides `dim`."""
    check_positive_int("dim", dim)
    check_positive_int("num_heads", num_heads)
    if dim % num_heads:
        raise ValueError(
            "Expected `num_heads` to divide `dim` (each head takes dim // num_heads channels). "
            f"Received: dim={dim!r}, num_heads={num_heads!r}"
        )


class OutlookAttention(nn.Module):
    """Each pixel predicts a (k*k) x (k*k) attention over its k x k neighbourhood of projected
    values; the weighted windows are summed back into the image (fold) and projected.

    Args:
        dim: Number of input and output channels (last axis).
        num_heads: Number of heads; must divide `dim`. Defaults to 1.
        kernel_size: Window size; only 3 runs upstream. Defaults to 3.
        padding: Window padding; only 1 runs upstream. Defaults to 1.
        stride: Window stride; only 1 runs upstream. Defaults to 1.
        qkv_bias: Whether the value projection `v_pj` has a bias. Defaults to False.
        attn_drop: Dropout rate on the attention map and, as upstream, after `proj`.
            Defaults to 0.1.
    """

    def __init__(
        self,
        dim: int,
        num_heads: int = 1,
        kernel_size: int = 3,
        padding: int = 1,
        stride: int = 1,
        qkv_bias: bool = False,
        attn_drop: float = 0.1,
    ):
        super().__init__()
        check_num_heads(dim, num_heads)
        check_outlook_window(kernel_size, padding, stride)
        check_probability("attn_drop", attn_drop)
        self.dim = dim
        self.num_heads = num_heads
        self.head_dim = dim // num_heads
        self.kernel_size = kernel_size
        self.padding = padding
        self.stride = stride
        self.scale = self.head_dim ** (-0.5)

        self.v_pj = nn.Linear(dim, dim, bias=qkv_bias)
        self.attn = nn.Linear(dim, kernel_size**4 * num_heads)

        self.attn_drop = nn.Dropout(attn_drop)
        self.proj = nn.Linear(dim, dim)
        self.proj_drop = nn.Dropout(attn_drop)  # upstream reuses attn_drop here

        # Upstream's positional call: nn.Unfold's order is (kernel_size, dilation, padding,
        # stride), so this is dilation=padding, padding=stride (3, 1, 1 -> dilation 1, padding 1).
        self.unflod = nn.Unfold(kernel_size, padding, stride)
        self.pool = nn.AvgPool2d(kernel_size=stride, stride=stride, ceil_mode=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """`(B, H, W, dim) -> (B, H, W, dim)` (channels-last, as upstream)."""
        if x.dim() != 4 or x.shape[-1] != self.dim:
            raise ValueError(
                "OutlookAttention expects a 4D channels-last input "
                f"(batch, height, width, {self.dim}). "
                f"Received: input.shape={tuple(x.shape)}"
            )
        B, H, W, C = x.shape
        k2 = self.kernel_size * self.kernel_size

        v = self.v_pj(x).permute(0, 3, 1, 2)  # (B, C, H, W)
        h, w = math.ceil(H / self.stride), math.ceil(W / self.stride)
        # Unfold rows are channel-major (c * k*k + offset); channel c = head * head_dim + d.
        v = self.unflod(v).reshape(B, self.num_heads, self.head_dim, k2, h * w)
        v = v.permute(0, 1, 4, 3, 2)  # (B, heads, L, k*k, head_dim)

        attn = self.pool(x.permute(0, 3, 1, 2)).permute(0, 2, 3, 1)  # (B, h, w, C)
        # Linear output split head-major, then destination offset i, then source offset j.
        attn = self.attn(attn).reshape(B, h * w, self.num_heads, k2, k2).permute(0, 2, 1, 3, 4)
        attn = self.scale * attn
        attn = attn.softmax(-1)  # over the source offsets j
        attn = self.attn_drop(attn)  # (B, heads, L, k*k, k*k)

        out = (attn @ v).permute(0, 1, 4, 3, 2).reshape(B, C * k2, h * w)  # (B, C*k*k, L)
        # Overlap-add of every window back into the image.
        out = F.fold(
            out,
            output_size=(H, W),
            kernel_size=self.kernel_size,
            padding=self.padding,
            stride=self.stride,
        )  # (B, C, H, W)
        out = self.proj(out.permute(0, 2, 3, 1))  # (B, H, W, C)
        return self.proj_drop(out)
