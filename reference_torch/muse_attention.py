"""MUSEAttention: multi-scale parallel self-attention from MUSE (PyTorch reference, sequence layout).

Paper:     Zhao, Sun, Xu, Zhang, Luo, "MUSE: Parallel Multi-Scale Attention for Sequence to
           Sequence Learning", 2019. https://arxiv.org/abs/1911.09483
Upstream:  xmu-xiaoma666/External-Attention-pytorch, model/attention/MUSEAttention.py
           (classes Depth_Pointwise_Conv1d, MUSEAttention)
Licence:   MIT, Copyright (c) 2021 xmu-xiaoma666; the MIT notice ships with this package.
Local deviations from upstream:
  - fix (c): `forward` does not overwrite the `dy_paras` Parameter; its softmax goes into a local
    tensor. Upstream replaces the Parameter by its softmax on every call (drifting to uniform and
    cutting the gradient to the original Parameter). state_dict unchanged; the output equals
    upstream's first call from the same state.
  - Inputs upstream would reject obscurely (or broadcast silently when nq == 1 < nk) raise a
    `ValueError` instead: nq != nk (the convolution branch returns one token per key and is added
    to the attention output), mismatched batch or token counts, non-positive sizes.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from reference_torch._checks import check_attention_inputs, check_positive_int, check_probability
from reference_torch._init import upstream_init_weights


class Depth_Pointwise_Conv1d(nn.Module):  # noqa: N801 (upstream's class name)
    """A depthwise Conv1d (kernel k, padding k // 2; identity for k = 1) then a 1x1 Conv1d.

    Args:
        in_ch: Input channels (also the depthwise conv's channels).
        out_ch: Output channels of the pointwise conv.
        k: Depthwise kernel size (odd).
    """

    def __init__(self, in_ch: int, out_ch: int, k: int):
        super().__init__()
        if k == 1:
            self.depth_conv = nn.Identity()
        else:
            self.depth_conv = nn.Conv1d(
                in_channels=in_ch, out_channels=in_ch, kernel_size=k, groups=in_ch, padding=k // 2
            )
        self.pointwise_conv = nn.Conv1d(
            in_channels=in_ch, out_channels=out_ch, kernel_size=1, groups=1
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """`(B, in_ch, N) -> (B, out_ch, N)`."""
        return self.pointwise_conv(self.depth_conv(x))


class MUSEAttention(nn.Module):
    """Scaled dot-product attention plus a softmax-weighted sum of three depthwise-separable
    Conv1d branches (kernels 1, 3, 5) over the projected values.

    Args:
        d_model: Features of the inputs and the output.
        d_k: Features per head of queries and keys.
        d_v: Features per head of values.
        h: Number of heads.
        dropout: Dropout rate on the attention map. Defaults to 0.1.
    """

    def __init__(self, d_model: int, d_k: int, d_v: int, h: int, dropout: float = 0.1):
        super().__init__()
        for name, value in (("d_model", d_model), ("d_k", d_k), ("d_v", d_v), ("h", h)):
            check_positive_int(name, value)
        check_probability("dropout", dropout)
        self.fc_q = nn.Linear(d_model, h * d_k)
        self.fc_k = nn.Linear(d_model, h * d_k)
        self.fc_v = nn.Linear(d_model, h * d_v)
        self.fc_o = nn.Linear(h * d_v, d_model)
        self.dropout = nn.Dropout(dropout)

        self.conv1 = Depth_Pointwise_Conv1d(h * d_v, d_model, 1)
        self.conv3 = Depth_Pointwise_Conv1d(h * d_v, d_model, 3)
        self.conv5 = Depth_Pointwise_Conv1d(h * d_v, d_model, 5)
        self.dy_paras = nn.Parameter(torch.ones(3))
        self.softmax = nn.Softmax(-1)

        self.d_model = d_model
        self.d_k = d_k
        self.d_v = d_v
        self.h = h

        self.init_weights()

    def init_weights(self) -> None:
        """Upstream's initialisation (called by upstream's `__init__`; reaches only the Linears)."""
        upstream_init_weights(self)

    def _check_inputs(self, queries: torch.Tensor, keys: torch.Tensor, values: torch.Tensor):
        check_attention_inputs(queries, keys, values, self.d_model)
        if queries.shape[1] != keys.shape[1]:
            # parity: upstream fails in a view or, for nq == 1 < nk, broadcasts silently.
            raise ValueError(
                "MUSEAttention adds a convolution over the values (one token per key) to the "
                "attention output (one token per query), so it expects as many queries as keys "
                "(nq == nk). Received: "
                f"queries.shape={tuple(queries.shape)}, keys.shape={tuple(keys.shape)}, "
                f"values.shape={tuple(values.shape)}"
            )

    def forward(
        self,
        queries: torch.Tensor,
        keys: torch.Tensor,
        values: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        attention_weights: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """`(B, N, d_model), (B, N, d_model), (B, N, d_model) -> (B, N, d_model)`."""
        self._check_inputs(queries, keys, values)
        # Self attention
        b_s, nq = queries.shape[:2]
        nk = keys.shape[1]

        # (b, h, nq, d_k)
        q = self.fc_q(queries).view(b_s, nq, self.h, self.d_k).permute(0, 2, 1, 3)
        k = self.fc_k(keys).view(b_s, nk, self.h, self.d_k).permute(0, 2, 3, 1)  # (b, h, d_k, nk)
        v = self.fc_v(values).view(b_s, nk, self.h, self.d_v).permute(0, 2, 1, 3)  # (b, h, nk, d_v)

        att = torch.matmul(q, k) / np.sqrt(self.d_k)  # (b, h, nq, nk)
        if attention_weights is not None:
            att = att * attention_weights
        if attention_mask is not None:
            att = att.masked_fill(attention_mask, -np.inf)
        att = torch.softmax(att, -1)
        att = self.dropout(att)

        out = (
            torch.matmul(att, v).permute(0, 2, 1, 3).contiguous().view(b_s, nq, self.h * self.d_v)
        )  # (b, nq, h * d_v)
        out = self.fc_o(out)  # (b, nq, d_model)

        v2 = v.permute(0, 1, 3, 2).contiguous().view(b_s, -1, nk)  # (b, h * d_v, nk)
        dy_paras = self.softmax(self.dy_paras)  # parity: fix (c), upstream overwrites the Parameter
        out2 = (
            dy_paras[0] * self.conv1(v2)
            + dy_paras[1] * self.conv3(v2)
            + dy_paras[2] * self.conv5(v2)
        )
        out2 = out2.permute(0, 2, 1)  # (b, n, d_model)

        out = out + out2
        return out
