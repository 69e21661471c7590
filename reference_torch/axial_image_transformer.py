"""AxialImageTransformer: axial-attention + conv-FFN image transformer (PyTorch reference, NCHW).

Paper:     Ho, Kalchbrenner, Weissenborn, Salimans, "Axial Attention in Multidimensional
           Transformers", 2019. https://arxiv.org/abs/1912.12180
Upstream:  xmu-xiaoma666/External-Attention-pytorch, model/attention/Axial_attention.py
           (classes AxialImageTransformer, ChanLayerNorm, PreNorm, AxialPositionalEmbedding,
           Sequential, Deterministic, ReversibleBlock, ReversibleSequence, _ReversibleFunction;
           SelfAttention and PermuteToFrom live in `reference_torch/axial_attention.py`)
Licence:   MIT, Copyright (c) 2021 xmu-xiaoma666; the MIT notice ships with this package.
Local deviations from upstream:
  - none in the math, the constructor, the attribute names or the state_dict keys, for both
    execution types (reversible: `layers.blocks.{j}.{f,g}.net...`; sequential:
    `layers.blocks.{j}.{0,1}...`). The reversible path keeps upstream's memory-saving custom
    autograd Function (forward under no_grad, backward by recomputing each block's input from
    its output), so it keeps upstream's gradient behaviour too: with a plain input (no
    `requires_grad`) and no positional embedding, the output does not require grad and no
    parameter can be trained; in eval mode the backward fails (`Deterministic` records the RNG
    state only in training mode but the backward always replays it: upstream raises
    "TypeError: expected a torch.ByteTensor, but got NoneType", and so does this reference);
    in training mode parameter gradients equal plain autograd's up to the reconstruction error
    of `x2 = y2 - g(y1)`, `x1 = y1 - f(x2)`. Forward outputs and training-mode gradients are
    bit-identical to upstream's (checked against the upstream file).
  - `dim_index` other than 1 is rejected with a `ValueError`: upstream's conv feed-forward
    (ChanLayerNorm, Conv2d) and the reversible split always use axis 1 as the channels, so any
    other value runs only when two axes both equal `dim` (and breaks the positional embedding).
  - unusable arguments raise `ValueError` in `__init__` (no head width, a malformed
    `axial_pos_emb_shape`), and a wrong input shape raises `ValueError` in forward instead of
    failing inside torch. `IrreversibleBlock` (defined upstream, never used) is not reproduced.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.utils.checkpoint import get_device_states, set_device_states

from reference_torch._checks import check_image_input, check_positive_int
from reference_torch.axial_attention import (
    PermuteToFrom,
    SelfAttention,
    calculate_permutations,
    check_heads,
)


class ChanLayerNorm(nn.Module):
    """LayerNorm over axis 1 of NCHW with `eps` added to the (biased) std, not the variance:
    `(x - mean) / (std + eps) * g + b`, with `g`, `b` of shape `(1, dim, 1, 1)`."""

    def __init__(self, dim: int, eps: float = 1e-5):
        super().__init__()
        self.eps = eps
        self.g = nn.Parameter(torch.ones(1, dim, 1, 1))
        self.b = nn.Parameter(torch.zeros(1, dim, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        std = torch.var(x, dim=1, unbiased=False, keepdim=True).sqrt()
        mean = torch.mean(x, dim=1, keepdim=True)
        return (x - mean) / (std + self.eps) * self.g + self.b


class PreNorm(nn.Module):
    """`fn(LayerNorm(x))`, the LayerNorm over the last axis."""

    def __init__(self, dim: int, fn: nn.Module):
        super().__init__()
        self.fn = fn
        self.norm = nn.LayerNorm(dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fn(self.norm(x))


class AxialPositionalEmbedding(nn.Module):
    """Adds one learned `randn` table per axial axis: `param_0 (1, dim, H, 1)`,
    `param_1 (1, dim, 1, W)` for NCHW (`emb_dim_index=1`)."""

    def __init__(self, dim: int, shape: tuple[int, ...], emb_dim_index: int = 1):
        super().__init__()
        total_dimensions = len(shape) + 2
        axial_indexes = [i for i in range(1, total_dimensions) if i != emb_dim_index]
        self.num_axials = len(shape)
        for i, (axial_size, axial_index) in enumerate(zip(shape, axial_indexes, strict=False)):
            parameter_shape = [1] * total_dimensions
            parameter_shape[emb_dim_index] = dim
            parameter_shape[axial_index] = axial_size
            setattr(self, f"param_{i}", nn.Parameter(torch.randn(*parameter_shape)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for i in range(self.num_axials):
            x = x + getattr(self, f"param_{i}")
        return x


class Deterministic(nn.Module):
    """Runs `net`, optionally recording the RNG state (training) or replaying it (recompute in
    the reversible backward), so a recomputation sees the same random numbers."""

    def __init__(self, net: nn.Module):
        super().__init__()
        self.net = net
        self.cpu_state = None
        self.cuda_in_fwd = None
        self.gpu_devices = None
        self.gpu_states = None

    def record_rng(self, *args) -> None:
        self.cpu_state = torch.get_rng_state()
        if torch.cuda._initialized:
            self.cuda_in_fwd = True
            self.gpu_devices, self.gpu_states = get_device_states(*args)

    def forward(self, *args, record_rng: bool = False, set_rng: bool = False, **kwargs):
        if record_rng:
            self.record_rng(*args)
        if not set_rng:
            return self.net(*args, **kwargs)
        devices = self.gpu_devices if self.cuda_in_fwd else []
        with torch.random.fork_rng(devices=devices, enabled=True):
            torch.set_rng_state(self.cpu_state)
            if self.cuda_in_fwd:
                set_device_states(self.gpu_devices, self.gpu_states)
            return self.net(*args, **kwargs)


class ReversibleBlock(nn.Module):
    """On `cat([x1, x2], 1)`: `y1 = x1 + f(x2)`, `y2 = x2 + g(y1)`, returns `cat([y1, y2], 1)`.

    The forward runs without building a graph; `backward_pass` recovers the inputs from the
    outputs and back-propagates through a recomputation.
    """

    def __init__(self, f: nn.Module, g: nn.Module):
        super().__init__()
        self.f = Deterministic(f)
        self.g = Deterministic(g)

    def forward(self, x: torch.Tensor, f_args=None, g_args=None) -> torch.Tensor:
        f_args, g_args = f_args or {}, g_args or {}
        x1, x2 = torch.chunk(x, 2, dim=1)
        with torch.no_grad():
            y1 = x1 + self.f(x2, record_rng=self.training, **f_args)
            y2 = x2 + self.g(y1, record_rng=self.training, **g_args)
        return torch.cat([y1, y2], dim=1)

    def backward_pass(self, y, dy, f_args=None, g_args=None):
        """From this block's output `y` and its gradient `dy`, return its input and the input's
        gradient; parameter gradients accumulate as a side effect."""
        f_args, g_args = f_args or {}, g_args or {}
        y1, y2 = torch.chunk(y, 2, dim=1)
        dy1, dy2 = torch.chunk(dy, 2, dim=1)

        with torch.enable_grad():  # g's parameters, and dL/dy1 through g
            y1.requires_grad = True
            gy1 = self.g(y1, set_rng=True, **g_args)
            torch.autograd.backward(gy1, dy2)
        with torch.no_grad():
            x2 = y2 - gy1
            dx1 = dy1 + y1.grad
            y1.grad = None

        with torch.enable_grad():  # f's parameters, and dL/dx2 through f
            x2.requires_grad = True
            fx2 = self.f(x2, set_rng=True, **f_args)
            torch.autograd.backward(fx2, dx1, retain_graph=True)
        with torch.no_grad():
            x1 = y1 - fx2
            dx2 = dy2 + x2.grad
            x2.grad = None
            x = torch.cat([x1, x2.detach()], dim=1)
            dx = torch.cat([dx1, dx2], dim=1)
        return x, dx


class _ReversibleFunction(torch.autograd.Function):
    """Runs the blocks forward without storing activations; the backward walks them in reverse,
    reconstructing each block's input. The output requires grad only if `x` does."""

    @staticmethod
    def forward(ctx, x, blocks, kwargs):
        for block in blocks:
            x = block(x, **kwargs)
        ctx.y = x.detach()
        ctx.blocks = blocks
        ctx.kwargs = kwargs
        return x

    @staticmethod
    def backward(ctx, dy):
        y = ctx.y
        for block in reversed(ctx.blocks):
            y, dy = block.backward_pass(y, dy, **ctx.kwargs)
        return dy, None, None


class ReversibleSequence(nn.Module):
    """Duplicates the input along axis 1 (`x1 = x2 = x`), runs the reversible blocks, and returns
    the mean of the two halves `(y1 + y2) / 2`."""

    def __init__(self, blocks):
        super().__init__()
        self.blocks = nn.ModuleList([ReversibleBlock(f, g) for (f, g) in blocks])

    def forward(self, x: torch.Tensor, arg_route=(True, True), **kwargs) -> torch.Tensor:
        f_args, g_args = (kwargs if route else {} for route in arg_route)
        block_kwargs = {"f_args": f_args, "g_args": g_args}
        x = torch.cat((x, x), dim=1)
        x = _ReversibleFunction.apply(x, self.blocks, block_kwargs)
        return torch.stack(x.chunk(2, dim=1)).mean(dim=0)


class Sequential(nn.Module):
    """The non-reversible path: for each `(f, g)` pair, `x = x + f(x)`, then `x = x + g(x)`."""

    def __init__(self, blocks: nn.ModuleList):
        super().__init__()
        self.blocks = blocks

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for f, g in self.blocks:
            x = x + f(x)
            x = x + g(x)
        return x


class AxialImageTransformer(nn.Module):
    """`depth` layers of (attention along H, attention along W) and (conv FFN, conv FFN) pairs.

    Each attention is `PermuteToFrom(PreNorm(dim, SelfAttention(dim, heads, dim_heads)))`; each
    FFN is `ChanLayerNorm, Conv2d(dim, 4 dim, 3, pad 1), LeakyReLU(0.01, in place),
    Conv2d(4 dim, dim, 3, pad 1)`. Reversible (default): `x1 = x2 = x`, for each pair
    `x1 += f(x2)`, `x2 += g(x1)`, output `(x1 + x2) / 2`. Non-reversible: `x += f(x)`,
    `x += g(x)`: a different function of the same weights.

    Args:
        dim: Channels (NCHW axis 1).
        depth: Number of (attention, FFN) layer pairs.
        heads: Attention heads. Defaults to 8.
        dim_heads: Features per head. Defaults to `dim // heads`.
        dim_index: The channel axis; only 1 (NCHW) works (see the header). Defaults to 1.
        reversible: Reversible residuals (True, default) or plain residuals.
        axial_pos_emb_shape: Optional `(H, W)`: adds learned positional tables and fixes the
            input size to H x W. Defaults to None (no embedding).
    """

    def __init__(
        self,
        dim: int,
        depth: int,
        heads: int = 8,
        dim_heads: int | None = None,
        dim_index: int = 1,
        reversible: bool = True,
        axial_pos_emb_shape: tuple[int, int] | None = None,
    ):
        check_args(dim, depth, heads, dim_heads, dim_index, reversible, axial_pos_emb_shape)
        super().__init__()
        self.dim = dim
        self.axial_pos_emb_shape = (
            None if axial_pos_emb_shape is None else tuple(axial_pos_emb_shape)
        )
        permutations = calculate_permutations(2, dim_index)

        def get_ff() -> nn.Sequential:
            return nn.Sequential(
                ChanLayerNorm(dim),
                nn.Conv2d(dim, dim * 4, 3, padding=1),
                nn.LeakyReLU(inplace=True),
                nn.Conv2d(dim * 4, dim, 3, padding=1),
            )

        self.pos_emb = (
            nn.Identity()
            if axial_pos_emb_shape is None
            else AxialPositionalEmbedding(dim, axial_pos_emb_shape, dim_index)
        )
        layers = nn.ModuleList([])
        for _ in range(depth):
            attn_functions = nn.ModuleList(
                [
                    PermuteToFrom(permutation, PreNorm(dim, SelfAttention(dim, heads, dim_heads)))
                    for permutation in permutations
                ]
            )
            layers.append(attn_functions)
            layers.append(nn.ModuleList([get_ff(), get_ff()]))
        execute_type = ReversibleSequence if reversible else Sequential
        self.layers = execute_type(layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """`(B, dim, H, W) -> (B, dim, H, W)`."""
        check_image_input(x, self.dim)
        if self.axial_pos_emb_shape is not None and tuple(x.shape[2:]) != self.axial_pos_emb_shape:
            raise ValueError(
                f"Expected the input's (H, W) to equal axial_pos_emb_shape="
                f"{self.axial_pos_emb_shape}. Received: input.shape={tuple(x.shape)}"
            )
        return self.layers(self.pos_emb(x))


def check_args(dim, depth, heads, dim_heads, dim_index, reversible, axial_pos_emb_shape) -> None:
    """The constructor checks, shared word for word with the Keras port's messages."""
    check_positive_int("dim", dim)
    if isinstance(depth, bool) or not isinstance(depth, int) or depth < 0:
        raise ValueError(
            f"Expected `depth` to be a non-negative integer. Received: depth={depth!r}"
        )
    check_heads(dim, heads, dim_heads)
    if dim_index != 1 or isinstance(dim_index, bool):
        raise ValueError(
            "Expected `dim_index=1` (NCHW): the conv feed-forward and the reversible split "
            f"always use axis 1 as the channels. Received: dim_index={dim_index!r}"
        )
    if not isinstance(reversible, bool):
        raise ValueError(f"Expected `reversible` to be a bool. Received: reversible={reversible!r}")
    if axial_pos_emb_shape is not None and (
        not isinstance(axial_pos_emb_shape, list | tuple)
        or len(axial_pos_emb_shape) != 2
        or any(isinstance(s, bool) or not isinstance(s, int) or s < 1 for s in axial_pos_emb_shape)
    ):
        raise ValueError(
            "Expected `axial_pos_emb_shape` to be None or two positive integers (H, W). "
            f"Received: axial_pos_emb_shape={axial_pos_emb_shape!r}"
        )
