"""Upstream's shared `init_weights` (External-Attention-pytorch defines the same body in most
files): Conv2d Kaiming normal (fan_out) with zero bias, BatchNorm2d weight 1 / bias 0,
Linear N(0, 0.001) with zero bias. Conv1d, BatchNorm1d, LayerNorm and GroupNorm are untouched."""

from __future__ import annotations

from torch import nn
from torch.nn import init


def upstream_init_weights(module: nn.Module) -> None:
    """Apply upstream's initialisation to every sub-module of `module`, in place."""
    for m in module.modules():
        if isinstance(m, nn.Conv2d):
            init.kaiming_normal_(m.weight, mode="fan_out")
            if m.bias is not None:
                init.constant_(m.bias, 0)
        elif isinstance(m, nn.BatchNorm2d):
            init.constant_(m.weight, 1)
            init.constant_(m.bias, 0)
        elif isinstance(m, nn.Linear):
            init.normal_(m.weight, std=0.001)
            if m.bias is not None:
                init.constant_(m.bias, 0)
