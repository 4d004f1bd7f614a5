"""Sustained-anomaly detection over a micro-batch, vectorized across devices.

A device becomes a decision candidate when `sustain` of its samples in a row are anomalous. Runs carry over
from one batch to the next through `carry` (the run length each device ended the last batch with).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray


def run_lengths(
    device: NDArray[np.int64], hot: NDArray[np.bool_], carry: NDArray[np.int64]
) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.int64]]:
    """Length of the current anomalous run at each sample (0 where not hot), in arrival order.

    Returns (run length per sample, devices present, their run length after the batch).

    >>> dev = np.array([0, 1, 0, 0, 1, 0])
    >>> hot = np.array([True, True, True, False, True, True])
    >>> runs, devs, last = run_lengths(dev, hot, np.array([2, 0]))
    >>> runs.tolist(), devs.tolist(), last.tolist()
    ([3, 1, 4, 0, 2, 1], [0, 1], [1, 2])
    """
    n = device.shape[0]
    if n == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, empty
    order = np.argsort(device, kind="stable")
    d, h = device[order], hot[order]
    pos = np.arange(n, dtype=np.int64)
    first = np.ones(n, dtype=bool)
    first[1:] = d[1:] != d[:-1]
    group = np.cumsum(first) - 1
    starts = pos[first]
    # positions of resets, offset per group so one group's resets never leak into the next
    big = 2 * n + int(carry.max(initial=0)) + 2
    key = group * big + pos
    virtual_reset = group[first] * big + starts - 1 - carry[d[first]]
    reset = np.where(~h, key, np.repeat(virtual_reset, np.diff(np.append(starts, n))))
    last_reset = np.maximum.accumulate(reset)
    runs_sorted = np.where(h, key - last_reset, 0)
    runs = np.empty(n, dtype=np.int64)
    runs[order] = runs_sorted
    ends = np.append(starts[1:], n) - 1
    return runs, d[first], runs_sorted[ends]
