"""Telemetry that comes twice. QoS 1 is "at least once": after a kill the broker sends again (marked DUP) what the
agent stored but had not yet acknowledged (`broker.ack: stored`, `agent/acks.py`), and a device whose link broke
sends again what the broker had received but not acknowledged, as new messages. Storing and learning a reading
twice would skew the learners, so a reading already in the store is dropped.

Only readings that could be in the store are looked up: the agent keeps each device's newest telemetry time, and
an item newer than it is new (the vectorized fast path). An older item, a repeat or late data, is dropped if the
store holds its device's reading at that time with the same value (another value is a correction: taken), and
taken if not: NATS sends a dead session's unacknowledged messages again only after its ack wait, when newer ones
have come, so "no newer than the newest" alone would drop readings never stored. A DUP copy of a message in the
same micro-batch is dropped before decoding (`drop_copies`).

>>> newest = Newest()
>>> newest.note(2, np.array([0, 1, 0]), np.array([10.0, 5.0, 12.0]))
>>> newest.ts.tolist()
[12.0, 5.0]
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from edgeloop.io.decode import DecodedBatch

if TYPE_CHECKING:
    from edgeloop.agent.stats import AgentStats
    from edgeloop.io.registry import DeviceRegistry
    from edgeloop.io.transport import Message

#: longest wait for the store's queued writes before looking repeats up (a failing store is not waited for)
SETTLE_S = 0.5

#: whether the store holds a reading of (device, metric) at a time, with that value
Stored = Callable[[str, str, float, float], bool]


def drop_copies(messages: list[Message], stats: AgentStats) -> list[Message]:
    """`messages` without a DUP message that came already in this batch (a broker that sends a message again
    while the first copy still waits in the agent's queue); counted in `stats.repeats_dropped`."""
    kept, seen = [], set()
    for message in messages:
        key = (message.topic, message.payload)
        if message.dup and key in seen:
            stats.repeats_dropped += 1
            continue
        kept.append(message)
        seen.add(key)
    return kept


class Newest:
    """Per device (registry index), the newest telemetry time the agent has handled; kept in its checkpoint."""

    def __init__(self, ts: NDArray[np.float64] | None = None) -> None:
        self.ts: NDArray[np.float64] = np.full(0, -np.inf) if ts is None else np.asarray(ts, dtype=np.float64)
        #: readings handed to the store and not yet committed: (the store's write mark, device, time, first value)
        self._uncommitted: deque[tuple[int, NDArray[np.int64], NDArray[np.float64], NDArray[np.float64]]] = deque()

    def handled(
        self, mark: int, committed: int, device: NDArray[np.int64], ts: NDArray[np.float64], first: NDArray[np.float64]
    ) -> None:
        """Readings just handed to the store, at its write mark `mark` (`committed`: its writer's mark now): a copy
        that comes before they are committed is known for one without the store. A broker sends a message again
        when its ack has not come within its ack wait, and the agent acknowledges only once the store has
        committed, so with a store more than that behind the copy comes while the first still waits."""
        pending = self._uncommitted
        while pending and pending[0][0] <= committed:
            pending.popleft()
        pending.append((mark, device, ts, first))

    def note(self, n_devices: int, device: NDArray[np.int64], ts: NDArray[np.float64]) -> None:
        """Readings handled: `device` holds the registry index of each, of `n_devices` known."""
        if self.ts.shape[0] < n_devices:
            grown = np.full(n_devices, -np.inf)
            grown[: self.ts.shape[0]] = self.ts
            self.ts = grown
        np.maximum.at(self.ts, device, ts)

    def drop_stored(
        self,
        decoded: DecodedBatch,
        registry: DeviceRegistry,
        stats: AgentStats,
        stored: Stored,
        settle: Callable[[float], object] = lambda _: None,
        committed: Callable[[], int] = lambda: 0,
    ) -> DecodedBatch:
        """`decoded` without the items no newer than their device's newest whose reading (time and value of its
        first metric) the store holds (counted in `stats.repeats_dropped`); as it is when there are none.
        `settle(SETTLE_S)` is called once before the first look-up: the store's queued writes must be committed
        for a look-up to find them (a repeat can come while its first copy still waits in the writer's queue)."""
        device, ts = decoded.msg_device, decoded.msg_ts
        known = device < self.ts.shape[0]
        old = np.zeros(device.shape[0], dtype=bool)
        old[known] = ts[known] <= self.ts[device[known]]
        if not old.any():
            return decoded
        settle(SETTLE_S)
        queued = self._queued(committed())
        points = decoded.points
        keep = np.ones(device.shape[0], dtype=bool)
        for i in np.flatnonzero(old).tolist():
            first = int(decoded.msg_start[i])
            value = float(points.values[first])
            if (int(device[i]), float(ts[i]), value) in queued:
                keep[i] = False
                continue
            name, metric = registry.series_name(int(points.series[first]))
            keep[i] = not stored(name, metric, float(ts[i]), value)
        stats.late_readings += int(keep[old].sum())
        if keep.all():
            return decoded
        stats.repeats_dropped += int((~keep).sum())
        return decoded.items(np.flatnonzero(keep))

    def _queued(self, committed: int) -> set[tuple[int, float, float]]:
        """(device, time, first value) of the readings handed to the store and not committed by mark `committed`."""
        pending = self._uncommitted
        while pending and pending[0][0] <= committed:
            pending.popleft()
        return {key for _, d, t, v in pending for key in zip(d.tolist(), t.tolist(), v.tolist(), strict=True)}
