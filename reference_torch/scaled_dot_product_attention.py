"""ScaledDotProductAttention: multi-head scaled dot-product attention (PyTorch reference, tokens).

Paper:     Vaswani et al., "Attention Is All You Need", NeurIPS 2017. https://arxiv.org/abs/1706.03762
Upstream:  xmu-xiaoma666/External-Attention-pytorch, model/attention/SelfAttention.py
           (class ScaledDotProductAttention)
Licence:   MIT, Copyright (c) 2021 xmu-xiaoma666; the MIT notice ships with this package.
Local deviations from upstream:
  - none (same constructor, attribute names, state_dict keys and forward math: scores divided by
    sqrt(d_k), multiplied by `attention_weights`, then True mask entries set to -inf; a fully
    masked row gives NaN as upstream). Invalid sizes or dropout raise `ValueError` in `__init__`;
    wrongly shaped inputs raise `ValueError` in `forward`.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from reference_torch._checks import check_attention_inputs, check_positive_int, check_probability
from reference_torch._init import upstream_init_weights


class ScaledDotProductAttention(nn.Module):
    """Multi-head attention with separate query/key (`d_k`) and value (`d_v`) head sizes.

    Args:
        d_model: Number of input and output features per token.
        d_k: Query and key features per head.
        d_v: Value features per head.
        h: Number of heads.
        dropout: Dropout rate on the attention probabilities (train mode only). Defaults to 0.1.
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
        self.d_model = d_model
        self.d_k = d_k
        self.d_v = d_v
        self.h = h
        self.init_weights()

    def init_weights(self) -> None:
        """Upstream's initialisation (called by upstream's `__init__`)."""
        upstream_init_weights(self)

    def forward(
        self,
        queries: torch.Tensor,
        keys: torch.Tensor,
        values: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        attention_weights: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Queries `(B, nq, d_model)`, keys and values `(B, nk, d_model)` -> `(B, nq, d_model)`.

        `attention_mask` (bool, True = masked) and `attention_weights` broadcast to
        `(B, h, nq, nk)`.
        """
        check_attention_inputs(queries, keys, values, self.d_model)
        b_s, nq = queries.shape[:2]
        nk = keys.shape[1]
        # q (B, h, nq, d_k), k (B, h, d_k, nk), v (B, h, nk, d_v): heads are feature blocks.
        q = self.fc_q(queries).view(b_s, nq, self.h, self.d_k).permute(0, 2, 1, 3)
        k = self.fc_k(keys).view(b_s, nk, self.h, self.d_k).permute(0, 2, 3, 1)
        v = self.fc_v(values).view(b_s, nk, self.h, self.d_v).permute(0, 2, 1, 3)
        att = torch.matmul(q, k) / math.sqrt(self.d_k)  # (B, h, nq, nk)
        if attention_weights is not None:
            att = att * attention_weights
        if attention_mask is not None:
            att = att.masked_fill(attention_mask, -math.inf)
        att = torch.softmax(att, -1)
        att = self.dropout(att)
        out = torch.matmul(att, v).permute(0, 2, 1, 3).contiguous()  # (B, nq, h, d_v)
        out = out.view(b_s, nq, self.h * self.d_v)  # (B, nq, h*d_v)
        return self.fc_o(out)  # (B, nq, d_model)
