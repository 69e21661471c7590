"""Re-randomise every torch parameter and buffer from a seed, away from its initial value.

Upstream inits hide bugs: N(0, 0.001) Linears make outputs ~1e-6, zero biases and 0/1 BN buffers
hide a missing bias or swapped statistics, zero gates (ShuffleAttention, SGE) never exercise the
attention path. Draws keep activations O(1): weights N(0, 1/fan_in), biases and norm shifts
U(-0.5, 0.5), norm scales and running variances U(0.5, 1.5) (variances stay positive).
"""

from __future__ import annotations

import numpy as np

_NORM_TYPES = ("BatchNorm", "LayerNorm", "GroupNorm", "InstanceNorm", "LocalResponseNorm")


def _draw(
    rng: np.random.Generator, module, name: str, shape: tuple[int, ...], dtype=np.float64
) -> np.ndarray:
    """Values for one tensor, drawn in `dtype` (float32 draws are twice as fast as float64, and
    a float64 tensor still gets values that are not float32-representable)."""
    is_norm = type(module).__name__.startswith(_NORM_TYPES)
    if name in ("running_var",) or (is_norm and name == "weight"):
        return _uniform(rng, 0.5, 1.5, shape, dtype)
    if name in ("bias", "running_mean"):
        return _uniform(rng, -0.5, 0.5, shape, dtype)
    values = rng.standard_normal(shape, dtype=dtype)
    if name == "weight" and len(shape) >= 2:
        values *= dtype(1.0 / np.sqrt(int(np.prod(shape[1:]))))  # N(0, 1/fan_in)
    # Raw parameters (gates, mixing weights) and anything else: O(1) values.
    return values


def _uniform(rng: np.random.Generator, low: float, high: float, shape, dtype) -> np.ndarray:
    values = rng.random(shape, dtype=dtype)
    values *= dtype(high - low)
    values += dtype(low)
    return values


def randomize_torch(module, seed: int) -> list[str]:
    """Overwrite every floating parameter and persistent buffer of `module` in place; return keys.

    Integer buffers (`num_batches_tracked`) are left alone, and so are non-persistent buffers
    (`register_buffer(..., persistent=False)`): they are not in the `state_dict`, so they are
    neither transferred nor stored in repro files; both sides keep them as constructed (masks,
    index tables and other constants computed from the configuration). Deterministic for a given
    seed and module structure.
    """
    import torch

    rng = np.random.default_rng(seed)
    touched = []
    with torch.no_grad():
        for module_path, submodule in module.named_modules():
            transient = submodule._non_persistent_buffers_set
            tensors = [
                *submodule.named_parameters(recurse=False),
                *(
                    (name, buffer)
                    for name, buffer in submodule.named_buffers(recurse=False)
                    if name not in transient
                ),
            ]
            for name, tensor in tensors:
                if tensor is None or not torch.is_floating_point(tensor):
                    continue
                dtype = np.float64 if tensor.dtype == torch.float64 else np.float32
                value = _draw(rng, submodule, name, tuple(tensor.shape), dtype)
                tensor.copy_(torch.from_numpy(value))  # copy_ casts float32 to half types
                touched.append(f"{module_path}.{name}" if module_path else name)
    return touched


def seeded_array(shape: tuple[int, ...], seed: int, dtype: str = "float32") -> np.ndarray:
    """Standard-normal values of `shape` from `np.random.default_rng(seed)` (never constant)."""
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def seeded_mask(shape: tuple[int, ...], seed: int) -> np.ndarray:
    """A boolean mask (True = masked) with at least one False in every row of the last axis."""
    rng = np.random.default_rng(seed)
    mask = rng.random(shape) < 0.3
    if shape and shape[-1] > 0:
        keep = rng.integers(0, shape[-1], size=shape[:-1])
        np.put_along_axis(mask, keep[..., None], False, axis=-1)
    return mask
