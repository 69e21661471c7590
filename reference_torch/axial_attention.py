"""AxialAttention: multi-head self-attention along each axis of an image (PyTorch reference).

Paper:     Ho, Kalchbrenner, Weissenborn, Salimans, "Axial Attention in Multidimensional
           Transformers", 2019. https://arxiv.org/abs/1912.12180
Upstream:  xmu-xiaoma666/External-Attention-pytorch, model/attention/Axial_attention.py
           (classes SelfAttention, PermuteToFrom, AxialAttention; function calculate_permutations)
Licence:   MIT, Copyright (c) 2021 xmu-xiaoma666; the MIT notice ships with this package.
Local deviations from upstream:
  - none in the math, the constructor, the attribute names or the state_dict keys
    (`axial_attentions.{i}.fn.{to_q,to_kv,to_out}.*`). Upstream's `assert dim % heads == 0` and
    its forward asserts (rank, size of the embedding axis) are `ValueError`s here, and arguments
    upstream would fail on later (dim_index outside the tensor, zero heads) are rejected in
    `__init__`.

Layout: the embedding (channel) axis is `dim_index` of the input, which has
`num_dimensions + 2` axes. `dim_index=1` is NCHW; the default `dim_index=-1` is channels-last
(`(B, H, W, C)`), so torch takes the same layout as the Keras port there.
"""

from __future__ import annotations

import torch
from torch import nn

from reference_torch._checks import check_positive_int


def calculate_permutations(num_dimensions: int, emb_dim: int) -> list[list[int]]:
    """One permutation per axial axis: [the other axes ascending, the axial axis, the emb axis].

    `emb_dim <= 0` counts from the end of a `num_dimensions + 2`-axis tensor. Example:
    `(2, 1)` gives `[[0, 3, 2, 1], [0, 2, 3, 1]]` (attention along H, then along W, for NCHW).
    """
    total_dimensions = num_dimensions + 2
    emb_dim = emb_dim if emb_dim > 0 else emb_dim + total_dimensions
    permutations = []
    for axial_dim in range(1, total_dimensions):
        if axial_dim == emb_dim:
            continue
        rest = [axis for axis in range(total_dimensions) if axis not in (axial_dim, emb_dim)]
        permutations.append([*rest, axial_dim, emb_dim])
    return permutations


def inverse_permutation(permutation: list[int]) -> list[int]:
    """The permutation that undoes `permutation` (upstream's `sort_and_return_indices`)."""
    return sorted(range(len(permutation)), key=lambda index: permutation[index])


def check_heads(dim: int, heads: int, dim_heads: int | None) -> None:
    """Raise `ValueError` unless `heads >= 1` and the per-head width is at least 1."""
    check_positive_int("heads", heads)
    if dim_heads is not None:
        check_positive_int("dim_heads", dim_heads)
    elif dim // heads < 1:
        raise ValueError(
            "Expected `heads` to be at most `dim` when `dim_heads` is None (each head gets "
            f"dim // heads features). Received: dim={dim!r}, heads={heads!r}"
        )


class SelfAttention(nn.Module):
    """Multi-head self-attention on `(N, T, dim)` tokens, heads split head-major.

    Args:
        dim: Token features.
        heads: Number of heads.
        dim_heads: Features per head. Defaults to `dim // heads`.
    """

    def __init__(self, dim: int, heads: int, dim_heads: int | None = None):
        super().__init__()
        check_positive_int("dim", dim)
        check_heads(dim, heads, dim_heads)
        self.dim_heads = (dim // heads) if dim_heads is None else dim_heads
        dim_hidden = self.dim_heads * heads
        self.heads = heads
        self.to_q = nn.Linear(dim, dim_hidden, bias=False)
        self.to_kv = nn.Linear(dim, 2 * dim_hidden, bias=False)  # k is the first half, v the second
        self.to_out = nn.Linear(dim_hidden, dim)

    def forward(self, x: torch.Tensor, kv: torch.Tensor | None = None) -> torch.Tensor:
        """`(N, T, dim) -> (N, T, dim)`; `kv` (default `x`) gives the keys and values."""
        kv = x if kv is None else kv
        q = self.to_q(x)
        k, v = self.to_kv(kv).chunk(2, dim=-1)
        b, _, d = q.shape
        h, e = self.heads, self.dim_heads

        def merge_heads(tensor: torch.Tensor) -> torch.Tensor:
            # (N, T, h*e) -> (N*h, T, e), row n*h + head
            return tensor.reshape(b, -1, h, e).transpose(1, 2).reshape(b * h, -1, e)

        q, k, v = merge_heads(q), merge_heads(k), merge_heads(v)
        dots = torch.einsum("bie,bje->bij", q, k) * (e**-0.5)
        dots = dots.softmax(dim=-1)
        out = torch.einsum("bij,bje->bie", dots, v)
        out = out.reshape(b, h, -1, e).transpose(1, 2).reshape(b, -1, d)
        return self.to_out(out)


class PermuteToFrom(nn.Module):
    """Move one axial axis next to the embedding axis, fold the rest into the batch, apply `fn`
    to `(-1, T, D)` rows, and restore the original shape and axis order.

    Args:
        permutation: Axis order `[rest..., axial, emb]` (from `calculate_permutations`).
        fn: The module applied to `(rows, T, D)`.
    """

    def __init__(self, permutation: list[int], fn: nn.Module):
        super().__init__()
        self.fn = fn
        self.permutation = list(permutation)
        self.inv_permutation = inverse_permutation(self.permutation)

    def forward(self, x: torch.Tensor, **kwargs) -> torch.Tensor:
        axial = x.permute(*self.permutation).contiguous()
        shape = axial.shape
        t, d = shape[-2], shape[-1]
        axial = self.fn(axial.reshape(-1, t, d), **kwargs)  # merge all but the axial axis
        axial = axial.reshape(*shape)
        return axial.permute(*self.inv_permutation).contiguous()


class AxialAttention(nn.Module):
    """Self-attention along each non-embedding axis; the results are summed (or chained).

    No residual and no normalisation: `sum_axial_out=True` returns `sum_i attn_i(x)`, otherwise
    `attn_last(... attn_0(x))`, the axes taken in ascending order (for 2-D: H, then W).

    Args:
        dim: Embedding size (the size of axis `dim_index`); divisible by `heads`.
        num_dimensions: Number of axial axes (2 for images). Defaults to 2.
        heads: Number of heads. Defaults to 8.
        dim_heads: Features per head. Defaults to `dim // heads`.
        dim_index: Axis of the embedding: `-1` channels-last (default), `1` channels-first.
        sum_axial_out: Sum the per-axis outputs (True, default) or apply them in sequence.
    """

    def __init__(
        self,
        dim: int,
        num_dimensions: int = 2,
        heads: int = 8,
        dim_heads: int | None = None,
        dim_index: int = -1,
        sum_axial_out: bool = True,
    ):
        check_positive_int("dim", dim)
        check_positive_int("num_dimensions", num_dimensions)
        check_positive_int("heads", heads)
        if dim % heads != 0:  # upstream: assert (dim % heads) == 0
            raise ValueError(
                "Expected `dim` to be divisible by `heads` (hidden dimension must be divisible "
                f"by number of heads). Received: dim={dim!r}, heads={heads!r}"
            )
        check_dim_index(dim_index, num_dimensions)
        if not isinstance(sum_axial_out, bool):
            raise ValueError(
                f"Expected `sum_axial_out` to be a bool. Received: sum_axial_out={sum_axial_out!r}"
            )
        super().__init__()
        self.dim = dim
        self.total_dimensions = num_dimensions + 2
        self.dim_index = dim_index if dim_index > 0 else dim_index + self.total_dimensions
        self.axial_attentions = nn.ModuleList(
            [
                PermuteToFrom(permutation, SelfAttention(dim, heads, dim_heads))
                for permutation in calculate_permutations(num_dimensions, dim_index)
            ]
        )
        self.sum_axial_out = sum_axial_out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != self.total_dimensions or x.shape[self.dim_index] != self.dim:
            raise ValueError(
                f"Expected a {self.total_dimensions}D input with dim={self.dim} features on "
                f"axis {self.dim_index} (the embedding axis, dim_index). "
                f"Received: input.shape={tuple(x.shape)}"
            )
        if self.sum_axial_out:
            return sum(axial_attention(x) for axial_attention in self.axial_attentions)
        out = x
        for axial_attention in self.axial_attentions:
            out = axial_attention(out)
        return out


def check_dim_index(dim_index: object, num_dimensions: int) -> None:
    """Raise `ValueError` unless `dim_index` names a non-batch axis of a
    `num_dimensions + 2`-axis tensor (1 .. n+1, or -(n+1) .. -1)."""
    total = num_dimensions + 2
    if (
        isinstance(dim_index, bool)
        or not isinstance(dim_index, int)
        or not (1 <= dim_index < total or -total < dim_index <= -1)
    ):
        raise ValueError(
            f"Expected `dim_index` to name a non-batch axis of the {total}D input (1 to "
            f"{total - 1}, or -{total - 1} to -1). Received: dim_index={dim_index!r}, "
            f"num_dimensions={num_dimensions!r}"
        )
