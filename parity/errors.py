"""The harness's exceptions: bad input is a `ValueError`, a numerical mismatch an `AssertionError`."""

from __future__ import annotations


class ParityError(AssertionError):
    """Raised by `assert_parity` when the Keras output differs from torch's beyond tolerance."""

    def __init__(self, message: str, result=None):
        super().__init__(message)
        self.result = result


class WeightTransferError(ValueError):
    """A weight transfer could not map every tensor exactly once (lists every problem at once)."""


class LayoutError(ValueError):
    """An array does not fit the declared activation layout."""


class ModuleCallError(ValueError):
    """A module under test raised while being called (names the side, the shapes and the cause).

    `side` is `"torch"` or `"Keras"`; the original exception is chained as `__cause__`.
    """

    def __init__(self, message: str, side: str = ""):
        super().__init__(message)
        self.side = side
