"""UFOAttention: multi-head attention with unit-force-operated normalisation (PyTorch reference, tokens).

Paper:     Song, "UFO-ViT: High Performance Linear Vision Transformer without Softmax", 2021.
           https://arxiv.org/abs/2109.14382
Upstream:  xmu-xiaoma666/External-Attention-pytorch, model/attention/UFOAttention.py
           (class UFOAttention, helper XNorm)
Licence:   MIT, Copyright (c) 2021 xmu-xiaoma666; the MIT notice ships with this package.
Local deviations from upstream:
  - none (same constructor, attribute names, state_dict keys and forward math, quirks included:
    `dropout` is created and never used; XNorm divides by the L2 norm without an epsilon, so a
    zero row gives NaN; `gamma` (1, h, 1, 1) is randn-initialised and scales both the normalised
    queries and the normalised key-value products; Linear init N(0, 0.001) with zero bias,
    applied in `__init__`). Invalid sizes or dropout raise `ValueError` in `__init__`; wrongly
    shaped inputs raise `ValueError` in `forward`.
"""

from __future__ import annotations

import torch
from torch import nn

from reference_torch._checks import check_attention_inputs, check_positive_int, check_probability
from reference_torch._init import upstream_init_weights


def XNorm(x: torch.Tensor, gamma: torch.Tensor) -> torch.Tensor:  # noqa: N802 (upstream's name)
    """`x * gamma / ||x||_2` over the last axis (keepdim), with no epsilon (as upstream)."""
    norm_tensor = torch.norm(x, 2, -1, True)
    return x * gamma / norm_tensor


class UFOAttention(nn.Module):
    """Linear attention: `XNorm(Q) @ XNorm(K^T V)` per head, no softmax.

    Args:
        d_model: Number of input and output features per token.
        d_k: Query and key features per head.
        d_v: Value features per head.
        h: Number of heads.
        dropout: Rate of the `dropout` attribute, which upstream never applies. Defaults to 0.1.
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
        self.dropout = nn.Dropout(dropout)  # upstream quirk: created, never used
        self.gamma = nn.Parameter(torch.randn((1, h, 1, 1)))
        self.d_model = d_model
        self.d_k = d_k
        self.d_v = d_v
        self.h = h
        self.init_weights()

    def init_weights(self) -> None:
        """Upstream's initialisation (called by upstream's `__init__`; `gamma` stays randn)."""
        upstream_init_weights(self)

    def forward(
        self, queries: torch.Tensor, keys: torch.Tensor, values: torch.Tensor
    ) -> torch.Tensor:
        """Queries `(B, nq, d_model)`, keys and values `(B, nk, d_model)` -> `(B, nq, d_model)`."""
        check_attention_inputs(queries, keys, values, self.d_model)
        b_s, nq = queries.shape[:2]
        nk = keys.shape[1]
        # q (B, h, nq, d_k), k (B, h, d_k, nk), v (B, h, nk, d_v): heads are feature blocks.
        q = self.fc_q(queries).view(b_s, nq, self.h, self.d_k).permute(0, 2, 1, 3)
        k = self.fc_k(keys).view(b_s, nk, self.h, self.d_k).permute(0, 2, 3, 1)
        v = self.fc_v(values).view(b_s, nk, self.h, self.d_v).permute(0, 2, 1, 3)
        kv = torch.matmul(k, v)  # (B, h, d_k, d_v)
        kv_norm = XNorm(kv, self.gamma)  # each row normalised over d_v
        q_norm = XNorm(q, self.gamma)  # each query normalised over d_k
        out = torch.matmul(q_norm, kv_norm).permute(0, 2, 1, 3).contiguous()  # (B, nq, h, d_v)
        out = out.view(b_s, nq, self.h * self.d_v)
        return self.fc_o(out)  # (B, nq, d_model)
