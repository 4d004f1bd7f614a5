"""A simulated device's state that is not vectorized: its fault plan, its active faults and its random streams."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from edgeloop.sim.faults import FaultRecord, PlannedFault

NOISE_BLOCK = 512
NOISE_COLUMNS = 6


@dataclass(slots=True)
class Device:
    """One device of a plant with faults; `found` is what a running maintenance found (a fault kind or None).

    >>> d = Device("pump-001", "pump", [], np.random.default_rng(0), np.random.default_rng(1))
    >>> noise_rows([d], np.array([0, 0])).shape, d.noise_at
    ((2, 6), 2)
    """

    id: str
    asset_type: str
    plan: list[PlannedFault]
    noise_rng: np.random.Generator
    event_rng: np.random.Generator
    noise: np.ndarray[Any, np.dtype[np.float64]] = field(default_factory=lambda: np.zeros((0, NOISE_COLUMNS)))
    noise_at: int = 0
    next_fault: int = 0
    active: list[tuple[FaultRecord, PlannedFault]] = field(default_factory=list)
    found: str | None = None


def noise_rows(
    devices: Sequence[Device], idx: np.ndarray[Any, np.dtype[np.int64]]
) -> np.ndarray[Any, np.dtype[np.float64]]:
    """One row of standard normals per device in `idx`, from each device's own stream, drawn in blocks."""
    z = np.empty((len(idx), NOISE_COLUMNS))
    for j, i in enumerate(idx.tolist()):
        d = devices[i]
        if d.noise_at >= d.noise.shape[0]:
            d.noise, d.noise_at = d.noise_rng.standard_normal((NOISE_BLOCK, NOISE_COLUMNS)), 0
        z[j] = d.noise[d.noise_at]
        d.noise_at += 1
    return z
