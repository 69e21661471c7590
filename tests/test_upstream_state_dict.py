"""The references keep upstream's state_dict keys and shapes (`tests/upstream_state_dicts.py`,
written from the upstream files), so an upstream checkpoint loads with strict=True."""

from __future__ import annotations

import pytest
import torch

import parity
from tests.upstream_state_dicts import UPSTREAM

ENTRIES = [
    (name, config, expected)
    for name, entry in sorted(UPSTREAM.items())
    for config, expected in (entry if isinstance(entry, list) else [entry])
]
IDS = [f"{name}-{i}" for i, (name, _, _) in enumerate(ENTRIES)]


def test_every_block_has_an_upstream_state_dict_entry():
    assert sorted(UPSTREAM) == sorted(parity.SPECS)


@pytest.mark.parametrize(("name", "config", "expected"), ENTRIES, ids=IDS)
def test_state_dict_keys_and_shapes_match_upstream(name, config, expected):
    module = parity.SPECS[name].torch_class(**config)
    actual = {key: tuple(tensor.shape) for key, tensor in module.state_dict().items()}
    assert actual == expected


@pytest.mark.parametrize(("name", "config", "expected"), ENTRIES, ids=IDS)
def test_an_upstream_shaped_checkpoint_loads_strictly(name, config, expected):
    checkpoint = {key: torch.zeros(shape) for key, shape in expected.items()}
    for key in checkpoint:
        if key.endswith("num_batches_tracked"):
            checkpoint[key] = torch.tensor(0)
    parity.SPECS[name].torch_class(**config).load_state_dict(checkpoint, strict=True)
