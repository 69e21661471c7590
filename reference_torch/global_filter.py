"""GlobalFilter: GFNet's learnable global filter in the 2-D Fourier domain (PyTorch reference,
tokens (B, N, C)).

Paper:     Rao, Zhao, Zhu, Lu, Zhou, "Global Filter Networks for Image Classification",
           NeurIPS 2021. https://arxiv.org/abs/2107.00645
Upstream:  xmu-xiaoma666/External-Attention-pytorch, model/attention/gfnet.py (class GlobalFilter)
Licence:   MIT, Copyright (c) 2021 xmu-xiaoma666; the MIT notice ships with this package.
Local deviations from upstream:
  - none in the math or the state_dict (same constructor, attribute names, keys and forward,
    including the cast to float32 before the FFT: a float32 module returns float32 for a float64
    input; a float64 module computes the forward FFT in float32 and, since the complex128 weight
    promotes the product, returns float64).
  - Inputs upstream would reject obscurely raise a `ValueError` naming the sizes: a non-3D input
    or `C != dim`, `N != a * b` (with no `spatial_size`, N must be a perfect square), and a token
    grid whose half-spectrum `(a, b // 2 + 1)` differs from the filter's `(h, w)`.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from reference_torch._checks import check_positive_int, check_sequence_input


def token_grid(
    tokens: int, spatial_size: tuple[int, int] | None, h: int, w: int
) -> tuple[int, int]:
    """The `(a, b)` token grid of a GlobalFilter call; raise `ValueError` when it cannot work.

    `a = b = int(sqrt(N))` without `spatial_size`, as upstream. The grid must hold all N tokens
    and its half-spectrum `(a, b // 2 + 1)` must be the filter's `(h, w)`.
    """
    if spatial_size is None:
        a = b = int(math.sqrt(tokens))
    else:
        a, b = spatial_size
    if a * b != tokens:
        raise ValueError(
            "Expected the tokens to fill the (a, b) grid: N = a * b, with a = b = int(sqrt(N)) "
            f"when spatial_size is None. Received: N={tokens}, spatial_size={spatial_size!r}"
        )
    if (a, b // 2 + 1) != (h, w):
        raise ValueError(
            f"Expected the (a, b) = ({a}, {b}) token grid's half-spectrum (a, b // 2 + 1) = "
            f"({a}, {b // 2 + 1}) to match the filter's (h, w). Received: h={h}, w={w}"
        )
    return a, b


class GlobalFilter(nn.Module):
    """Multiplies the 2-D real FFT (norm 'ortho') of the token grid by a learnable complex filter
    and transforms back.

    Args:
        dim: Number of features per token.
        h: Filter height; must equal the grid height a. Defaults to 14.
        w: Filter width; must equal b // 2 + 1 for the grid width b. Defaults to 8.
    """

    def __init__(self, dim: int, h: int = 14, w: int = 8):
        super().__init__()
        for name, value in (("dim", dim), ("h", h), ("w", w)):
            check_positive_int(name, value)
        # (h, w, dim, 2): the last axis holds (real, imaginary).
        self.complex_weight = nn.Parameter(torch.randn(h, w, dim, 2, dtype=torch.float32) * 0.02)
        self.w = w
        self.h = h

    def forward(self, x: torch.Tensor, spatial_size: tuple[int, int] | None = None) -> torch.Tensor:
        """`(B, N, dim) -> (B, N, dim)`; the grid is `spatial_size` or sqrt(N) x sqrt(N)."""
        check_sequence_input("input", x, self.complex_weight.shape[2])
        B, N, C = x.shape
        a, b = token_grid(N, spatial_size, self.h, self.w)

        x = x.view(B, a, b, C)

        x = x.to(torch.float32)  # upstream: the FFT always runs in float32

        x = torch.fft.rfft2(x, dim=(1, 2), norm="ortho")  # (B, a, b // 2 + 1, C) complex
        weight = torch.view_as_complex(self.complex_weight)  # (h, w, C)
        x = x * weight
        x = torch.fft.irfft2(x, s=(a, b), dim=(1, 2), norm="ortho")

        x = x.reshape(B, N, C)
        return x
