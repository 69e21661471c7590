"""Named activation layouts and their converters between torch and Keras.

* `image`: channels-first in torch (NCHW, or NCL / NCDHW), channels-last in Keras (NHWC...).
  Conversion moves axis 1 to the end (and back). Rank < 3 is an error, not a silent pass-through.
* `sequence`: `(batch, tokens, features)` in both frameworks; no transposition.
* `channels_last`: NHWC in both frameworks (torch modules written for channels-last input, such
  as ViP or Outlook attention); no transposition, rank 4.
* `plain`: any array used as-is in both (e.g. a `(batch, classes)` output).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from parity.errors import LayoutError


@dataclass(frozen=True)
class Layout:
    """A named activation layout: how a torch-layout array maps to the Keras layout and back."""

    name: str
    channels_first_to_last: bool
    min_rank: int = 0
    exact_rank: int | None = None
    torch_name: str = ""  # how reports spell the layout on each side ("NCHW", "NHWC", ...)
    keras_name: str = ""

    def _check(self, array: np.ndarray, what: str) -> None:
        rank = np.ndim(array)
        if self.exact_rank is not None and rank != self.exact_rank:
            raise LayoutError(
                f"Layout {self.name!r} expects {what} of rank {self.exact_rank}. "
                f"Received: shape={np.shape(array)}"
            )
        if rank < self.min_rank:
            raise LayoutError(
                f"Layout {self.name!r} expects {what} of rank >= {self.min_rank} "
                f"(batch, channel, spatial...). Received: shape={np.shape(array)}; "
                "declare layout='plain' for arrays that need no conversion."
            )

    def torch_to_keras(self, array: np.ndarray) -> np.ndarray:
        """Convert an array from the torch layout to the Keras layout."""
        self._check(array, "a torch-layout array")
        if not self.channels_first_to_last:
            return array
        return np.moveaxis(array, 1, -1)

    def keras_to_torch(self, array: np.ndarray) -> np.ndarray:
        """Convert an array from the Keras layout to the torch layout."""
        self._check(array, "a Keras-layout array")
        if not self.channels_first_to_last:
            return array
        return np.moveaxis(array, -1, 1)

    def torch_index_to_keras(self, index: Sequence[int]) -> tuple[int, ...]:
        """Map an element index in the torch layout to the same element's index in Keras."""
        index = tuple(int(i) for i in index)
        if not self.channels_first_to_last or len(index) < 2:
            return index
        return (index[0], *index[2:], index[1])

    def describe(self, framework: str) -> str:
        """The layout's short name as the given framework sees it ("NCHW", "NHWC", ...)."""
        name = self.torch_name if framework == "torch" else self.keras_name
        return name or self.name


LAYOUTS: dict[str, Layout] = {
    "image": Layout("image", True, min_rank=3, torch_name="NCHW", keras_name="NHWC"),
    "sequence": Layout(
        "sequence", False, exact_rank=3, torch_name="(B, N, C)", keras_name="(B, N, C)"
    ),
    "channels_last": Layout(
        "channels_last", False, exact_rank=4, torch_name="NHWC", keras_name="NHWC"
    ),
    "plain": Layout("plain", False, torch_name="as is", keras_name="as is"),
}


def get_layout(layout: str | Layout) -> Layout:
    """Look up a layout by name (or pass a `Layout` through)."""
    if isinstance(layout, Layout):
        return layout
    try:
        return LAYOUTS[layout]
    except (KeyError, TypeError):
        raise LayoutError(
            f"Unknown layout {layout!r}. Expected one of {sorted(LAYOUTS)}. Received: layout={layout!r}"
        ) from None


def resolve_layouts(layout: str | Layout | Sequence[str | Layout], count: int) -> list[Layout]:
    """One layout per array: a single name applies to all `count`, a sequence must have `count`."""
    if isinstance(layout, str | Layout):
        return [get_layout(layout)] * count
    layouts = [get_layout(item) for item in layout]
    if len(layouts) != count:
        raise LayoutError(
            f"Expected one layout per array ({count}), or a single layout name. "
            f"Received: {len(layouts)} layouts {[item.name for item in layouts]}"
        )
    return layouts
