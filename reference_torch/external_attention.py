"""ExternalAttention: attention against two learned external memories (PyTorch reference, tokens).

Paper:     Guo, Liu, Mu, Hu, "Beyond Self-attention: External Attention using Two Linear Layers
           for Visual Tasks", 2021. https://arxiv.org/abs/2105.02358
Upstream:  xmu-xiaoma666/External-Attention-pytorch, model/attention/ExternalAttention.py
           (class ExternalAttention)
Licence:   MIT, Copyright (c) 2021 xmu-xiaoma666; the MIT notice ships with this package.
Local deviations from upstream:
  - none (same constructor, attribute names, state_dict keys and forward math, including the
    double normalisation: softmax over the tokens, then L1 over the S memory slots). Invalid
    `d_model` or `S` raise `ValueError` in `__init__`; a wrongly shaped input raises `ValueError`.
"""

from __future__ import annotations

import torch
from torch import nn

from reference_torch._checks import check_positive_int, check_sequence_input
from reference_torch._init import upstream_init_weights


class ExternalAttention(nn.Module):
    """Attends every token to `S` learned memory slots, normalised over tokens and then slots.

    Args:
        d_model: Number of features per token.
        S: Number of external memory slots. Defaults to 64.
    """

    def __init__(self, d_model: int, S: int = 64):
        super().__init__()
        check_positive_int("d_model", d_model)
        check_positive_int("S", S)
        self.mk = nn.Linear(d_model, S, bias=False)
        self.mv = nn.Linear(S, d_model, bias=False)
        self.softmax = nn.Softmax(dim=1)
        self.init_weights()

    def init_weights(self) -> None:
        """Upstream's initialisation (called by upstream's `__init__`)."""
        upstream_init_weights(self)

    def forward(self, queries: torch.Tensor) -> torch.Tensor:
        """`(B, N, d_model) -> (B, N, d_model)`."""
        check_sequence_input("queries", queries, self.mk.in_features)
        attn = self.mk(queries)  # (B, N, S)
        attn = self.softmax(attn)  # softmax over dim 1, the tokens
        attn = attn / torch.sum(attn, dim=2, keepdim=True)  # L1 over the S slots
        return self.mv(attn)  # (B, N, d_model)
