"""SimAM: a simple, parameter-free attention module (PyTorch reference, NCHW).

Paper:     Yang, Zhang, Li, Xie, "SimAM: A Simple, Parameter-Free Attention Module for
           Convolutional Neural Networks", ICML 2021. https://proceedings.mlr.press/v139/yang21o.html
Upstream:  xmu-xiaoma666/External-Attention-pytorch, model/attention/SimAM.py (class SimAM)
Licence:   MIT, Copyright (c) 2021 xmu-xiaoma666; the MIT notice ships with this package.
Local deviations from upstream:
  - error behaviour only: `channels` other than None or a positive integer, and an `e_lambda`
    that is not a real number >= 0, raise `ValueError` in `__init__` (upstream accepts any value:
    `channels` is never used, and a negative `e_lambda` can cancel the variance and divide by
    zero).
  - otherwise none: same constructor, attribute names, empty state_dict, custom `__repr__`,
    `get_module_name()` and forward math. Upstream quirks kept: `channels` is accepted and never
    used (an input with any channel count works), and a 1x1 input gives NaN (the variance divides
    by H*W - 1 = 0).
"""

from __future__ import annotations

import torch
from torch import nn

from reference_torch._checks import check_image_input, check_positive_int


def check_e_lambda(e_lambda: object) -> None:
    """Raise `ValueError` unless `e_lambda` is a real number >= 0 (bools rejected)."""
    if isinstance(e_lambda, bool) or not isinstance(e_lambda, int | float) or not e_lambda >= 0:
        raise ValueError(
            "Expected `e_lambda` to be a real number >= 0 (it is added to a variance). "
            f"Received: e_lambda={e_lambda!r}"
        )


class SimAM(nn.Module):
    """Weights every activation by a sigmoid of its energy: its squared distance to the mean of
    its channel, over the channel's unbiased spatial variance plus `e_lambda`.

    Args:
        channels: Accepted and ignored, as upstream (any channel count works). Defaults to None.
        e_lambda: Regulariser added to the variance. Defaults to 1e-4.
    """

    def __init__(self, channels: int | None = None, e_lambda: float = 1e-4):
        super().__init__()
        if channels is not None:
            check_positive_int("channels", channels)
        check_e_lambda(e_lambda)
        self.activaton = nn.Sigmoid()  # upstream's spelling
        self.e_lambda = e_lambda

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}(lambda={self.e_lambda:f})"

    @staticmethod
    def get_module_name() -> str:
        """Upstream's short name of the block."""
        return "simam"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """`(B, C, H, W) -> (B, C, H, W)`; all NaN when H * W = 1, as upstream."""
        check_image_input(x)
        _, _, h, w = x.size()
        n = w * h - 1  # unbiased: H*W - 1 degrees of freedom
        x_minus_mu_square = (x - x.mean(dim=[2, 3], keepdim=True)).pow(2)
        y = (
            x_minus_mu_square
            / (4 * (x_minus_mu_square.sum(dim=[2, 3], keepdim=True) / n + self.e_lambda))
            + 0.5
        )
        return x * self.activaton(y)
