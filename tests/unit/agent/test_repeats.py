"""A reading that comes twice is stored once; late data and what was never stored are taken."""

from __future__ import annotations

import time

import numpy as np
import orjson

from edgeloop.agent.repeats import Newest, Stored, drop_copies
from edgeloop.agent.stats import AgentStats
from edgeloop.io.decode import TelemetryDecoder
from edgeloop.io.registry import DeviceRegistry
from edgeloop.io.transport import Message
from edgeloop.model import DeviceMeta

TOPIC = "edgeloop/v1/s1/pump-1/telemetry"
T0 = time.time() - 3600


def reading(dt: float, dup: bool = False) -> Message:
    return Message(TOPIC, orjson.dumps({"ts": T0 + dt, "metrics": {"flow": 1.0, "temp": 2.0}}), False, None, dup)


def registry() -> DeviceRegistry:
    reg = DeviceRegistry()
    metrics = {name: {"unit": "x", "low": 0, "high": 300} for name in ("flow", "temp")}
    reg.add(DeviceMeta.from_json({"device": "pump-1", "asset_type": "pump", "commands": {}, "metrics": metrics}))
    return reg


def holding(*rows: tuple[str, str, float, float]) -> tuple[Stored, list[tuple[str, str]]]:
    """A store's look-up holding `rows` (device, metric, time, value), and the reads made of it."""
    reads: list[tuple[str, str]] = []

    def stored(device: str, metric: str, start: float, end: float) -> set[tuple[float, float]]:
        reads.append((device, metric))
        return {(t, v) for d, m, t, v in rows if (d, m) == (device, metric) and start <= t <= end}

    return stored, reads


def test_an_older_reading_is_dropped_only_if_the_store_holds_it() -> None:
    """90 is stored: dropped (whether sent again as DUP or by the device). 95 is older than the newest but was
    never stored (NATS sends a dead session's messages again after newer ones): taken. 110 is newer: taken."""
    reg, newest, stats = registry(), Newest(), AgentStats()
    newest.note(np.array([0]), np.array([T0 + 100.0]))
    decoded = TelemetryDecoder("s1", reg).decode([reading(90, dup=True), reading(95, dup=True), reading(110),
                                                  reading(90)], time.time())  # fmt: skip

    stored, reads = holding(("pump-1", "flow", T0 + 90.0, 1.0))
    kept = newest.drop_stored(decoded, reg, stats, stored)

    assert (kept.msg_ts - T0).tolist() == [95.0, 110.0]
    assert (kept.points.ts - T0).tolist() == [95.0, 95.0, 110.0, 110.0]
    assert kept.msg_start.tolist() == [0, 2]
    assert stats.repeats_dropped == 2
    assert reads == [("pump-1", "flow")]  # one read for the three older items of the series


def test_another_value_at_a_stored_time_is_a_correction_and_taken() -> None:
    reg, newest, stats = registry(), Newest(), AgentStats()
    newest.note(np.array([0]), np.array([T0 + 100.0]))
    decoded = TelemetryDecoder("s1", reg).decode([reading(90)], time.time())

    kept = newest.drop_stored(decoded, reg, stats, holding(("pump-1", "flow", T0 + 90.0, 7.5))[0])

    assert kept is decoded
    assert stats.repeats_dropped == 0


def test_nothing_is_looked_up_while_every_reading_is_newer() -> None:
    reg, newest, stats = registry(), Newest(), AgentStats()
    newest.note(np.array([0]), np.array([T0]))
    decoded = TelemetryDecoder("s1", reg).decode([reading(1), reading(2)], time.time())

    def never(device: str, metric: str, start: float, end: float) -> set[tuple[float, float]]:
        raise AssertionError("looked up")

    assert newest.drop_stored(decoded, reg, stats, never) is decoded


def test_a_copy_sent_again_while_the_first_waits_in_the_same_batch_is_dropped() -> None:
    stats = AgentStats()

    kept = drop_copies([reading(5), reading(6), reading(5, dup=True), reading(6)], stats)

    assert len(kept) == 3  # the DUP copy goes; a second copy without DUP is left to `drop_stored`
    assert stats.repeats_dropped == 1


def test_the_store_settles_its_queued_writes_once_before_the_first_look_up() -> None:
    """A repeat can come while its first copy still waits in the writer's queue: a look-up before the writes
    are committed would miss it (the chaos bench's replay stored and learnt a device's resent readings twice)."""
    reg, newest, stats = registry(), Newest(), AgentStats()
    newest.note(np.array([0]), np.array([T0 + 100.0]))
    committed: set[float] = set()
    queued = {T0 + 90.0, T0 + 95.0}
    calls: list[str] = []

    def settle(timeout: float) -> None:
        calls.append(f"settle {timeout:g}")
        committed.update(queued)

    def stored(device: str, metric: str, start: float, end: float) -> set[tuple[float, float]]:
        calls.append(f"look-up {start - T0:g}-{end - T0:g}")
        return {(t, 1.0) for t in committed if start <= t <= end}

    decoded = TelemetryDecoder("s1", reg).decode([reading(90), reading(95), reading(110)], time.time())
    kept = newest.drop_stored(decoded, reg, stats, stored, settle)

    assert (kept.msg_ts - T0).tolist() == [110.0]
    assert calls == ["settle 0.5", "look-up 90-95"]  # one read of the series for both


def test_a_copy_that_comes_before_the_store_committed_the_first_is_dropped() -> None:
    """The broker sends a message again when its ack is late, and the agent acknowledges only once the store has
    committed: with a store far behind, the copy comes while the first waits in the writer's queue. The store
    does not hold it yet; the readings handed to it since its last commit do."""
    reg, newest, stats = registry(), Newest(), AgentStats()
    first = TelemetryDecoder("s1", reg).decode([reading(90), reading(100)], time.time())
    newest.note(first.msg_device, first.msg_ts)
    newest.handled(5, 3, first)
    copy = TelemetryDecoder("s1", reg).decode([reading(90, dup=True), reading(95)], time.time())

    def nothing_committed(device: str, metric: str, start: float, end: float) -> set[tuple[float, float]]:
        return set()

    kept = newest.drop_stored(copy, reg, stats, nothing_committed, committed=lambda: 4)

    assert (kept.msg_ts - T0).tolist() == [95.0]  # 95 was never sent before: late, taken
    assert stats.repeats_dropped == 1
    # once the writer has passed the mark, the store is asked instead (here: it lost it, so it is taken again)
    again = newest.drop_stored(copy, reg, AgentStats(), nothing_committed, committed=lambda: 5)
    assert (again.msg_ts - T0).tolist() == [90.0, 95.0]


def seen(newest: Newest, dt: float) -> None:
    """pump-1's flow and temp (series 0 and 1) handled up to T0 + dt."""
    newest.note(np.array([0]), np.array([T0 + dt]), np.array([0, 1]), np.array([T0 + dt, T0 + dt]))


def test_a_reading_older_than_its_series_newest_is_split_off_as_late() -> None:
    """Late: older than the newest handled (95 after 100), or than an earlier item of the same batch (97 after
    105). In order: 105, 110."""
    reg, newest, stats = registry(), Newest(), AgentStats()
    seen(newest, 100.0)
    decoded = TelemetryDecoder("s1", reg).decode([reading(105), reading(95), reading(97), reading(110)], time.time())

    in_order, late = newest.split_late(decoded, stats)

    assert (in_order.msg_ts - T0).tolist() == [105.0, 110.0]
    assert late is not None
    assert (late.msg_ts - T0).tolist() == [95.0, 97.0]
    assert (late.points.ts - T0).tolist() == [95.0, 95.0, 97.0, 97.0]
    assert stats.late_readings == 2


def test_readings_in_order_are_not_split() -> None:
    reg, newest, stats = registry(), Newest(), AgentStats()
    seen(newest, 0.0)
    decoded = TelemetryDecoder("s1", reg).decode([reading(1), reading(2)], time.time())

    assert newest.split_late(decoded, stats) == (decoded, None)
    assert stats.late_readings == 0


def test_a_copy_sent_again_without_dup_in_the_same_batch_is_dropped_not_stored_twice() -> None:
    """A device that resends after reconnecting sends new messages, not DUP ones: the copy of 105 that comes in
    the batch of its first is a repeat (dropped), not a late reading (which would be stored a second time)."""
    reg, newest, stats = registry(), Newest(), AgentStats()
    seen(newest, 100.0)
    decoded = TelemetryDecoder("s1", reg).decode([reading(105), reading(110), reading(105), reading(101)], time.time())

    in_order, late = newest.split_late(decoded, stats)

    assert (in_order.msg_ts - T0).tolist() == [105.0, 110.0]
    assert late is not None
    assert (late.msg_ts - T0).tolist() == [101.0]
    assert (stats.repeats_dropped, stats.late_readings) == (1, 1)


def test_a_devices_metrics_reported_each_at_its_own_time_are_not_late() -> None:
    """OPC UA reports each metric when it changes, stamped by its source: a device's flow at 101 can come after
    its temp at 102. Each series is in order, so nothing is late; a series going back in time is."""
    reg, newest, stats = registry(), Newest(), AgentStats()
    seen(newest, 100.0)
    sent = ((102, "temp", 1.0), (101, "flow", 1.0), (102, "flow", 1.0), (102, "temp", 2.0), (101, "temp", 3.0))
    one = [Message(TOPIC, orjson.dumps({"ts": T0 + t, "metrics": {m: v}}), False) for t, m, v in sent]

    in_order, late = newest.split_late(TelemetryDecoder("s1", reg).decode(one, time.time()), stats)

    assert (in_order.msg_ts - T0).tolist() == [102.0, 101.0, 102.0, 102.0]  # temp at 102 twice: a correction, in order
    assert late is not None
    assert (late.msg_ts - T0).tolist() == [101.0]
    assert stats.late_readings == 1
