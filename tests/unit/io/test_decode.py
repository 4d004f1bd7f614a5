"""One test per kind of bad telemetry input: each is rejected with its reason, and good input beside it stays."""

from __future__ import annotations

import orjson
import pytest

from edgeloop.io.decode import MAX_PAYLOAD, TelemetryDecoder
from edgeloop.io.mqtt import Message
from edgeloop.io.registry import DeviceRegistry
from edgeloop.model import DeviceMeta, MetricSpec

NOW = 1_800_000_000.0
GOOD = {"ts": NOW - 1, "seq": 1, "metrics": {"temp": 40.0, "flow": 10}}


@pytest.fixture
def decoder() -> TelemetryDecoder:
    registry = DeviceRegistry()
    registry.add(DeviceMeta("p1", "pump", (MetricSpec("temp", "C", -40, 150), MetricSpec("flow", "m3/h", 0, 100))))
    return TelemetryDecoder("s1", registry)


def msg(payload: object, device: str = "p1", site: str = "s1") -> Message:
    raw = payload if isinstance(payload, bytes) else orjson.dumps(payload)
    return Message(f"edgeloop/v1/{site}/{device}/telemetry", raw, False)


def reject_reason(decoder: TelemetryDecoder, bad: Message) -> str:
    batch = decoder.decode([msg(GOOD), bad, msg(GOOD)], NOW)
    assert len(batch.points) == 4, "the good messages around the bad one are kept"
    assert len(batch.rejected) == 1
    assert batch.rejected[0].raw == bad.payload[:4096], "the raw bytes are kept for quarantine"
    return batch.rejected[0].reason


def test_good_payload_and_list_payload_decode(decoder: TelemetryDecoder) -> None:
    batch = decoder.decode([msg(GOOD), msg([GOOD, {**GOOD, "ts": NOW}])], NOW)
    assert batch.rejected == []
    assert batch.n_messages == 3
    assert batch.points.values.tolist() == [40.0, 10.0] * 3
    assert batch.msg_start.tolist() == [0, 2, 4]


def test_malformed_json(decoder: TelemetryDecoder) -> None:
    assert reject_reason(decoder, msg(b'{"ts": 1, "metrics": {')).startswith("malformed JSON")


def test_wrong_type_of_metric(decoder: TelemetryDecoder) -> None:
    bad = {**GOOD, "metrics": {"temp": "hot"}}
    assert reject_reason(decoder, msg(bad)) == "wrong type: metric 'temp' must be a number"


def test_wrong_type_bool_is_not_a_number(decoder: TelemetryDecoder) -> None:
    assert reject_reason(decoder, msg({**GOOD, "metrics": {"temp": True}})).startswith("wrong type")


def test_wrong_type_of_timestamp(decoder: TelemetryDecoder) -> None:
    assert reject_reason(decoder, msg({**GOOD, "ts": "yesterday"})).startswith("wrong type: 'ts'")


def test_not_an_object(decoder: TelemetryDecoder) -> None:
    assert reject_reason(decoder, msg(b"[1, 2]")).startswith("wrong type")


@pytest.mark.parametrize("literal", [b"NaN", b"Infinity", b"-Infinity", b"1e999"])
def test_non_finite_values(decoder: TelemetryDecoder, literal: bytes) -> None:
    raw = b'{"ts": %d, "seq": 1, "metrics": {"temp": %s}}' % (int(NOW), literal)
    assert reject_reason(decoder, msg(raw)).startswith("non-finite value")


def test_unknown_device(decoder: TelemetryDecoder) -> None:
    assert reject_reason(decoder, msg(GOOD, device="p9")) == "unknown device (no meta received for it)"


@pytest.mark.parametrize(
    ("device", "site", "reason"),
    [("Pump_1", "s1", "bad device id"), ("p1", "S 1", "bad site id"), ("x" * 65, "s1", "bad device id")],
)
def test_ids_outside_the_pattern(decoder: TelemetryDecoder, device: str, site: str, reason: str) -> None:
    assert reject_reason(decoder, msg(GOOD, device=device, site=site)) == reason


def test_other_site_is_rejected(decoder: TelemetryDecoder) -> None:
    assert reject_reason(decoder, msg(GOOD, site="s2")).startswith("not this agent's site")


def test_payload_too_large(decoder: TelemetryDecoder) -> None:
    big = orjson.dumps({**GOOD, "pad": "x" * MAX_PAYLOAD})
    assert reject_reason(decoder, msg(big)).startswith("payload too large")


def test_timestamp_far_in_the_future(decoder: TelemetryDecoder) -> None:
    assert reject_reason(decoder, msg({**GOOD, "ts": NOW + 3600})).startswith("timestamp in the future")


def test_value_out_of_the_device_range(decoder: TelemetryDecoder) -> None:
    reason = reject_reason(decoder, msg({**GOOD, "metrics": {"temp": 900.0}}))
    assert reason == "out of range: temp=900.0 outside [-40.0, 150.0]"


def test_unknown_metric(decoder: TelemetryDecoder) -> None:
    assert reject_reason(decoder, msg({**GOOD, "metrics": {"rpm": 3.0}})) == "unknown metric 'rpm'"


def test_one_bad_item_rejects_its_whole_list_message(decoder: TelemetryDecoder) -> None:
    bad = msg([GOOD, {**GOOD, "metrics": {"temp": "x"}}])
    assert reject_reason(decoder, bad).startswith("wrong type")
