"""PSA: Pyramid Split Attention from EPSANet (PyTorch reference, NCHW).

Paper:     Zhang, Zu, Lu, Zou, Meng, "EPSANet: An Efficient Pyramid Squeeze Attention Block on
           Convolutional Neural Network", 2021. https://arxiv.org/abs/2105.14447
Upstream:  xmu-xiaoma666/External-Attention-pytorch, model/attention/PSA.py (class PSA)
Licence:   MIT, Copyright (c) 2021 xmu-xiaoma666; the MIT notice ships with this package.
Local deviations from upstream:
  - registers `convs` and `se_blocks` as `nn.ModuleList` (upstream's plain lists leave
    `state_dict()` empty and are missed by `.to()`/`.double()`/`.eval()`; #14, PR #84); keys
    become `convs.{i}.weight`, `convs.{i}.bias`, `se_blocks.{i}.1.weight`, `se_blocks.{i}.3.weight`,
    so an upstream checkpoint (which holds no PSA tensors) loads with these keys missing.
  - does not write into its input in place (upstream's `SPC_out[:, idx] = conv(...)` mutates the
    caller's tensor and breaks autograd on a leaf input; #16). Math unchanged: each conv reads its
    own, unmodified channel group.
  Upstream quirk kept: the convs are ungrouped (EPSANet uses groups 1/4/8/16).
"""

from __future__ import annotations

import torch
from torch import nn

from reference_torch._checks import check_image_input, check_positive_int
from reference_torch._init import upstream_init_weights


class PSA(nn.Module):
    """Splits channels into `S` groups, convolves group `i` with kernel `2i + 3` and re-weights the
    groups with SE gates normalised by a softmax over the `S` scales.

    Args:
        channel: Number of input channels (`channel % S == 0`). Defaults to 512.
        reduction: SE bottleneck ratio (`channel // (S * reduction)` units). Defaults to 4.
        S: Number of scales (channel groups). Defaults to 4.
    """

    def __init__(self, channel: int = 512, reduction: int = 4, S: int = 4):
        super().__init__()
        check_positive_int("channel", channel)
        check_positive_int("reduction", reduction)
        check_positive_int("S", S)
        if channel % S:
            raise ValueError(
                "Expected `channel` to be divisible by `S` (one channel group per scale). "
                f"Received: S={S!r}, channel={channel!r}"
            )
        if channel // (S * reduction) < 1:
            raise ValueError(
                "Expected `channel // (S * reduction)` to be at least 1 (the SE bottleneck needs "
                f"one unit). Received: reduction={reduction!r}, channel={channel!r}, S={S!r}"
            )
        self.S = S
        # parity: nn.ModuleList instead of upstream's plain list (fix (a)).
        self.convs = nn.ModuleList(
            [
                nn.Conv2d(channel // S, channel // S, kernel_size=2 * (i + 1) + 1, padding=i + 1)
                for i in range(S)
            ]
        )
        # parity: nn.ModuleList instead of upstream's plain list (fix (a)).
        self.se_blocks = nn.ModuleList(
            [
                nn.Sequential(
                    nn.AdaptiveAvgPool2d(1),
                    nn.Conv2d(channel // S, channel // (S * reduction), kernel_size=1, bias=False),
                    nn.ReLU(inplace=True),
                    nn.Conv2d(channel // (S * reduction), channel // S, kernel_size=1, bias=False),
                    nn.Sigmoid(),
                )
                for _ in range(S)
            ]
        )
        self.softmax = nn.Softmax(dim=1)

    def init_weights(self) -> None:
        """Upstream's initialisation (defined upstream but never called by it)."""
        upstream_init_weights(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """`(B, C, H, W) -> (B, C, H, W)`."""
        check_image_input(x, self.S * self.convs[0].in_channels)
        b, c, h, w = x.size()
        # Step 1, SPC: group-major split (B, S, C/S, H, W); conv i reads group i.
        spc_in = x.view(b, self.S, c // self.S, h, w)
        # parity: stack into a new tensor instead of writing into `x` (fix (a), #16).
        spc_out = torch.stack(
            [conv(spc_in[:, idx, :, :, :]) for idx, conv in enumerate(self.convs)], dim=1
        )
        # Step 2, SE weights (B, S, C/S, 1, 1).
        se_out = torch.stack(
            [se(spc_out[:, idx, :, :, :]) for idx, se in enumerate(self.se_blocks)], dim=1
        )
        se_out = se_out.expand_as(spc_out)
        # Step 3, softmax over the S scales.
        softmax_out = self.softmax(se_out)
        # Step 4, SPA.
        psa_out = spc_out * softmax_out
        return psa_out.view(b, -1, h, w)
