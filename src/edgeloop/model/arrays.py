"""Arrays indexed by a dense key (a series, a device) that grow as keys are handed out."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray


def grow(array: NDArray[Any], size: int, fill: float) -> NDArray[Any]:
    """Return `array` extended with `fill` to at least `size` entries (amortised doubling).

    >>> grow(np.zeros(2), 3, 7.0)[:4].tolist()
    [0.0, 0.0, 7.0, 7.0]
    """
    if array.shape[0] >= size:
        return array
    new = np.full(max(size, 2 * array.shape[0], 64), fill, dtype=array.dtype)
    new[: array.shape[0]] = array
    return new
