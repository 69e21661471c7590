"""EMSA: efficient multi-head self-attention from ResT (PyTorch reference, sequence layout).

Paper:     Zhang, Yang, "ResT: An Efficient Transformer for Visual Recognition", NeurIPS 2021.
           https://arxiv.org/abs/2105.13677
Upstream:  xmu-xiaoma666/External-Attention-pytorch, model/attention/EMSA.py (class EMSA)
Licence:   MIT, Copyright (c) 2021 xmu-xiaoma666; the MIT notice ships with this package.
Local deviations from upstream:
  - none in the math or the state_dict (same constructor, attribute names, keys and forward).
  - Arguments and inputs upstream would reject obscurely (a size error deep inside a conv, a
    `view` or the instance norm) raise a `ValueError` naming them instead: non-positive sizes,
    `ratio < 1` (upstream silently treats it as 1), H or W too small for the strided reduction
    conv, a token count other than H * W when `ratio > 1`, and a one-element attention map
    (`nq * n' == 1`) with the transform on.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from reference_torch._checks import (
    check_attention_inputs,
    check_positive_int,
    check_probability,
    check_sequence_input,
)
from reference_torch._init import upstream_init_weights


def _reduced_side(side: int, ratio: int) -> int:
    """Output size of the reduction conv (kernel ratio + 1, stride ratio, padding ratio // 2)."""
    return (side + 2 * (ratio // 2) - ratio - 1) // ratio + 1


class EMSA(nn.Module):
    """Multi-head attention whose keys and values come from a strided, depthwise-reduced grid.

    With `ratio > 1` the queries are read as a row-major `H x W` grid, reduced by a depthwise conv
    (kernel `ratio + 1`, stride `ratio`) and a LayerNorm, and keys and values are projected from
    the reduced tokens (the `keys` and `values` arguments are ignored). With `apply_transform` and
    `h > 1`, a 1x1 conv mixes the heads' attention maps, followed by a softmax and an instance norm
    (so the attention rows are no longer distributions, as upstream).

    Args:
        d_model: Features of the inputs and the output.
        d_k: Features per head of queries and keys.
        d_v: Features per head of values.
        h: Number of heads.
        dropout: Dropout rate on the attention map. Defaults to 0.1.
        H: Grid height of the queries when `ratio > 1`. Defaults to 7.
        W: Grid width of the queries when `ratio > 1`. Defaults to 7.
        ratio: Spatial reduction ratio; 1 disables the reduction. Defaults to 3.
        apply_transform: Whether to mix heads (only when `h > 1`). Defaults to True.
    """

    def __init__(
        self,
        d_model: int,
        d_k: int,
        d_v: int,
        h: int,
        dropout: float = 0.1,
        H: int = 7,
        W: int = 7,
        ratio: int = 3,
        apply_transform: bool = True,
    ):
        super().__init__()
        for name, value in (("d_model", d_model), ("d_k", d_k), ("d_v", d_v), ("h", h)):
            check_positive_int(name, value)
        check_positive_int("ratio", ratio)
        if ratio > 1:
            check_positive_int("H", H)
            check_positive_int("W", W)
            if min(H, W) + 2 * (ratio // 2) < ratio + 1:
                # parity: upstream fails inside the conv ("kernel size can't be greater than
                # actual input size"); only odd ratios with H or W == 1 get here.
                raise ValueError(
                    "Expected `H` and `W` to be at least 2 for an odd `ratio`: the reduction "
                    "conv (kernel ratio + 1, padding ratio // 2 per side) needs "
                    f"H + 2 * (ratio // 2) >= ratio + 1. Received: H={H}, W={W}, ratio={ratio}"
                )
            n_reduced = _reduced_side(H, ratio) * _reduced_side(W, ratio)
            if apply_transform and h > 1 and H * W * n_reduced == 1:
                # parity: upstream's InstanceNorm2d raises "Expected more than 1 spatial element".
                raise ValueError(
                    "The transform's instance norm needs an attention map of more than one "
                    "element, but H = W = 1 gives one query and one reduced token. Use a larger "
                    "H or W, h=1 or apply_transform=False. "
                    f"Received: H={H}, W={W}, ratio={ratio}, h={h}, "
                    f"apply_transform={apply_transform}"
                )
        check_probability("dropout", dropout)
        self.H = H
        self.W = W
        self.fc_q = nn.Linear(d_model, h * d_k)
        self.fc_k = nn.Linear(d_model, h * d_k)
        self.fc_v = nn.Linear(d_model, h * d_v)
        self.fc_o = nn.Linear(h * d_v, d_model)
        self.dropout = nn.Dropout(dropout)

        self.ratio = ratio
        if self.ratio > 1:
            self.sr = nn.Sequential()  # unused upstream; kept so the module tree matches
            self.sr_conv = nn.Conv2d(
                d_model,
                d_model,
                kernel_size=ratio + 1,
                stride=ratio,
                padding=ratio // 2,
                groups=d_model,
            )
            self.sr_ln = nn.LayerNorm(d_model)

        self.apply_transform = apply_transform and h > 1
        if self.apply_transform:
            self.transform = nn.Sequential()
            self.transform.add_module("conv", nn.Conv2d(h, h, kernel_size=1, stride=1))
            self.transform.add_module("softmax", nn.Softmax(-1))
            self.transform.add_module("in", nn.InstanceNorm2d(h))

        self.d_model = d_model
        self.d_k = d_k
        self.d_v = d_v
        self.h = h

        self.init_weights()

    def init_weights(self) -> None:
        """Upstream's initialisation (called by upstream's `__init__`)."""
        upstream_init_weights(self)

    def _check_inputs(self, queries: torch.Tensor, keys: torch.Tensor, values: torch.Tensor):
        check_sequence_input("queries", queries, self.d_model)
        nq = queries.shape[1]
        if self.ratio > 1:
            # Keys and values are ignored (upstream reads only keys.shape[1]).
            if nq != self.H * self.W:
                raise ValueError(
                    f"EMSA with ratio={self.ratio} reads the queries as an H x W grid, so it "
                    f"expects nq == H * W == {self.H * self.W} tokens. "
                    f"Received: queries.shape={tuple(queries.shape)}, H={self.H}, W={self.W}"
                )
            n_reduced = _reduced_side(self.H, self.ratio) * _reduced_side(self.W, self.ratio)
        else:
            check_attention_inputs(queries, keys, values, self.d_model)
            n_reduced = keys.shape[1]
        if self.apply_transform and nq * n_reduced == 1:
            # parity: upstream's InstanceNorm2d raises "Expected more than 1 spatial element".
            raise ValueError(
                "The transform's instance norm needs an attention map of more than one element "
                "(nq * nk > 1). Use more tokens, h=1 or apply_transform=False. "
                f"Received: queries.shape={tuple(queries.shape)}, keys.shape="
                f"{tuple(keys.shape)}, h={self.h}, apply_transform=True"
            )

    def forward(
        self,
        queries: torch.Tensor,
        keys: torch.Tensor,
        values: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        attention_weights: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """`(B, nq, d_model), (B, nk, d_model), (B, nk, d_model) -> (B, nq, d_model)`."""
        self._check_inputs(queries, keys, values)
        b_s, nq, c = queries.shape
        nk = keys.shape[1]

        # (b, h, nq, d_k)
        q = self.fc_q(queries).view(b_s, nq, self.h, self.d_k).permute(0, 2, 1, 3)

        if self.ratio > 1:
            x = queries.permute(0, 2, 1).view(b_s, c, self.H, self.W)  # (b, c, H, W)
            x = self.sr_conv(x)  # (b, c, h', w')
            x = x.contiguous().view(b_s, c, -1).permute(0, 2, 1)  # (b, n', c)
            x = self.sr_ln(x)
            k = self.fc_k(x).view(b_s, -1, self.h, self.d_k).permute(0, 2, 3, 1)  # (b, h, d_k, n')
            v = self.fc_v(x).view(b_s, -1, self.h, self.d_v).permute(0, 2, 1, 3)  # (b, h, n', d_v)
        else:
            # (b, h, d_k, nk)
            k = self.fc_k(keys).view(b_s, nk, self.h, self.d_k).permute(0, 2, 3, 1)
            # (b, h, nk, d_v)
            v = self.fc_v(values).view(b_s, nk, self.h, self.d_v).permute(0, 2, 1, 3)

        if self.apply_transform:
            att = torch.matmul(q, k) / np.sqrt(self.d_k)  # (b, h, nq, n')
            att = self.transform(att)  # (b, h, nq, n')
        else:
            att = torch.matmul(q, k) / np.sqrt(self.d_k)  # (b, h, nq, n')
            att = torch.softmax(att, -1)  # (b, h, nq, n')

        if attention_weights is not None:
            att = att * attention_weights
        if attention_mask is not None:
            att = att.masked_fill(attention_mask, -np.inf)  # after normalisation, as upstream

        att = self.dropout(att)

        out = (
            torch.matmul(att, v).permute(0, 2, 1, 3).contiguous().view(b_s, nq, self.h * self.d_v)
        )  # (b, nq, h * d_v)
        out = self.fc_o(out)  # (b, nq, d_model)
        return out
