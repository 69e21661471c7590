"""MobileViTv2Attention: separable self-attention from MobileViTv2 (PyTorch reference, tokens).

Paper:     Mehta, Rastegari, "Separable Self-attention for Mobile Vision Transformers", 2022.
           https://arxiv.org/abs/2206.02680
Upstream:  xmu-xiaoma666/External-Attention-pytorch, model/attention/MobileViTv2Attention.py
           (class MobileViTv2Attention)
Licence:   MIT, Copyright (c) 2021 xmu-xiaoma666; the MIT notice ships with this package.
Local deviations from upstream:
  - error behaviour only: the input must be 3-D `(B, n, d_model)`; anything else raises
    `ValueError`. Upstream also runs on a 4-D `(B, P, n, d_model)` input, where its softmax over
    dim 1 then normalises over P, not over the tokens; the Keras port does not support that
    shape, so the reference rejects it too.
  - otherwise none: same constructor, attribute names, state_dict keys and forward math (softmax
    over the token axis 1, no activation on the value branch); Linear init N(0, 0.001) with zero
    bias, applied in `__init__`.
"""

from __future__ import annotations

import torch
from torch import nn

from reference_torch._checks import check_positive_int, check_sequence_input
from reference_torch._init import upstream_init_weights


class MobileViTv2Attention(nn.Module):
    """One context vector per sample, a softmax-weighted sum of keys, gates the values.

    Args:
        d_model: Number of input and output features per token.
    """

    def __init__(self, d_model: int):
        super().__init__()
        check_positive_int("d_model", d_model)
        self.fc_i = nn.Linear(d_model, 1)
        self.fc_k = nn.Linear(d_model, d_model)
        self.fc_v = nn.Linear(d_model, d_model)
        self.fc_o = nn.Linear(d_model, d_model)
        self.d_model = d_model
        self.init_weights()

    def init_weights(self) -> None:
        """Upstream's initialisation (called by upstream's `__init__`)."""
        upstream_init_weights(self)

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        """`(B, n, d_model) -> (B, n, d_model)`."""
        # parity: upstream also accepts 4-D (softmax over dim 1 = P); only 3-D is supported here.
        check_sequence_input("input", input, self.d_model)
        i = self.fc_i(input)  # (B, n, 1)
        weight_i = torch.softmax(i, dim=1)  # over the tokens
        context_score = weight_i * self.fc_k(input)  # (B, n, d_model)
        context_vector = torch.sum(context_score, dim=1, keepdim=True)  # (B, 1, d_model)
        v = self.fc_v(input) * context_vector  # (B, n, d_model)
        return self.fc_o(v)  # (B, n, d_model)
