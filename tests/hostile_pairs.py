"""Users' pairs that misbehave in the ways real code does (for the hostile-input tests)."""

from __future__ import annotations

import torch
from keras import layers, ops
from torch import nn


class CrashTorch(nn.Module):
    """A Linear whose forward indexes past the end of a list."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(3, 3)

    def forward(self, x):
        raise IndexError("boom at index 7")


class CrashKeras(layers.Layer):
    """The Keras side of `CrashTorch`, which itself runs fine."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.fc = layers.Dense(3, dtype=self.dtype_policy)

    def call(self, x):
        return self.fc(x)


class TwoLinearTorch(nn.Module):
    """`fc2(fc1(x))` with biases."""

    def __init__(self, features: int = 3):
        super().__init__()
        self.fc1 = nn.Linear(features, features)
        self.fc2 = nn.Linear(features, features)

    def forward(self, x):
        return self.fc2(self.fc1(x))


class MissingLayerKeras(layers.Layer):
    """A port that names its layers differently and drops a bias: nothing aligns with torch."""

    def __init__(self, features: int = 3, **kwargs):
        super().__init__(**kwargs)
        self.first = layers.Dense(features, dtype=self.dtype_policy)
        self.fc2 = layers.Dense(features, use_bias=False, dtype=self.dtype_policy)

    def call(self, x):
        return self.fc2(self.first(x))


class KeyErrorTorch(nn.Module):
    """A constructor that looks a key up in a table and fails."""

    def __init__(self, kind: str = "small"):
        super().__init__()
        self.fc = nn.Linear({"tiny": 2}[kind], 2)


class DictOutputKeras(layers.Layer):
    """Returns a dict where torch returns a tensor."""

    def __init__(self, features: int = 3, **kwargs):
        super().__init__(**kwargs)
        self.fc1 = layers.Dense(features, dtype=self.dtype_policy)
        self.fc2 = layers.Dense(features, dtype=self.dtype_policy)

    def call(self, x):
        return {"out": self.fc2(self.fc1(x))}


class StringOutputTorch(TwoLinearTorch):
    """Returns a string where a tensor is expected."""

    def forward(self, x):
        return "not a tensor"


class PairOutputTorch(TwoLinearTorch):
    """Returns two tensors where the port returns one."""

    def forward(self, x):
        hidden = self.fc1(x)
        return hidden, self.fc2(hidden)


class TwoLinearKeras(layers.Layer):
    """The correct port of `TwoLinearTorch`."""

    def __init__(self, features: int = 3, **kwargs):
        super().__init__(**kwargs)
        self.fc1 = layers.Dense(features, dtype=self.dtype_policy)
        self.fc2 = layers.Dense(features, dtype=self.dtype_policy)

    def call(self, x):
        return self.fc2(self.fc1(x))


class FlattenKeras(TwoLinearKeras):
    """Returns an output of another shape (flattened)."""

    def call(self, x):
        return ops.reshape(self.fc2(self.fc1(x)), (-1,))


def nan_state(features: int = 3) -> dict:
    """A state dict for `TwoLinearTorch` whose first weight is all NaN."""
    module = TwoLinearTorch(features)
    state = module.state_dict()
    state["fc1.weight"] = torch.full_like(state["fc1.weight"], float("nan"))
    return state


class ConvTorch(nn.Module):
    """A 3x3 conv, then a ReLU."""

    def __init__(self, channels: int = 3):
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x):
        return torch.relu(self.conv(x))


class ConvKeras(layers.Layer):
    """The correct port of `ConvTorch`."""

    def __init__(self, channels: int = 3, **kwargs):
        super().__init__(**kwargs)
        self.conv = layers.Conv2D(channels, 3, padding="same")

    def call(self, x):
        return ops.relu(self.activate(self.conv(x)))

    def activate(self, y):
        return y


class WideOnlyBugKeras(ConvKeras):
    """Bug only from width 5 on: the right-most column beyond index 3 is dropped to zero."""

    def activate(self, y):
        width = ops.shape(y)[2]
        keep = ops.cast(ops.arange(width) < 4, y.dtype)
        return y * keep[None, None, :, None] if y.shape[2] is None or y.shape[2] > 4 else y


class SquareOnlyTorch(ConvTorch):
    """A torch module that itself refuses non-square images."""

    def forward(self, x):
        if x.shape[2] != x.shape[3]:
            raise ValueError(f"square images only. Received: {tuple(x.shape)}")
        return super().forward(x)


class BatchOneOnlyKeras(ConvKeras):
    """Bug: centres each sample on the batch mean and adds the first sample back: the identity
    at batch 1, wrong from batch 2 on."""

    def activate(self, y):
        return y - ops.mean(y, axis=0, keepdims=True) + y[:1]
