"""Argument and input checks shared by the references, raising at our boundary with clear messages."""

from __future__ import annotations

import torch


def check_positive_int(name: str, value: object) -> None:
    """Raise `ValueError` unless `value` is an int >= 1 (bools rejected)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"Expected `{name}` to be a positive integer. Received: {name}={value!r}")


def check_odd_kernel(name: str, value: object) -> None:
    """Raise `ValueError` unless `value` is an odd int >= 1 (even kernels change the output size)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1 or value % 2 == 0:
        raise ValueError(
            f"Expected `{name}` to be an odd positive integer (an even kernel with "
            f"padding k//2 changes the spatial size). Received: {name}={value!r}"
        )


def check_image_input(x: torch.Tensor, channel: int | None = None) -> None:
    """Raise `ValueError` unless `x` is 4-D NCHW with `channel` channels (when given)."""
    if x.dim() != 4:
        raise ValueError(
            "Expected a 4D input (batch, channel, height, width) (NCHW). "
            f"Received: input.shape={tuple(x.shape)}"
        )
    if channel is not None and x.shape[1] != channel:
        raise ValueError(
            f"Expected {channel} channels on axis 1 (NCHW). Received: input.shape={tuple(x.shape)}"
        )


def check_sequence_input(name: str, x: torch.Tensor, features: int | None = None) -> None:
    """Raise `ValueError` unless `x` is 3-D `(B, N, features)`."""
    if x.dim() != 3:
        raise ValueError(
            f"Expected `{name}` to be 3D (batch, tokens, features). "
            f"Received: {name}.shape={tuple(x.shape)}"
        )
    if features is not None and x.shape[-1] != features:
        raise ValueError(
            f"Expected `{name}` to have {features} features on the last axis. "
            f"Received: {name}.shape={tuple(x.shape)}"
        )


def check_probability(name: str, value: object) -> None:
    """Raise `ValueError` unless `value` is a real number in [0, 1] (e.g. a dropout rate)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise ValueError(
            f"Expected `{name}` to be a probability between 0 and 1. Received: {name}={value!r}"
        )


def check_attention_inputs(
    queries: torch.Tensor, keys: torch.Tensor, values: torch.Tensor, d_model: int
) -> None:
    """Raise `ValueError` unless queries are `(B, nq, d_model)`, keys and values `(B, nk, d_model)`."""
    check_sequence_input("queries", queries, d_model)
    check_sequence_input("keys", keys, d_model)
    check_sequence_input("values", values, d_model)
    if keys.shape[:2] != values.shape[:2] or queries.shape[0] != keys.shape[0]:
        raise ValueError(
            "Expected `keys` and `values` to share (batch, tokens) and `queries` the batch. "
            f"Received: queries.shape={tuple(queries.shape)}, keys.shape={tuple(keys.shape)}, "
            f"values.shape={tuple(values.shape)}"
        )


def check_reduction(channel: object, reduction: object) -> None:
    """Raise `ValueError` unless 1 <= reduction <= channel (a bottleneck of >= 1 unit)."""
    check_positive_int("channel", channel)
    check_positive_int("reduction", reduction)
    if reduction > channel:
        raise ValueError(
            "Expected `reduction` to be at most `channel` (the bottleneck needs at least one "
            f"unit). Received: reduction={reduction!r}, channel={channel!r}"
        )
