"""SimplifiedScaledDotProductAttention: multi-head attention without q/k/v projections (PyTorch
reference, tokens).

Paper:     Vaswani et al., "Attention Is All You Need", NeurIPS 2017. https://arxiv.org/abs/1706.03762
           (upstream's simplified variant: the raw inputs are the queries, keys and values)
Upstream:  xmu-xiaoma666/External-Attention-pytorch, model/attention/SimplifiedSelfAttention.py
           (class SimplifiedScaledDotProductAttention)
Licence:   MIT, Copyright (c) 2021 xmu-xiaoma666; the MIT notice ships with this package.
Local deviations from upstream:
  - none in the math or the state_dict (`fc_o` only). `d_model % h != 0`, which upstream accepts
    and then fails on in `forward` with a view error, raises `ValueError` in `__init__` naming
    `d_model` and `h`; invalid sizes or dropout and wrongly shaped inputs raise `ValueError`.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from reference_torch._checks import check_attention_inputs, check_positive_int, check_probability
from reference_torch._init import upstream_init_weights


class SimplifiedScaledDotProductAttention(nn.Module):
    """Multi-head scaled dot-product attention on the raw inputs, followed by `fc_o`.

    Args:
        d_model: Number of input and output features per token; must be divisible by `h`.
        h: Number of heads (each head gets `d_model // h` features).
        dropout: Dropout rate on the attention probabilities (train mode only). Defaults to 0.1.
    """

    def __init__(self, d_model: int, h: int, dropout: float = 0.1):
        super().__init__()
        check_positive_int("d_model", d_model)
        check_positive_int("h", h)
        if d_model % h != 0:
            raise ValueError(
                "Expected `d_model` to be divisible by `h` (each head takes d_model // h "
                f"features). Received: d_model={d_model!r}, h={h!r}"
            )
        check_probability("dropout", dropout)
        self.d_model = d_model
        self.d_k = d_model // h
        self.d_v = d_model // h
        self.h = h
        self.fc_o = nn.Linear(h * self.d_v, d_model)
        self.dropout = nn.Dropout(dropout)
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
        q = queries.view(b_s, nq, self.h, self.d_k).permute(0, 2, 1, 3)  # (B, h, nq, d_k)
        k = keys.view(b_s, nk, self.h, self.d_k).permute(0, 2, 3, 1)  # (B, h, d_k, nk)
        v = values.view(b_s, nk, self.h, self.d_v).permute(0, 2, 1, 3)  # (B, h, nk, d_v)
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
