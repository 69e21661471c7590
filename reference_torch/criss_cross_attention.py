"""CrissCrossAttention: criss-cross attention from CCNet (PyTorch reference, NCHW).

Paper:     Huang et al., "CCNet: Criss-Cross Attention for Semantic Segmentation", ICCV 2019.
           https://arxiv.org/abs/1811.11721
Upstream:  xmu-xiaoma666/External-Attention-pytorch, model/attention/CrissCrossAttention.py
           (class CrissCrossAttention, helper INF; borrowed there from
           Serge-weihao/CCNet-Pure-Pytorch)
Licence:   MIT, Copyright (c) 2021 xmu-xiaoma666; the MIT notice ships with this package.
Local deviations from upstream:
  - the -inf diagonal mask (`INF`) is built on the input's device; upstream always builds it on
    the CPU, so a CUDA input would fail with a device mismatch (read from the code, not run on a
    GPU). Its values and dtype are upstream's (float32, -inf on the diagonal, -0.0 elsewhere),
    so CPU results are bit-identical.
  - otherwise none: same constructor, attribute names, state_dict keys and forward math (the
    bmm/permute chain of upstream; -inf on the diagonal of the H part only, so each position's
    own energy counts once, in the W part; softmax over the concatenated H + W axis;
    `gamma * (out_H + out_W) + x`; `gamma` initialised to zero, so the module is the identity at
    init; torch's default Conv2d init, upstream defines no init_weights here). `in_dim < 8`
    raises `ValueError` in `__init__` (upstream builds zero-channel convs and fails in forward);
    a wrongly shaped input raises `ValueError` in `forward`.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import Softmax


def INF(B: int, H: int, W: int, device: torch.device | None = None) -> torch.Tensor:  # noqa: N802 (upstream)
    """`(B * W, H, H)`: -inf on each diagonal, -0.0 elsewhere (upstream's helper, plus `device`)."""
    # parity: upstream builds this on the CPU only; `device` lets a CUDA input run.
    infinity = torch.tensor(float("inf"), device=device)
    return -torch.diag(infinity.repeat(H), 0).unsqueeze(0).repeat(B * W, 1, 1)


class CrissCrossAttention(nn.Module):
    """Each position attends to the positions of its own row and column.

    Args:
        in_dim: Number of input channels (>= 8; queries and keys have `in_dim // 8`).
    """

    def __init__(self, in_dim: int):
        super().__init__()
        if isinstance(in_dim, bool) or not isinstance(in_dim, int) or in_dim < 8:
            raise ValueError(
                "Expected `in_dim` to be an integer >= 8 (queries and keys have in_dim // 8 "
                f"channels). Received: in_dim={in_dim!r}"
            )
        self.query_conv = nn.Conv2d(in_channels=in_dim, out_channels=in_dim // 8, kernel_size=1)
        self.key_conv = nn.Conv2d(in_channels=in_dim, out_channels=in_dim // 8, kernel_size=1)
        self.value_conv = nn.Conv2d(in_channels=in_dim, out_channels=in_dim, kernel_size=1)
        self.softmax = Softmax(dim=3)
        self.INF = INF
        self.gamma = nn.Parameter(torch.zeros(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """`(B, in_dim, H, W) -> (B, in_dim, H, W)`."""
        if x.dim() != 4 or x.shape[1] != self.value_conv.in_channels:
            raise ValueError(
                f"Expected a 4D input (batch, channel, height, width) (NCHW) with "
                f"{self.value_conv.in_channels} channels. Received: input.shape={tuple(x.shape)}"
            )
        m_batchsize, _, height, width = x.size()
        proj_query = self.query_conv(x)
        # (B*W, H, C') and (B*H, W, C'): one batch entry per column / per row.
        proj_query_H = (
            proj_query.permute(0, 3, 1, 2)
            .contiguous()
            .view(m_batchsize * width, -1, height)
            .permute(0, 2, 1)
        )
        proj_query_W = (
            proj_query.permute(0, 2, 1, 3)
            .contiguous()
            .view(m_batchsize * height, -1, width)
            .permute(0, 2, 1)
        )
        proj_key = self.key_conv(x)
        proj_key_H = proj_key.permute(0, 3, 1, 2).contiguous().view(m_batchsize * width, -1, height)
        proj_key_W = proj_key.permute(0, 2, 1, 3).contiguous().view(m_batchsize * height, -1, width)
        proj_value = self.value_conv(x)
        proj_value_H = (
            proj_value.permute(0, 3, 1, 2).contiguous().view(m_batchsize * width, -1, height)
        )
        proj_value_W = (
            proj_value.permute(0, 2, 1, 3).contiguous().view(m_batchsize * height, -1, width)
        )
        # energy_H (B, H, W, H) with -inf where i' = i; energy_W (B, H, W, W), no mask.
        mask = self.INF(m_batchsize, height, width, device=x.device)  # parity: input's device
        energy_H = (
            (torch.bmm(proj_query_H, proj_key_H) + mask)
            .view(m_batchsize, width, height, height)
            .permute(0, 2, 1, 3)
        )
        energy_W = torch.bmm(proj_query_W, proj_key_W).view(m_batchsize, height, width, width)
        concate = self.softmax(torch.cat([energy_H, energy_W], 3))  # (B, H, W, H + W)

        att_H = (
            concate[:, :, :, 0:height]
            .permute(0, 2, 1, 3)
            .contiguous()
            .view(m_batchsize * width, height, height)
        )
        att_W = concate[:, :, :, height : height + width].contiguous()
        att_W = att_W.view(m_batchsize * height, width, width)
        out_H = (
            torch.bmm(proj_value_H, att_H.permute(0, 2, 1))
            .view(m_batchsize, width, -1, height)
            .permute(0, 2, 3, 1)
        )
        out_W = (
            torch.bmm(proj_value_W, att_W.permute(0, 2, 1))
            .view(m_batchsize, height, -1, width)
            .permute(0, 2, 1, 3)
        )
        return self.gamma * (out_H + out_W) + x
