"""The registry of our block pairs, `SPECS`, keyed by class name: one `ModuleSpec` per pair,
declared in the family module it belongs to. This package is the only part of `parity` that
names a block.

Adding a block: its torch file, its Keras file, one spec entry in a family module (listed in that
module's `FAMILY`), and its upstream `state_dict` expectations in the tests. Nothing else.
"""

from __future__ import annotations

from types import MappingProxyType

from parity.spec import ModuleSpec
from parity.specs import (
    axial_attention,
    channel_gates,
    channel_spatial_gates,
    image_self_attention,
    patch_attention,
    sequence_attention,
    token_mixing,
)

FAMILIES = {
    "channel gates": channel_gates.FAMILY,
    "channel and spatial gates": channel_spatial_gates.FAMILY,
    "sequence attention": sequence_attention.FAMILY,
    "image self-attention": image_self_attention.FAMILY,
    "patch and window attention": patch_attention.FAMILY,
    "axial attention": axial_attention.FAMILY,
    "token mixing": token_mixing.FAMILY,
}


def _registry() -> MappingProxyType:
    specs: dict[str, ModuleSpec] = {}
    for family in FAMILIES.values():
        for spec in family:
            if spec.name in specs:
                raise ValueError(f"Block {spec.name!r} is declared twice in parity.specs")
            specs[spec.name] = spec
    return MappingProxyType(dict(sorted(specs.items())))


SPECS = _registry()
