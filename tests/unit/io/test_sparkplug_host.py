"""The Sparkplug B host's rules, without a broker: births, aliases, seq, rebirth, death, commands, rejections."""

from __future__ import annotations

from dataclasses import astuple

import orjson
import pytest

from edgeloop.io.decode import TelemetryDecoder
from edgeloop.io.inbound import InboundSplitter
from edgeloop.io.registry import DeviceRegistry
from edgeloop.io.sparkplug import HostSession
from edgeloop.io.sparkplug.codec import DataType, Metric, decode, metric, payload
from edgeloop.io.transport import Message, Typed
from edgeloop.model import DeviceMeta

SITE, GROUP, NODE = "plant", "plant", "line1"
NOW = 1_700_000_000.0


def spb(kind: str, device: str | None = None) -> str:
    return f"spBv1.0/{GROUP}/{kind}/{NODE}" + ("" if device is None else f"/{device}")


def body(seq: int | None, metrics: list[Metric]) -> bytes:
    return payload(seq, int(NOW * 1000), metrics).SerializeToString()


def born() -> HostSession:
    """A session that has seen the node's NBIRTH (seq 0, bdSeq 3) and press-1's DBIRTH (seq 1)."""
    host = HostSession(SITE, GROUP)
    host.receive(spb("NBIRTH"), body(0, [metric("bdSeq", 3, DataType.INT64)]), NOW)
    birth = [
        metric("temp", 20.0, DataType.DOUBLE, alias=1, properties={"engUnit": "degC", "engLow": -20, "engHigh": 150}),
        metric("count", 0, DataType.INT32, alias=2),
        metric("Properties/asset_type", "press", DataType.STRING, alias=3),
        metric("Commands/reduce_speed", False, DataType.BOOLEAN, alias=4),
        metric("Commands/reduce_speed/factor", 1.0, DataType.DOUBLE, alias=5, properties={"engLow": 0.3, "engHigh": 1}),
        metric("Commands/id", "", DataType.STRING, alias=6),
        metric("Commands/status", "", DataType.STRING, alias=7),
        metric("Commands/detail", "", DataType.STRING, alias=8),
    ]
    host.receive(spb("DBIRTH", "press-1"), body(1, birth), NOW)
    return host


def data(seq: int, *metrics: Metric) -> bytes:
    return body(seq, list(metrics))


def reasons(messages: list[Message]) -> list[str]:
    return [r.reason for r in InboundSplitter(SITE)(messages, NOW).rejected]


def test_a_dbirth_becomes_the_devices_meta_and_online_state() -> None:
    host = HostSession(SITE, GROUP)
    host.receive(spb("NBIRTH"), body(0, [metric("bdSeq", 0, DataType.INT64)]), NOW)
    out = host.receive(spb("DBIRTH", "press-1"), body(1, [metric("temp", 1.0, DataType.DOUBLE, alias=1)]), NOW)
    assert [m.topic for m in out] == ["edgeloop/v1/plant/press-1/meta", "edgeloop/v1/plant/press-1/state"]
    meta = orjson.loads(out[0].payload)
    assert meta["asset_type"] == "sparkplug"
    assert meta["extra"] == {"protocol": "sparkplug", "group": GROUP, "node": NODE, "device": "press-1"}


def test_the_birth_gives_units_ranges_asset_type_and_commands() -> None:
    meta = orjson.loads(born().metas("press-1")[0].payload)
    assert meta["asset_type"] == "press"
    assert meta["metrics"]["temp"] == {"unit": "degC", "low": -20.0, "high": 150.0}
    assert meta["metrics"]["count"]["high"] == 2.0**31 - 1
    assert meta["commands"] == {
        "reduce_speed": {"description": "", "args": {"factor": {"low": 0.3, "high": 1.0, "unit": ""}}}
    }


def test_ddata_is_read_through_the_aliases_into_v1_telemetry() -> None:
    host = born()
    out = host.receive(
        spb("DDATA", "press-1"),
        data(
            2,
            metric(None, 71.5, DataType.DOUBLE, 1, with_type=False),
            metric(None, -4, DataType.INT32, 2, with_type=False),
        ),
        NOW,
    )
    assert [m.topic for m in out] == ["edgeloop/v1/plant/press-1/telemetry"]
    assert orjson.loads(out[0].wire()) == {"ts": NOW, "seq": 0, "metrics": {"temp": 71.5, "count": -4}}


def test_telemetry_is_handed_over_typed_with_the_ddata_bytes_for_quarantine() -> None:
    host = born()
    ddata = data(2, metric(None, 71.5, DataType.DOUBLE, 1, with_type=False), metric(None, 9, DataType.INT32, 2))
    (message,) = host.receive(spb("DDATA", "press-1"), ddata, NOW)
    assert message.doc == Typed(NOW, 0, ("temp", "count"), [71.5, 9])
    assert message.payload == ddata

    registry = DeviceRegistry()
    registry.add(DeviceMeta.from_json(orjson.loads(host.metas("press-1")[0].payload)))
    hot = host.receive(spb("DDATA", "press-1"), data(3, metric(None, 999.0, DataType.DOUBLE, 1)), NOW)
    decoded = TelemetryDecoder(SITE, registry).decode([message, *hot], NOW)
    assert decoded.points.values.tolist() == [71.5, 9.0]
    ((_, reason, raw, device),) = [astuple(r) for r in decoded.rejected]
    assert (reason, raw, device) == ("out of range: temp=999.0 outside [-20.0, 150.0]", hot[0].payload, "press-1")


@pytest.mark.parametrize(
    ("value", "named", "expected"),
    [
        (0.0, DataType.DOUBLE, {"temp": 0.0}),  # a zero is read the slow way, and is a value like any other
        (5.0, DataType.DOUBLE, {"temp": 5.0}),  # the datatype of the birth may be named
        (5.0, DataType.INT64, {"temp": 5.0}),  # or another, as long as the value comes in the born field
    ],
)
def test_the_fast_read_gives_what_the_metric_by_metric_read_gives(value: float, named: int, expected: dict) -> None:
    sent = metric(None, value, DataType.DOUBLE, 1)
    sent.datatype = named
    (message,) = born().receive(spb("DDATA", "press-1"), data(2, sent), NOW)
    assert message.doc is not None
    assert message.doc.as_json()["metrics"] == expected


def test_seq_wraps_from_255_to_0() -> None:
    host = born()
    host.nodes[NODE].seq = 255
    out = host.receive(spb("DDATA", "press-1"), data(0, metric(None, 1.0, DataType.DOUBLE, 1, with_type=False)), NOW)
    assert [m.topic.rsplit("/", 1)[1] for m in out] == ["telemetry"]


def test_a_payload_that_is_not_protobuf_is_rejected_and_a_rebirth_asked() -> None:
    host = born()
    out = host.receive(spb("DDATA", "press-1"), b"\xff\xff\xff garbage", NOW)
    assert reasons(out)[0].startswith("not a valid Sparkplug B payload")
    ((topic, raw),) = host.take_outbound()
    assert topic == spb("NCMD")
    assert [(m.name, m.boolean_value) for m in decode(raw).metrics] == [("Node Control/Rebirth", True)]


def test_a_seq_gap_is_rejected_and_the_data_after_it_flows() -> None:
    host = born()
    gap = host.receive(spb("DDATA", "press-1"), data(5, metric(None, 1.0, DataType.DOUBLE, 1, with_type=False)), NOW)
    assert reasons(gap) == ["seq gap: expected seq 2, got 5"]
    assert host.counters.rebirths_requested == 1
    after = host.receive(spb("DDATA", "press-1"), data(6, metric(None, 2.0, DataType.DOUBLE, 1, with_type=False)), NOW)
    assert [m.topic.rsplit("/", 1)[1] for m in after] == ["telemetry"]


def test_an_older_seq_is_an_out_of_order_message() -> None:
    host = born()
    host.nodes[NODE].seq = 10
    out = host.receive(spb("DDATA", "press-1"), data(8, metric(None, 1.0, DataType.DOUBLE, 1, with_type=False)), NOW)
    assert reasons(out) == ["out-of-order message: expected seq 11, got 8"]


def test_ddata_before_its_dbirth_is_rejected() -> None:
    host = born()
    out = host.receive(spb("DDATA", "press-2"), data(2, metric(None, 1.0, DataType.DOUBLE, 1, with_type=False)), NOW)
    assert reasons(out) == ["DDATA before its DBIRTH (device 'press-2' of node 'line1' is not born)"]
    assert InboundSplitter(SITE)(out, NOW).rejected[0].device == "press-2"


def test_a_metric_whose_datatype_changes_is_rejected() -> None:
    host = born()
    out = host.receive(spb("DDATA", "press-1"), data(2, metric(None, "hot", DataType.STRING, 1)), NOW)
    assert reasons(out) == ["metric 'temp' changed its datatype from Double to String without a rebirth"]
    silent = host.receive(spb("DDATA", "press-1"), data(3, metric(None, 7, DataType.INT64, 1, with_type=False)), NOW)
    assert reasons(silent)[0].startswith("metric 'temp' changed its datatype: its value came in long_value")


def test_an_unknown_alias_is_rejected_and_a_rebirth_asked() -> None:
    host = born()
    out = host.receive(spb("DDATA", "press-1"), data(2, metric(None, 1.0, DataType.DOUBLE, 99, with_type=False)), NOW)
    assert reasons(out) == ["unknown metric alias 99 (not in the device's DBIRTH)"]
    assert host.counters.rebirths_requested == 1


def test_rebirth_requests_are_spaced() -> None:
    host = born()
    for seq in (9, 20, 40):
        host.receive(spb("DDATA", "press-1"), data(seq), NOW)
    assert host.counters.rebirths_requested == 1


def test_ndeath_sets_the_devices_offline_but_a_stale_one_does_not() -> None:
    host = born()
    assert host.receive(spb("NDEATH"), body(None, [metric("bdSeq", 2, DataType.INT64)]), NOW) == []
    out = host.receive(spb("NDEATH"), body(None, [metric("bdSeq", 3, DataType.INT64)]), NOW)
    assert [(m.topic, m.payload) for m in out] == [("edgeloop/v1/plant/press-1/state", b"offline")]


def test_a_command_goes_out_as_a_dcmd_and_its_answer_comes_back_as_the_ack() -> None:
    host = born()
    cmd = orjson.dumps({"id": "c1", "name": "reduce_speed", "args": {"factor": 0.5}})
    assert host.command("edgeloop/v1/plant/press-1/cmd", cmd, NOW) is None
    ((topic, raw),) = host.take_outbound()
    assert topic == spb("DCMD", "press-1")
    sent = {m.name: m.WhichOneof("value") and getattr(m, str(m.WhichOneof("value"))) for m in decode(raw).metrics}
    assert sent == {"Commands/id": "c1", "Commands/reduce_speed/factor": 0.5, "Commands/reduce_speed": True}
    answer = data(2, metric(None, "c1", DataType.STRING, 6, with_type=False),
                  metric(None, "done", DataType.STRING, 7, with_type=False),
                  metric(None, "speed 50%", DataType.STRING, 8, with_type=False))  # fmt: skip
    (ack,) = host.receive(spb("DDATA", "press-1"), answer, NOW)
    assert ack.topic == "edgeloop/v1/plant/press-1/cmd/ack"
    assert orjson.loads(ack.payload) == {"id": "c1", "status": "done", "detail": "speed 50%"}


@pytest.mark.parametrize(
    ("device", "name", "detail"),
    [("press-9", "reduce_speed", "device offline (no DBIRTH since its last death)"),
     ("press-1", "explode", "the device's DBIRTH has no command 'explode'")],
)  # fmt: skip
def test_a_command_that_cannot_go_is_acked_rejected_at_once(device: str, name: str, detail: str) -> None:
    host = born()
    ack = host.command(f"edgeloop/v1/plant/{device}/cmd", orjson.dumps({"id": "c2", "name": name}), NOW)
    assert ack is not None
    assert orjson.loads(ack.payload) == {"id": "c2", "status": "rejected", "detail": detail}
    assert host.take_outbound() == []
