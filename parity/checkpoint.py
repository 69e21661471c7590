"""Load a torch checkpoint safely: safetensors, or `torch.load(weights_only=True)`; never a pickle
of arbitrary objects."""

from __future__ import annotations

from pathlib import Path


def load_state_dict(path: str | Path) -> dict:
    """Read a state dict from `.safetensors` or a torch file restricted to tensors.

    Raises `ValueError` naming the file when it cannot be read or holds something else.
    """
    import torch

    path = Path(path)
    if path.is_dir():
        raise ValueError(
            f"Expected a checkpoint file, but {str(path)!r} is a directory; give the path of "
            "the .safetensors or torch state-dict file inside it"
        )
    if not path.is_file():
        raise ValueError(f"Checkpoint file not found. Received: {str(path)!r}")
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        try:
            return dict(load_file(str(path)))
        except Exception as error:  # safetensors raises its own error types
            raise ValueError(f"Cannot read safetensors file {str(path)!r}: {error}") from None
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # an unpickling refusal or a corrupt file
        first_line = (
            str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        )
        raise ValueError(
            f"Cannot load {str(path)!r} with torch.load(weights_only=True): {first_line}"
        ) from None
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise ValueError(
            f"Expected {str(path)!r} to hold a state dict (name -> tensor). "
            f"Received: {type(state).__name__}"
        )
    nested = [key for key, value in state.items() if isinstance(value, dict)]
    if nested:
        raise ValueError(
            f"{str(path)!r} holds a checkpoint with nested entries {nested[:5]}, not a state dict "
            f"(name -> tensor). If the weights are under {nested[0]!r}, extract them: "
            f"torch.save(torch.load(FILE, weights_only=True)[{nested[0]!r}], 'weights.pt')"
        )
    others = [key for key, value in state.items() if not isinstance(value, torch.Tensor)]
    if others:
        raise ValueError(
            f"Expected {str(path)!r} to hold only tensors (a state dict). Received non-tensor "
            f"entries: {others[:5]}"
        )
    return state


def load_into(module, state: dict) -> None:
    """`module.load_state_dict(state, strict=True)` with one clear `ValueError` on any misfit."""
    expected = module.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    mismatched = [
        f"{key}: checkpoint {tuple(state[key].shape)} vs module {tuple(expected[key].shape)}"
        for key in sorted(set(state) & set(expected))
        if tuple(state[key].shape) != tuple(expected[key].shape)
    ]
    if missing or unexpected or mismatched:
        parts = []
        if missing:
            parts.append(f"missing keys {missing}")
        if unexpected:
            parts.append(f"unexpected keys {unexpected}")
        if mismatched:
            parts.append(f"shape mismatches [{'; '.join(mismatched)}]")
        raise ValueError(f"Checkpoint does not fit {type(module).__name__}: " + ", ".join(parts))
    module.load_state_dict(state, strict=True)
