"""What the broker sends again (MQTT DUP) is dropped once handled; late data it never sent before is taken."""

from __future__ import annotations

import numpy as np
import orjson

from edgeloop.agent.repeats import Newest
from edgeloop.agent.stats import AgentStats
from edgeloop.io.registry import DeviceRegistry
from edgeloop.io.transport import Message
from edgeloop.model import DeviceMeta

TOPIC = "edgeloop/v1/s1/pump-1/telemetry"
STORED = ("pump-1", "flow", 90.0)


def reading(ts: float, dup: bool = False) -> Message:
    return Message(TOPIC, orjson.dumps({"ts": ts, "metrics": {"flow": 1.0}}), False, None, dup)


def registry() -> DeviceRegistry:
    reg = DeviceRegistry()
    reg.add(DeviceMeta.from_json({"device": "pump-1", "asset_type": "pump", "commands": {},
                                  "metrics": {"flow": {"unit": "m3/h", "low": 0, "high": 300}}}))  # fmt: skip
    return reg


def test_a_repeat_of_what_was_stored_is_dropped_and_nothing_else() -> None:
    """90 was stored: dropped. 95 is older than the newest but was never stored (NATS sends a dead session's
    messages again after newer ones): taken. 110 is newer: taken. 80 is late and not sent again: taken."""
    newest, stats, reg = Newest(), AgentStats(), registry()
    newest.note(1, np.array([0]), np.array([100.0]))
    batch = [reading(90.0, dup=True), reading(95.0, dup=True), reading(110.0, dup=True), reading(80.0)]

    kept = newest.drop_handled(batch, reg, stats, lambda device, metric, ts: (device, metric, ts) == STORED)

    assert [orjson.loads(m.payload)["ts"] for m in kept] == [95.0, 110.0, 80.0]
    assert stats.repeats_dropped == 1


def test_a_copy_sent_again_while_the_first_waits_in_the_same_batch_is_dropped() -> None:
    newest, stats, reg = Newest(), AgentStats(), registry()

    kept = newest.drop_handled([reading(5.0), reading(6.0), reading(5.0, dup=True)], reg, stats, lambda *_: False)

    assert [orjson.loads(m.payload)["ts"] for m in kept] == [5.0, 6.0]
    assert stats.repeats_dropped == 1
