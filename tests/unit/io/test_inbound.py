"""Control messages decoded at the edge: typed values or a rejection with its reason; no broker, no store."""

from __future__ import annotations

import orjson
import pytest

from edgeloop.io.inbound import CommandAck, DeviceEvent, InboundSplitter, MetaUpdate, UsageReport, rejection
from edgeloop.io.transport import Message
from edgeloop.model import AckStatus

NOW = 19_000 * 86_400.0 + 43_200.0  # noon of UTC day 19,000
META = {"device": "p1", "asset_type": "pump", "metrics": {"flow": {"unit": "m3/h", "low": 0, "high": 100}}}


def msg(topic: str, payload: object) -> Message:
    body = payload if isinstance(payload, bytes) else orjson.dumps(payload)
    return Message(f"edgeloop/v1/{topic}", body, False)


def split(*messages: Message):  # type: ignore[no-untyped-def]
    return InboundSplitter("s1")(list(messages), now=NOW)


def test_telemetry_passes_through_untouched_and_metas_come_before_what_devices_report() -> None:
    telemetry = msg("s1/p1/telemetry", {"ts": 1, "metrics": {"flow": 1}})

    batch = split(msg("s1/p1/event", {"kind": "failure"}), telemetry, msg("s1/p1/meta", META))

    assert batch.telemetry == [telemetry]
    assert [type(c) for c in batch.controls] == [MetaUpdate, DeviceEvent]
    assert batch.rejected == []


def test_a_meta_becomes_a_device_description() -> None:
    (control,) = split(msg("s1/p1/meta", META)).controls

    assert isinstance(control, MetaUpdate)
    assert control.meta.asset_type == "pump"
    assert control.meta.metric("flow") is not None
    assert control.topic == "edgeloop/v1/s1/p1/meta"
    assert control.raw == orjson.dumps(META)


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        ({**META, "device": "p2"}, "bad meta: meta names device 'p2' on the topic of 'p1'"),
        ({**META, "metrics": {"flow": {"low": 3, "high": 3}}}, "bad meta: metric 'flow' has an empty range"),
        ([1, 2], "bad meta: expected a JSON object"),
        (b"{not json", "malformed JSON"),
    ],
)
def test_a_bad_meta_is_rejected_with_its_reason_and_bytes(payload: object, reason: str) -> None:
    batch = split(msg("s1/p1/meta", payload))

    assert batch.controls == []
    (rejected,) = batch.rejected
    assert rejected.reason.startswith(reason)
    assert rejected.device == "p1"
    assert rejected.raw


def test_an_event_keeps_its_payload_and_takes_the_arrival_time_when_it_has_none() -> None:
    (event,) = split(msg("s1/p1/event", {"kind": "repaired", "found": True, "decision": "d9"})).controls

    assert isinstance(event, DeviceEvent)
    assert (event.kind, event.ts, event.decision, event.doc["found"]) == ("repaired", NOW, "d9", True)


def test_a_usage_event_carries_its_typed_report() -> None:
    payload = {"kind": "usage", "day": 19_000, "energy_kwh": 40.5, "slowdown_h": 1}
    (event,) = split(msg("s1/p1/event", payload)).controls

    assert isinstance(event, DeviceEvent)
    assert event.usage == UsageReport(19_000, 40.5, 1.0)


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        ({"kind": ""}, "'kind' must be a non-empty string"),
        ({"kind": "failure", "downtime_s": "long"}, "'downtime_s' must be a number"),
        ({"kind": "failure", "ts": "yesterday"}, "could not convert"),
        ({"kind": "usage", "energy_kwh": -1}, "usage cannot be negative"),
        ({"kind": "usage", "energy_kwh": True}, "usage needs numeric"),
        ({"kind": "failure", "downtime_s": 1e30}, "'downtime_s' must be a number of seconds in [0, "),
        ({"kind": "usage", "energy_kwh": 1e308}, "usage out of range"),
        ({"kind": "usage", "day": 5}, "is not the day of its 'ts'"),
        ({"kind": "failure", "ts": 1e308}, "is outside"),
        ({"kind": "failure", "ts": -1e24}, "is outside"),
    ],
)
def test_a_bad_event_is_rejected(payload: object, reason: str) -> None:
    batch = split(msg("s1/p1/event", payload))

    assert batch.controls == []
    assert reason in batch.rejected[0].reason
    assert batch.rejected[0].reason.startswith("bad event")


def test_an_ack_becomes_a_typed_answer_and_a_made_up_status_is_rejected() -> None:
    good = msg("s1/p1/cmd/ack", {"id": "c1", "status": "rejected", "detail": "busy"})
    timeout = msg("s1/p1/cmd/ack", {"id": "c2", "status": "timeout"})

    batch = split(good, timeout)

    assert batch.controls == [CommandAck("p1", "c1", AckStatus.REJECTED, "busy")]
    assert [r.reason for r in batch.rejected] == ["bad cmd/ack: ack status must be 'done' or 'rejected', not 'timeout'"]


def test_state_the_agents_own_topics_and_an_empty_meta_are_not_for_the_agent_and_not_bad_either() -> None:
    batch = split(msg("s1/p1/state", b"online"), msg("s1/_agent/state", b"online"), msg("s1/p1/meta", b""))

    assert batch.controls == batch.rejected == []


def test_a_device_state_other_than_online_or_offline_is_rejected() -> None:
    batch = split(msg("s1/p1/state", {"online": [1, 2, 3]}), msg("s1/p1/state", b"offline"))

    assert batch.controls == []
    assert [(r.device, r.reason) for r in batch.rejected] == [("p1", "bad state: expected online or offline")]


def test_another_sites_message_and_a_bad_topic_are_rejected_without_a_device() -> None:
    batch = split(msg("s2/p1/event", {"kind": "failure"}), msg("s1/P 1/event", {"kind": "failure"}))

    assert [r.device for r in batch.rejected] == [None, None]
    assert "not this agent's site" in batch.rejected[0].reason


def test_a_control_the_agent_refuses_is_quarantined_with_its_own_topic_and_bytes() -> None:
    (event,) = split(msg("s1/p1/event", {"kind": "failure"})).controls

    rejected = rejection(event, "unknown device (no meta received for it)")

    assert rejected.reason == "bad event: unknown device (no meta received for it)"
    assert (rejected.topic, rejected.device) == ("edgeloop/v1/s1/p1/event", "p1")
    assert orjson.loads(rejected.raw) == {"kind": "failure"}
