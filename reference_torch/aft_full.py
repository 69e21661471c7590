"""AFT_FULL: Attention Free Transformer, full variant (PyTorch reference, tokens).

Paper:     Zhai et al., "An Attention Free Transformer", 2021. https://arxiv.org/abs/2105.14103
Upstream:  xmu-xiaoma666/External-Attention-pytorch, model/attention/AFT.py (class AFT_FULL)
Licence:   MIT, Copyright (c) 2021 xmu-xiaoma666; the MIT notice ships with this package.
Local deviations from upstream:
  - error behaviour only: a sequence length other than `n` raises `ValueError` in `forward`.
    Upstream fails with a view error for most lengths, but a 1-token input into an n > 1 model
    runs silently: the (n, n) biases are viewed as n * n keys of that one token and cancel out,
    leaving sigmoid(q) * v; here every length != n is rejected. Invalid `d_model`/`n` and a
    non-bool `simple` raise `ValueError` in `__init__`.
  - otherwise none: same constructor, attribute names, state_dict keys and forward math, quirks
    included: `position_biases` is a Parameter (n, n) initialised to ones, or, with
    `simple=True`, a plain zeros tensor attribute (not in `state_dict`, not moved by `.to()`);
    the exponentials `exp(k + w)` have no max-subtraction (NaN once k + w exceeds ~88.7 in
    float32); Linear init N(0, 0.001) with zero bias, applied in `__init__`.
"""

from __future__ import annotations

import torch
from torch import nn

from reference_torch._checks import check_positive_int, check_sequence_input
from reference_torch._init import upstream_init_weights


class AFT_FULL(nn.Module):  # noqa: N801 (upstream's class name)
    """Gates each token with `sigmoid(q)` times a position-biased average of the values.

    out[b, t] = sigmoid(q[b, t]) * sum_s exp(k[b, s] + w[t, s]) v[b, s] / sum_s exp(k[b, s] + w[t, s])

    Args:
        d_model: Number of features per token.
        n: Sequence length (the position biases are `(n, n)`). Defaults to 49.
        simple: If True, the position biases are fixed zeros (an unregistered tensor, as
            upstream). Defaults to False.
    """

    def __init__(self, d_model: int, n: int = 49, simple: bool = False):
        super().__init__()
        check_positive_int("d_model", d_model)
        check_positive_int("n", n)
        if not isinstance(simple, bool):
            raise ValueError(f"Expected `simple` to be a bool. Received: simple={simple!r}")
        self.fc_q = nn.Linear(d_model, d_model)
        self.fc_k = nn.Linear(d_model, d_model)
        self.fc_v = nn.Linear(d_model, d_model)
        if simple:
            # Upstream quirk: a plain tensor, so not in state_dict and not moved by .to().
            self.position_biases = torch.zeros((n, n))
        else:
            self.position_biases = nn.Parameter(torch.ones((n, n)))
        self.d_model = d_model
        self.n = n
        self.sigmoid = nn.Sigmoid()
        self.init_weights()

    def init_weights(self) -> None:
        """Upstream's initialisation (called by upstream's `__init__`)."""
        upstream_init_weights(self)

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        """`(B, n, d_model) -> (B, n, d_model)`."""
        check_sequence_input("input", input, self.d_model)
        if input.shape[1] != self.n:
            # parity: upstream runs silently on 1 token (n > 1) and fails deep in torch otherwise.
            raise ValueError(
                f"Expected `input` to have n={self.n} tokens on axis 1 (the position biases are "
                f"({self.n}, {self.n})). Received: input.shape={tuple(input.shape)}"
            )
        bs, n, dim = input.shape
        q = self.fc_q(input)  # (bs, n, dim)
        k = self.fc_k(input).view(1, bs, n, dim)  # (1, bs, n, dim)
        v = self.fc_v(input).view(1, bs, n, dim)  # (1, bs, n, dim)
        # w viewed (n, 1, n, 1): exponent[t, b, s, :] = k[b, s, :] + w[t, s], (n, bs, n, dim).
        exponent = k + self.position_biases.view(n, 1, -1, 1)
        numerator = torch.sum(torch.exp(exponent) * v, dim=2)  # (n, bs, dim), sum over s
        denominator = torch.sum(torch.exp(exponent), dim=2)  # (n, bs, dim)
        out = numerator / denominator  # (n, bs, dim)
        return self.sigmoid(q) * out.permute(1, 0, 2)  # (bs, n, dim)
