"""A reading that comes twice is stored once; late data and what was never stored are taken."""

from __future__ import annotations

import time

import numpy as np
import orjson

from edgeloop.agent.repeats import Newest, drop_copies
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


def test_an_older_reading_is_dropped_only_if_the_store_holds_it() -> None:
    """90 is stored: dropped (whether sent again as DUP or by the device). 95 is older than the newest but was
    never stored (NATS sends a dead session's messages again after newer ones): taken. 110 is newer: taken."""
    reg, newest, stats = registry(), Newest(), AgentStats()
    newest.note(1, np.array([0]), np.array([T0 + 100.0]))
    decoded = TelemetryDecoder("s1", reg).decode([reading(90, dup=True), reading(95, dup=True), reading(110),
                                                  reading(90)], time.time())  # fmt: skip

    kept = newest.drop_stored(decoded, reg, stats, lambda device, metric, ts, value: ts == T0 + 90.0 and value == 1)

    assert (kept.msg_ts - T0).tolist() == [95.0, 110.0]
    assert (kept.points.ts - T0).tolist() == [95.0, 95.0, 110.0, 110.0]
    assert kept.msg_start.tolist() == [0, 2]
    assert stats.repeats_dropped == 2
    assert stats.late_readings == 1  # 95: taken, after a newer reading of its device


def test_another_value_at_a_stored_time_is_a_correction_and_taken() -> None:
    reg, newest, stats = registry(), Newest(), AgentStats()
    newest.note(1, np.array([0]), np.array([T0 + 100.0]))
    decoded = TelemetryDecoder("s1", reg).decode([reading(90)], time.time())

    kept = newest.drop_stored(decoded, reg, stats, lambda device, metric, ts, value: value == 7.5)

    assert kept is decoded
    assert stats.repeats_dropped == 0
    assert stats.late_readings == 1


def test_nothing_is_looked_up_while_every_reading_is_newer() -> None:
    reg, newest, stats = registry(), Newest(), AgentStats()
    newest.note(1, np.array([0]), np.array([T0]))
    decoded = TelemetryDecoder("s1", reg).decode([reading(1), reading(2)], time.time())

    def never(device: str, metric: str, ts: float, value: float) -> bool:
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
    newest.note(1, np.array([0]), np.array([T0 + 100.0]))
    committed: set[float] = set()
    queued = {T0 + 90.0, T0 + 95.0}
    calls: list[str] = []

    def settle(timeout: float) -> None:
        calls.append(f"settle {timeout:g}")
        committed.update(queued)

    def stored(device: str, metric: str, ts: float, value: float) -> bool:
        calls.append("look-up")
        return ts in committed

    decoded = TelemetryDecoder("s1", reg).decode([reading(90), reading(95), reading(110)], time.time())
    kept = newest.drop_stored(decoded, reg, stats, stored, settle)

    assert (kept.msg_ts - T0).tolist() == [110.0]
    assert calls == ["settle 0.5", "look-up", "look-up"]


def test_a_copy_that_comes_before_the_store_committed_the_first_is_dropped() -> None:
    """The broker sends a message again when its ack is late, and the agent acknowledges only once the store has
    committed: with a store far behind, the copy comes while the first waits in the writer's queue. The store
    does not hold it yet; the readings handed to it since its last commit do."""
    reg, newest, stats = registry(), Newest(), AgentStats()
    first = TelemetryDecoder("s1", reg).decode([reading(90), reading(100)], time.time())
    newest.note(1, first.msg_device, first.msg_ts)
    newest.handled(5, 3, first.msg_device, first.msg_ts, first.points.values[first.msg_start])
    copy = TelemetryDecoder("s1", reg).decode([reading(90, dup=True), reading(95)], time.time())

    def nothing_committed(device: str, metric: str, ts: float, value: float) -> bool:
        return False

    kept = newest.drop_stored(copy, reg, stats, nothing_committed, committed=lambda: 4)

    assert (kept.msg_ts - T0).tolist() == [95.0]  # 95 was never sent before: late, taken
    assert stats.repeats_dropped == 1
    assert stats.late_readings == 1
    # once the writer has passed the mark, the store is asked instead (here: it lost it, so it is taken again)
    again = newest.drop_stored(copy, reg, AgentStats(), nothing_committed, committed=lambda: 5)
    assert (again.msg_ts - T0).tolist() == [90.0, 95.0]
