"""Name maps: where a torch sub-module lives on the Keras side when the names differ.

By default a torch path (`blocks.0.attn.proj`) is looked up on the Keras layer as the same
attribute path. A name map redirects paths, for ports whose names differ (keras-hub style code,
private attributes):

    {"attn": "attention"}                        # a prefix: attn.proj -> attention.proj
    {"encoder.layer": "encoder._blocks"}         # private Keras attributes are fine
    {"attn.qkv": Split(["attention.query", "attention.key", "attention.value"])}

`Split` maps one torch layer onto several Keras layers whose outputs sit side by side in torch's
(a fused qkv Linear -> three Dense): every tensor of the torch layer is cut along `axis` (0, the
output axis of weights and biases) into equal parts, or parts of `sizes`. The map feeds the weight
transfer, the hyper-parameter audit and the localisation.

In JSON (`--name-map`), a split is `{"split": ["attention.query", ...], "axis": 0}`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Split:
    """One torch layer -> several Keras layers, its tensors cut along `axis` (see module doc)."""

    paths: tuple[str, ...]
    axis: int = 0
    sizes: tuple[int, ...] | None = None

    def __init__(
        self, paths: Sequence[str], axis: int = 0, sizes: Sequence[int] | None = None
    ) -> None:
        if (
            isinstance(paths, str)
            or len(paths) < 2
            or not all(isinstance(p, str) and p for p in paths)
        ):
            raise ValueError(
                "Expected `Split(paths)` to name at least two Keras paths. "
                f"Received: paths={paths!r}"
            )
        if sizes is not None and (
            len(sizes) != len(paths) or any(not isinstance(s, int) or s < 1 for s in sizes)
        ):
            raise ValueError(
                f"Expected one positive size per path in `Split`. Received: sizes={sizes!r} for "
                f"{len(paths)} paths"
            )
        if not isinstance(axis, int) or isinstance(axis, bool):
            raise ValueError(f"Expected an integer `axis` in `Split`. Received: axis={axis!r}")
        object.__setattr__(self, "paths", tuple(paths))
        object.__setattr__(self, "axis", axis)
        object.__setattr__(self, "sizes", None if sizes is None else tuple(sizes))

    def bounds(self, length: int) -> list[tuple[int, int]]:
        """The `[start, stop)` of each part along an axis of `length` elements."""
        if self.sizes is None:
            if length % len(self.paths):
                raise ValueError(
                    f"cannot split {length} elements into {len(self.paths)} equal parts; give "
                    "`sizes`"
                )
            sizes = [length // len(self.paths)] * len(self.paths)
        else:
            sizes = list(self.sizes)
            if sum(sizes) != length:
                raise ValueError(f"sizes {sizes} do not add up to {length} elements")
        starts = [sum(sizes[:i]) for i in range(len(sizes))]
        return [(start, start + size) for start, size in zip(starts, sizes, strict=True)]


Target = str | Split


def parse_name_map(value: Mapping[str, Any] | None) -> dict[str, Target]:
    """Validate a name map (Python or decoded JSON); `ValueError` naming the bad entry."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ValueError(
            "Expected the name map to be a mapping of torch path -> Keras path. "
            f"Received: {type(value).__name__}"
        )
    parsed: dict[str, Target] = {}
    for torch_path, target in value.items():
        if not isinstance(torch_path, str) or not torch_path:
            raise ValueError(f"Name map keys are torch module paths. Received: {torch_path!r}")
        if (isinstance(target, str) and target) or isinstance(target, Split):
            parsed[torch_path] = target
        elif isinstance(target, Mapping) and "split" in target:
            unknown = set(target) - {"split", "axis", "sizes"}
            if unknown:
                raise ValueError(
                    f"Name map entry {torch_path!r}: unknown keys {sorted(unknown)}; a split takes "
                    '{"split": [paths], "axis": 0, "sizes": [...]}'
                )
            try:
                parsed[torch_path] = Split(
                    target["split"], axis=target.get("axis", 0), sizes=target.get("sizes")
                )
            except ValueError as error:
                raise ValueError(f"Name map entry {torch_path!r}: {error}") from None
        else:
            raise ValueError(
                f"Name map entry {torch_path!r}: expected a Keras attribute path or a split "
                f'{{"split": [paths]}}. Received: {target!r}'
            )
    return parsed


def map_path(name_map: Mapping[str, Target], torch_path: str) -> Target:
    """Where `torch_path` lives on the Keras side: an exact entry, else the longest mapped prefix
    (a string entry) with the rest of the path appended, else the same path."""
    if torch_path in name_map:
        return name_map[torch_path]
    best = ""
    for key, target in name_map.items():
        if isinstance(target, str) and torch_path.startswith(key + ".") and len(key) > len(best):
            best = key
    if best:
        return name_map[best] + torch_path[len(best) :]
    return torch_path
