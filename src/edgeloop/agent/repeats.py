"""Telemetry that comes twice. QoS 1 is "at least once": after a kill the broker sends again (marked DUP) what the
agent stored but had not yet acknowledged (`broker.ack: stored`, `agent/acks.py`), and a device whose link broke
sends again what the broker had received but not acknowledged, as new messages. Storing and learning a reading
twice would skew the learners, so a reading already in the store is dropped.

Only readings that could be in the store are looked up: the agent keeps each device's newest telemetry time, and
an item newer than it is new (the vectorized fast path). An older item, a repeat or late data, is dropped if the
store holds its device's reading at that time with the same value (another value is a correction), or was given
it and has not committed it yet (`handled`), and kept if not: NATS sends a dead session's unacknowledged messages
again only after its ack wait, when newer ones have come, so "no newer than the newest" alone would drop readings
never stored. What is kept of the older items is late when a newer reading of one of its series came before it
(`split_late`): stored, not learnt. A DUP copy of a message in the same micro-batch is dropped before decoding
(`drop_copies`).

>>> newest = Newest()
>>> newest.note(np.array([0, 1, 0]), np.array([10.0, 5.0, 12.0]))
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

#: the (time, value) readings the store holds of (device, metric) between two times, both included
Stored = Callable[[str, str, float, float], set[tuple[float, float]]]


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


def _newest_at(newest: NDArray[np.float64], index: NDArray[np.int64], ts: NDArray[np.float64]) -> NDArray[np.float64]:
    """`newest` grown to hold `index` (-inf where new), with `ts` taken where newer."""
    if index.shape[0] and int(index.max()) >= newest.shape[0]:
        newest = np.concatenate([newest, np.full(int(index.max()) + 1 - newest.shape[0], -np.inf)])
    np.maximum.at(newest, index, ts)
    return newest


#: what names a reading for the repeat checks: the series key of its first point, its time and that point's value
Key = tuple[int, float, float]


#: the keys of a batch's items as arrays (series, time, value), turned into `Key`s only when looked up
KeyArrays = tuple[NDArray[np.int64], NDArray[np.float64], NDArray[np.float64]]


def key_arrays(decoded: DecodedBatch) -> KeyArrays:
    """The key of each item of `decoded`. The series, not the device: OPC UA sends a device's metrics in
    messages of their own, at one time, and two of them may hold the same value."""
    first = decoded.msg_start
    return decoded.points.series[first], decoded.msg_ts, decoded.points.values[first]


def reading_keys(arrays: KeyArrays) -> list[Key]:
    series, ts, value = arrays
    return list(zip(series.tolist(), ts.tolist(), value.tolist(), strict=True))


class Newest:
    """Per device (registry index) and per series (key), the newest telemetry time the agent has handled; kept in
    its checkpoint."""

    def __init__(self, ts: NDArray[np.float64] | None = None, series: NDArray[np.float64] | None = None) -> None:
        self.ts: NDArray[np.float64] = np.full(0, -np.inf) if ts is None else np.asarray(ts, dtype=np.float64)
        self.series: NDArray[np.float64] = np.full(0, -np.inf) if series is None else np.asarray(series, np.float64)
        #: readings handed to the store and not yet committed: (the store's write mark, their keys)
        self._uncommitted: deque[tuple[int, KeyArrays]] = deque()

    def start(self, keys: NDArray[np.int64], ts: float) -> None:
        """Fresh series `keys` of a device renewed at data time `ts` (a repair): a reading older than it belongs to
        the regime before it, so it is late for them, not their first point. (The device's own newest time stays:
        raised to `ts`, every reading at the repair's time was looked up in the store as a possible repeat.)"""
        self.series = _newest_at(self.series, keys, np.full(keys.shape[0], ts))

    def of_device(self, device: int) -> float:
        """The newest telemetry time handled of a device (registry index; -inf: none yet)."""
        return float(self.ts[device]) if device < self.ts.shape[0] else -np.inf

    def of_series(self, keys: NDArray[np.int64]) -> NDArray[np.float64]:
        """The newest time handled of each series of `keys` (-inf: none yet)."""
        out = np.full(keys.shape[0], -np.inf)
        known = keys < self.series.shape[0]
        out[known] = self.series[keys[known]]
        return out

    def handled(self, mark: int, committed: int, decoded: DecodedBatch) -> None:
        """Readings just handed to the store, at its write mark `mark` (`committed`: its writer's mark now): a copy
        that comes before they are committed is known for one without the store. A broker sends a message again
        when its ack has not come within its ack wait, and the agent acknowledges only once the store has
        committed, so with a store more than that behind the copy comes while the first still waits."""
        self._forget_committed(committed)
        self._uncommitted.append((mark, key_arrays(decoded)))

    def _forget_committed(self, committed: int) -> None:
        pending = self._uncommitted
        while pending and pending[0][0] <= committed:
            pending.popleft()

    def note(
        self,
        device: NDArray[np.int64],
        ts: NDArray[np.float64],
        series: NDArray[np.int64] | None = None,
        series_ts: NDArray[np.float64] | None = None,
    ) -> None:
        """Readings handled: `device` holds the registry index of each; `series` and `series_ts` the series key and
        time of each of their points."""
        self.ts = _newest_at(self.ts, device, ts)
        if series is not None and series_ts is not None:
            self.series = _newest_at(self.series, series, series_ts)

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
        for a look-up to find them (a repeat can come while its first copy still waits in the writer's queue).

        The store is read once per series, over the times of its items: the agent does it on its event loop, and a
        broker's redelivery of thousands of readings looked up one by one on PostgreSQL held the loop for over a
        minute, long enough for every connection of the process to be dropped for a missed keep-alive (issue 18,
        `bench fleet`)."""
        device, ts = decoded.msg_device, decoded.msg_ts
        known = device < self.ts.shape[0]
        old = np.zeros(device.shape[0], dtype=bool)
        old[known] = ts[known] <= self.ts[device[known]]
        if not old.any():
            return decoded
        settle(SETTLE_S)
        self._forget_committed(committed())
        keys = reading_keys(key_arrays(decoded))
        queued = self._queued_at(ts[old])
        keep = np.ones(device.shape[0], dtype=bool)
        look_up: dict[int, list[int]] = {}  # per series, the items to look up: one read of the store each
        for i in np.flatnonzero(old).tolist():
            if keys[i] in queued:
                keep[i] = False
            else:
                look_up.setdefault(keys[i][0], []).append(i)
        for series, items in look_up.items():
            name, metric = registry.series_name(series)
            times = [keys[i][1] for i in items]
            held = stored(name, metric, min(times), max(times))
            for i in items:
                keep[i] = keys[i][1:] not in held
        if keep.all():
            return decoded
        stats.repeats_dropped += int((~keep).sum())
        return decoded.items(np.flatnonzero(keep))

    def _queued_at(self, times: NDArray[np.float64]) -> set[Key]:
        """The keys handed to the store and not committed yet, of readings at one of `times`: only those can be a
        copy of an old item, and a redelivery's batch should not cost a set of every reading since the commit."""
        queued: set[Key] = set()
        for _, (series, ts, value) in self._uncommitted:
            at = np.isin(ts, times)
            if at.any():
                queued.update(reading_keys((series[at], ts[at], value[at])))
        return queued

    def split_late(self, decoded: DecodedBatch, stats: AgentStats) -> tuple[DecodedBatch, DecodedBatch | None]:
        """`decoded` as (the items in time order for their series, the late ones or None). An item is late when one
        of its points is older than its series' newest reading before it: the newest handled, or an earlier point
        of this batch. A learner only moves forward in time: a reading an hour late, learnt after newer ones, would
        make the next reading look like an hour's change in one step, and alarm. Lateness is judged per series, not
        per device: OPC UA reports each metric of a device at its own time. Late items are counted in
        `stats.late_readings`; the agent stores them and does not learn them. A second copy of an item of this
        batch (its key again, not marked DUP: a device that sent it again) is dropped and counted in
        `stats.repeats_dropped`.

        >>> from edgeloop.agent.stats import AgentStats
        >>> from edgeloop.io.decode import PointBatch
        >>> newest, stats = Newest(), AgentStats()
        >>> newest.note(np.array([0]), np.array([20.0]), np.array([0]), np.array([20.0]))
        >>> points = PointBatch.from_lists([1, 0, 0], [10.0, 10.0, 30.0], [1.0, 2.0, 3.0])
        >>> batch = DecodedBatch(points, np.array([0, 0, 0]), np.array([10.0, 10.0, 30.0]), np.array([0, 1, 2]))
        >>> kept, late = newest.split_late(batch, stats)
        >>> kept.points.values.tolist(), late.points.values.tolist(), stats.late_readings
        ([1.0, 3.0], [2.0], 1)
        """
        n, points = decoded.n_messages, decoded.points
        if n == 0:
            return decoded, None
        keys, at = points.series, points.ts
        late_point = at < self.of_series(keys)
        if not _in_order_per_series(keys, at):  # out of order within the batch (rare): point by point
            newest: dict[int, float] = {}
            for i, (key, when) in enumerate(zip(keys.tolist(), at.tolist(), strict=True)):
                prior = newest.get(key, -np.inf)
                late_point[i] |= when < prior
                newest[key] = max(prior, when)
        late = np.zeros(n, dtype=bool)
        if late_point.any():
            item_of = np.repeat(np.arange(n), np.diff(np.append(decoded.msg_start, keys.shape[0])))
            np.logical_or.at(late, item_of, late_point)
        copy = _copies(decoded)
        late &= ~copy
        stats.repeats_dropped += int(copy.sum())
        if not late.any():
            return (decoded.items(np.flatnonzero(~copy)) if copy.any() else decoded), None
        stats.late_readings += int(late.sum())
        return decoded.items(np.flatnonzero(~late & ~copy)), decoded.items(np.flatnonzero(late))


def _in_order_per_series(keys: NDArray[np.int64], at: NDArray[np.float64]) -> bool:
    """Whether no point of the batch is older than an earlier point of its series. A batch in time order (the
    usual case) is, without sorting by series."""
    if bool((at[1:] >= at[:-1]).all()):
        return True
    order = np.argsort(keys, kind="stable")
    k, t = keys[order], at[order]
    return not bool(((k[1:] == k[:-1]) & (t[1:] < t[:-1])).any())


def _copies(decoded: DecodedBatch) -> NDArray[np.bool_]:
    """Per item, whether an earlier item of the batch has its key (series, time and value): sorted by key, then by
    place in the batch, an item equal to the one before it is a copy. (A set of the keys, item by item, held the
    event loop for seconds on a redelivery of thousands.)

    >>> from edgeloop.io.decode import PointBatch
    >>> points = PointBatch.from_lists([0, 1, 0, 0], [5.0, 5.0, 5.0, 5.0], [1.0, 1.0, 1.0, 2.0])
    >>> _copies(DecodedBatch(points, np.array([0, 1, 0, 0]), np.full(4, 5.0), np.arange(4))).tolist()
    [False, False, True, False]
    """
    first, ts, value = key_arrays(decoded)
    order = np.lexsort((np.arange(first.shape[0]), value, ts, first))
    s, t, v = first[order], ts[order], value[order]
    copy = np.zeros(decoded.n_messages, dtype=bool)
    copy[order[1:]] = (s[1:] == s[:-1]) & (t[1:] == t[:-1]) & (v[1:] == v[:-1])
    return copy
