"""Argument and shape checks shared by the Keras ports; messages end with `Received: ...`."""

from __future__ import annotations

from collections.abc import Sequence


def check_positive_int(name: str, value: object) -> None:
    """Raise `ValueError` unless `value` is an int >= 1 (bools rejected)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"Expected `{name}` to be a positive integer. Received: {name}={value!r}")


def check_odd_kernel(name: str, value: object) -> None:
    """Raise `ValueError` unless `value` is an odd int >= 1 (even kernels change the output size)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1 or value % 2 == 0:
        raise ValueError(
            f"Expected `{name}` to be an odd positive integer (the torch reference pads k//2, "
            f"which keeps the size only for odd k). Received: {name}={value!r}"
        )


def check_rank(layer_name: str, input_shape: Sequence, rank: int, layout: str) -> None:
    """Raise `ValueError` unless `input_shape` has `rank` axes."""
    if len(input_shape) != rank:
        raise ValueError(
            f"{layer_name} expects a {rank}D input {layout}. "
            f"Received: input_shape={tuple(input_shape)}"
        )


def check_last_axis(layer_name: str, input_shape: Sequence, expected: int, what: str) -> None:
    """Raise `ValueError` if the last axis is known and differs from `expected`."""
    actual = input_shape[-1]
    if actual is not None and actual != expected:
        raise ValueError(
            f"{layer_name} expects {expected} {what} on the last axis. "
            f"Received: input_shape={tuple(input_shape)}"
        )


def check_image_shape(layer_name: str, input_shape: Sequence, channel: int | None) -> None:
    """Raise `ValueError` unless `input_shape` is NHWC with `channel` channels (when given)."""
    check_rank(layer_name, input_shape, 4, "(batch, height, width, channel) (NHWC)")
    if channel is not None:
        check_last_axis(layer_name, input_shape, channel, "channels (NHWC)")


def check_probability(name: str, value: object) -> None:
    """Raise `ValueError` unless `value` is a real number in [0, 1] (e.g. a dropout rate)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise ValueError(
            f"Expected `{name}` to be a probability between 0 and 1. Received: {name}={value!r}"
        )


def check_sequence_shape(name: str, shape: Sequence, features: int) -> None:
    """Raise `ValueError` unless `shape` is `(batch, tokens, features)` (unknown sizes pass)."""
    if len(shape) != 3:
        raise ValueError(
            f"Expected `{name}` to be 3D (batch, tokens, features). "
            f"Received: {name}_shape={tuple(shape)}"
        )
    if shape[-1] is not None and shape[-1] != features:
        raise ValueError(
            f"Expected `{name}` to have {features} features on the last axis. "
            f"Received: {name}_shape={tuple(shape)}"
        )


def check_attention_shapes(
    queries_shape: Sequence,
    keys_shape: Sequence | None,
    values_shape: Sequence | None,
    d_model: int,
) -> None:
    """Raise `ValueError` unless queries are `(B, nq, d_model)`, keys and values `(B, nk, d_model)`.

    Keys and values may be omitted (a bare `build(queries_shape)`); unknown sizes pass.
    """
    check_sequence_shape("queries", queries_shape, d_model)
    if keys_shape is not None:
        check_sequence_shape("keys", keys_shape, d_model)
    if values_shape is not None:
        check_sequence_shape("values", values_shape, d_model)
    if keys_shape is None or values_shape is None:
        return
    pairs = [(keys_shape[0], values_shape[0]), (keys_shape[1], values_shape[1])]
    pairs.append((queries_shape[0], keys_shape[0]))
    if any(a is not None and b is not None and a != b for a, b in pairs):
        raise ValueError(
            "Expected `keys` and `values` to share (batch, tokens) and `queries` the batch. "
            f"Received: queries_shape={tuple(queries_shape)}, keys_shape={tuple(keys_shape)}, "
            f"values_shape={tuple(values_shape)}"
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
