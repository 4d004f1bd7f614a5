"""A micro-batch of telemetry points as parallel arrays: the unit the hot path works on."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray


@dataclass(frozen=True, slots=True)
class PointBatch:
    """Points in arrival order. `series[i]` is the dense integer key of point i's (device, metric) series.

    >>> b = PointBatch.from_lists([0, 1, 0], [1.0, 1.0, 2.0], [10.0, 20.0, 11.0])
    >>> len(b), b.values.tolist()
    (3, [10.0, 20.0, 11.0])
    """

    series: NDArray[np.int64]
    ts: NDArray[np.float64]
    values: NDArray[np.float64]

    def __len__(self) -> int:
        return int(self.series.shape[0])

    @classmethod
    def from_lists(cls, series: list[int], ts: list[float], values: list[float]) -> PointBatch:
        return cls(
            np.asarray(series, dtype=np.int64),
            np.asarray(ts, dtype=np.float64),
            np.asarray(values, dtype=np.float64),
        )
