"""How a user checks their own port with the pytest plugin's `parity` fixture: three lines."""

import numpy as np

from examples.my_block_keras import GatedConvBlock as KerasBlock
from examples.my_block_torch import GatedConvBlock as TorchBlock


def test_my_port_matches_torch(parity):
    x = np.random.default_rng(0).standard_normal((2, 16, 9, 7))  # NCHW, as torch takes it
    parity.check(TorchBlock(16, 8), KerasBlock(16, 8, dtype="float64"), x, init={"channels": 16})
