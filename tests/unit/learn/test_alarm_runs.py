from __future__ import annotations

import numpy as np

from edgeloop.learn.alarm.runs import run_lengths


def reference(device: list[int], hot: list[bool], carry: dict[int, int]) -> list[int]:
    current = dict(carry)
    out = []
    for d, h in zip(device, hot, strict=True):
        current[d] = current.get(d, 0) + 1 if h else 0
        out.append(current[d])
    return out


def test_run_lengths_match_a_point_by_point_count_across_batches() -> None:
    rng = np.random.default_rng(7)
    carry = np.zeros(12, dtype=np.int64)
    state: dict[int, int] = {}
    for _ in range(30):
        device = rng.integers(0, 12, size=int(rng.integers(0, 80)))
        hot = rng.random(device.shape[0]) < 0.7
        expected = reference(device.tolist(), hot.tolist(), state)
        runs, present, last = run_lengths(device, hot, carry)
        assert runs.tolist() == expected
        for d, n in zip(present.tolist(), last.tolist(), strict=True):
            carry[d] = n
            state[d] = n
