"""ACmix: a mix of local self-attention and convolution sharing 1x1 projections (PyTorch
reference, NCHW).

Paper:     Pan, Ge, Lu, Song, Chen, Huang, Huang, "On the Integration of Self-Attention and
           Convolution", CVPR 2022. https://arxiv.org/abs/2111.14556
Upstream:  xmu-xiaoma666/External-Attention-pytorch, model/attention/ACmixAttention.py
           (class ACmix; functions position, stride, init_rate_half, init_rate_0)
Licence:   MIT, Copyright (c) 2021 xmu-xiaoma666; the MIT notice ships with this package.
Local deviations from upstream:
  - `position()` builds its table with `torch.linspace(..., dtype=x.dtype, device=x.device)`
    instead of the default dtype and a hard-coded `.cuda()`. On CPU in float32 this is
    upstream's non-CUDA path exactly; in float64 upstream fails (a float32 table into a float64
    conv_p) unless the default dtype is float64, and then it builds this same table. On CUDA
    the table lands on `x`'s device rather than the current default CUDA device.
  - configurations upstream cannot run raise `ValueError` with the reason instead of failing
    deep inside torch: `out_planes % head != 0`, even `kernel_att`, `kernel_conv != 3` (dep_conv's
    padding is hard-coded to 1), `dilation != 1` (the padding grows but the Unfold ignores it)
    in `__init__`; H or W not divisible by `stride`, or not larger than the reflection padding
    `(kernel_att - 1) // 2`, in forward.
  - otherwise none: same constructor, attribute names, state_dict keys (dep_conv has no bias:
    upstream replaces it by None; rate1/rate2 are (1,) = 0.5; dep_conv's weight is the one-hot
    shift kernels), forward math and order of operations.
"""

from __future__ import annotations

import torch
from torch import nn

from reference_torch._checks import check_image_input, check_odd_kernel, check_positive_int


def position(H: int, W: int, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """`(1, 2, H, W)`: channel 0 is linspace(-1, 1, W) along the width, channel 1 is
    linspace(-1, 1, H) along the height."""
    loc_w = torch.linspace(-1.0, 1.0, W, dtype=dtype, device=device).unsqueeze(0).repeat(H, 1)
    loc_h = torch.linspace(-1.0, 1.0, H, dtype=dtype, device=device).unsqueeze(1).repeat(1, W)
    return torch.cat([loc_w.unsqueeze(0), loc_h.unsqueeze(0)], 0).unsqueeze(0)


def stride(x: torch.Tensor, stride: int) -> torch.Tensor:
    """Keep every `stride`-th row and column."""
    return x[:, :, ::stride, ::stride]


def init_rate_half(tensor: torch.Tensor | None) -> None:
    """Fill with 0.5 in place (returns None, as upstream)."""
    if tensor is not None:
        tensor.data.fill_(0.5)


def init_rate_0(tensor: torch.Tensor | None) -> None:
    """Fill with 0 in place (returns None, as upstream: assigning its result removes a bias)."""
    if tensor is not None:
        tensor.data.fill_(0.0)


def check_acmix_args(in_planes, out_planes, kernel_att, head, kernel_conv, stride, dilation):
    """The constructor checks, shared word for word with the Keras port's messages."""
    for name, value in (
        ("in_planes", in_planes),
        ("out_planes", out_planes),
        ("head", head),
        ("stride", stride),
    ):
        check_positive_int(name, value)
    if out_planes % head != 0:
        raise ValueError(
            "Expected `out_planes` to be divisible by `head` (each head gets out_planes // head "
            f"channels). Received: out_planes={out_planes!r}, head={head!r}"
        )
    check_odd_kernel("kernel_att", kernel_att)
    if kernel_conv != 3 or isinstance(kernel_conv, bool):
        raise ValueError(
            "Expected `kernel_conv=3`: dep_conv's padding is hard-coded to 1, so any other "
            f"kernel changes the output size. Received: kernel_conv={kernel_conv!r}"
        )
    if dilation != 1 or isinstance(dilation, bool):
        raise ValueError(
            "Expected `dilation=1`: the reflection padding grows with it but the Unfold ignores "
            f"it. Received: dilation={dilation!r}"
        )


def check_acmix_spatial(height: int, width: int, stride: int, kernel_att: int) -> str | None:
    """The message for an input size ACmix cannot take, or None."""
    padding = (kernel_att - 1) // 2
    if height % stride or width % stride:
        return (
            f"Expected H and W divisible by `stride` ({stride}); the unfold and the strided "
            f"conv disagree otherwise. Received: H={height}, W={width}, stride={stride}"
        )
    if height <= padding or width <= padding:
        return (
            f"Expected H and W larger than the reflection padding (kernel_att - 1) // 2 = "
            f"{padding}. Received: H={height}, W={width}, kernel_att={kernel_att}"
        )
    return None


class ACmix(nn.Module):
    """Shared 1x1 q/k/v projections feed two paths, mixed by learned scalars:
    `rate1 * local_attention + rate2 * shift_convolution`.

    Attention: multi-head self-attention over each `kernel_att x kernel_att` reflect-padded
    window, with a relative position term from `conv_p(position(H, W))`. Convolution: `fc` mixes
    the 3 * head q/k/v maps into kernel_conv^2 maps per head feature, then `dep_conv` (grouped by
    head feature, no bias, initialised to one-hot shift kernels) gives `out_planes` channels.

    Args:
        in_planes: Input channels.
        out_planes: Output channels (divisible by `head`).
        kernel_att: Odd attention window. Defaults to 7.
        head: Number of heads. Defaults to 4.
        kernel_conv: Shift-convolution kernel; only 3 works. Defaults to 3.
        stride: Output subsampling; H and W must be divisible by it. Defaults to 1.
        dilation: Only 1 works. Defaults to 1.
    """

    def __init__(
        self,
        in_planes: int,
        out_planes: int,
        kernel_att: int = 7,
        head: int = 4,
        kernel_conv: int = 3,
        stride: int = 1,
        dilation: int = 1,
    ):
        check_acmix_args(in_planes, out_planes, kernel_att, head, kernel_conv, stride, dilation)
        super().__init__()
        self.in_planes = in_planes
        self.out_planes = out_planes
        self.head = head
        self.kernel_att = kernel_att
        self.kernel_conv = kernel_conv
        self.stride = stride
        self.dilation = dilation
        self.rate1 = nn.Parameter(torch.empty(1))
        self.rate2 = nn.Parameter(torch.empty(1))
        self.head_dim = self.out_planes // self.head

        self.conv1 = nn.Conv2d(in_planes, out_planes, kernel_size=1)
        self.conv2 = nn.Conv2d(in_planes, out_planes, kernel_size=1)
        self.conv3 = nn.Conv2d(in_planes, out_planes, kernel_size=1)
        self.conv_p = nn.Conv2d(2, self.head_dim, kernel_size=1)

        self.padding_att = (self.dilation * (self.kernel_att - 1) + 1) // 2
        self.pad_att = nn.ReflectionPad2d(self.padding_att)
        self.unfold = nn.Unfold(kernel_size=self.kernel_att, padding=0, stride=self.stride)
        self.softmax = nn.Softmax(dim=1)

        self.fc = nn.Conv2d(3 * self.head, self.kernel_conv**2, kernel_size=1, bias=False)
        self.dep_conv = nn.Conv2d(
            self.kernel_conv**2 * self.head_dim,
            out_planes,
            kernel_size=self.kernel_conv,
            bias=True,
            groups=self.head_dim,
            padding=1,
            stride=stride,
        )
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """rate1 = rate2 = 0.5; dep_conv gets one-hot shift kernels and loses its bias."""
        init_rate_half(self.rate1)
        init_rate_half(self.rate2)
        kc = self.kernel_conv
        kernel = torch.zeros(kc * kc, kc, kc)
        for i in range(kc * kc):
            kernel[i, i // kc, i % kc] = 1.0
        kernel = kernel.squeeze(0).repeat(self.out_planes, 1, 1, 1)
        self.dep_conv.weight = nn.Parameter(data=kernel, requires_grad=True)
        self.dep_conv.bias = init_rate_0(self.dep_conv.bias)  # None: the bias is removed

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """`(B, in_planes, H, W) -> (B, out_planes, H // stride, W // stride)`."""
        check_image_input(x, self.in_planes)
        message = check_acmix_spatial(x.shape[2], x.shape[3], self.stride, self.kernel_att)
        if message:
            raise ValueError(f"{message}; input.shape={tuple(x.shape)}")
        q, k, v = self.conv1(x), self.conv2(x), self.conv3(x)
        scaling = float(self.head_dim) ** -0.5
        b, _, h, w = q.shape
        h_out, w_out = h // self.stride, w // self.stride
        kk = self.kernel_att * self.kernel_att

        pe = self.conv_p(position(h, w, x.dtype, x.device))  # parity: no .cuda(); x's dtype

        q_att = q.view(b * self.head, self.head_dim, h, w) * scaling
        k_att = k.view(b * self.head, self.head_dim, h, w)
        v_att = v.view(b * self.head, self.head_dim, h, w)
        if self.stride > 1:
            q_att = stride(q_att, self.stride)
            q_pe = stride(pe, self.stride)
        else:
            q_pe = pe

        # (b*head, head_dim, K^2, h_out, w_out), window position i*K + j
        unfold_k = self.unfold(self.pad_att(k_att)).view(
            b * self.head, self.head_dim, kk, h_out, w_out
        )
        unfold_rpe = self.unfold(self.pad_att(pe)).view(1, self.head_dim, kk, h_out, w_out)
        # (b*head, K^2, h_out, w_out): sum over head_dim, softmax over the window
        att = (q_att.unsqueeze(2) * (unfold_k + q_pe.unsqueeze(2) - unfold_rpe)).sum(1)
        att = self.softmax(att)

        out_att = self.unfold(self.pad_att(v_att)).view(
            b * self.head, self.head_dim, kk, h_out, w_out
        )
        out_att = (att.unsqueeze(1) * out_att).sum(2).view(b, self.out_planes, h_out, w_out)

        # (b, 3*head, head_dim, h*w): q heads, then k heads, then v heads; fc mixes that axis.
        f_all = self.fc(
            torch.cat(
                [
                    q.view(b, self.head, self.head_dim, h * w),
                    k.view(b, self.head, self.head_dim, h * w),
                    v.view(b, self.head, self.head_dim, h * w),
                ],
                1,
            )
        )
        # (b, head_dim * kc^2, h, w): channel d * kc^2 + i
        f_conv = f_all.permute(0, 2, 1, 3).reshape(x.shape[0], -1, x.shape[-2], x.shape[-1])
        out_conv = self.dep_conv(f_conv)
        return self.rate1 * out_att + self.rate2 * out_conv
