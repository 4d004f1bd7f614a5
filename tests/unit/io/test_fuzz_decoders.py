"""Property-based fuzzing of every decoder at the edge (Hypothesis): whatever bytes arrive on whatever topic,
decoding never raises, and every message is accounted for: taken as a typed value or as telemetry, or rejected
with a reason. Nothing is dropped silently."""

from __future__ import annotations

import numpy as np
import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edgeloop.io.decode import TelemetryDecoder
from edgeloop.io.inbound import InboundSplitter
from edgeloop.io.registry import DeviceRegistry
from edgeloop.io.transport import Message, Typed
from edgeloop.model import DeviceMeta, MetricSpec

NOW = 1_700_000_000.0
CHANNELS = ["meta", "telemetry", "event", "cmd/ack", "state", "cmd", "bogus", ""]

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=10), inner, max_size=5),
    max_leaves=20,
)
#: JSON shaped like the scheme's payloads, with hostile values where numbers belong
hostile_number = st.one_of(
    st.floats(allow_nan=False), st.integers(-(2**63), 2**63 - 1), st.sampled_from([1e308, -1e24, 0, -1]), st.text()
)
shaped = st.fixed_dictionaries(
    {"ts": hostile_number, "kind": st.sampled_from(["failure", "usage", "repaired", "", "x"]) | st.integers(-5, 5)},
    optional={
        "seq": hostile_number,
        "metrics": st.dictionaries(st.sampled_from(["flow", "x"]), hostile_number),
        "downtime_s": hostile_number,
        "energy_kwh": hostile_number,
        "slowdown_h": hostile_number,
        "day": hostile_number,
        "id": st.text(max_size=5) | st.integers(-5, 5),
        "status": st.text(max_size=9),
        "device": st.text(max_size=5),
        "asset_type": st.text(max_size=5),
    },
)
payloads = st.one_of(
    st.binary(max_size=200), json_values.map(orjson.dumps), shaped.map(orjson.dumps), st.lists(shaped).map(orjson.dumps)
)
topics = st.one_of(
    st.builds(
        lambda site, dev, ch: f"edgeloop/v1/{site}/{dev}/{ch}",
        st.sampled_from(["s1", "s2", "S 1"]),
        st.sampled_from(["p1", "_agent", "P-1", ""]),
        st.sampled_from(CHANNELS),
    ),
    st.text(max_size=40),
)
messages = st.lists(st.builds(Message, topics, payloads, st.booleans(), st.none()), max_size=20)


def registry() -> DeviceRegistry:
    reg = DeviceRegistry()
    reg.add(DeviceMeta("p1", "pump", (MetricSpec("flow", "m3/h", 0, 100),)))
    return reg


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(messages)
def test_sorting_at_the_edge_never_raises_and_accounts_for_every_message(batch: list[Message]) -> None:
    inbound = InboundSplitter("s1")(batch, NOW)

    ignored = [m for m in batch if _ignored(m)]
    assert len(inbound.controls) + len(inbound.telemetry) + len(inbound.rejected) + len(ignored) == len(batch)
    assert all(r.reason for r in inbound.rejected)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(messages)
def test_decoding_telemetry_never_raises_and_accounts_for_every_message(batch: list[Message]) -> None:
    telemetry = [Message("edgeloop/v1/s1/p1/telemetry", m.payload, False) for m in batch]

    decoded = TelemetryDecoder("s1", registry()).decode(telemetry, NOW)

    accepted_messages = {int(s) for s in decoded.msg_start}  # item starts; messages counted below
    assert len(decoded.rejected) <= len(telemetry)
    assert all(r.reason for r in decoded.rejected)
    taken = len(telemetry) - len(decoded.rejected)
    assert (decoded.n_messages == 0) == (taken == 0)
    assert len(accepted_messages) <= decoded.n_messages
    assert ((decoded.points.values >= 0) & (decoded.points.values <= 100)).all()


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.builds(
            Typed,
            hostile_number,
            st.one_of(st.integers(-5, 2**63 - 1), hostile_number),
            st.lists(st.sampled_from(["flow", "x", "flow"]), max_size=3).map(tuple),
            st.lists(st.one_of(hostile_number, st.none(), st.booleans()), max_size=3),
        ),
        max_size=20,
    )
)
def test_typed_telemetry_is_checked_as_its_json_would_be(items: list[Typed]) -> None:
    """An adapter's typed item (`Message.doc`) is accepted or refused as the same item in JSON; one that JSON could
    not carry (an infinity, a name twice, more values than names) is refused, or read as JSON would read it."""
    topic = "edgeloop/v1/s1/p1/telemetry"
    typed = TelemetryDecoder("s1", registry()).decode([Message(topic, b"raw", False, t) for t in items], NOW)

    assert all(r.reason for r in typed.rejected)
    assert all(r.raw == b"raw" for r in typed.rejected)
    assert ((typed.points.values >= 0) & (typed.points.values <= 100)).all()
    assert np.isfinite(typed.points.ts).all()
    for t in items:  # what JSON carries unchanged (finite numbers, each name once, as many values as names)
        if (
            len(set(t.names)) == len(t.names) == len(t.values)
            and orjson.loads(orjson.dumps(t.as_json())) == t.as_json()
        ):
            one = TelemetryDecoder("s1", registry()).decode([Message(topic, b"raw", False, t)], NOW)
            same = TelemetryDecoder("s1", registry()).decode([Message(topic, orjson.dumps(t.as_json()), False)], NOW)
            assert [r.reason for r in one.rejected] == [r.reason for r in same.rejected]
            assert one.points.values.tolist() == same.points.values.tolist()


def _ignored(message: Message) -> bool:
    """What the splitter leaves alone on purpose: device liveness (online, offline), the agents' own topics and
    commands, a cleared meta."""
    if message.topic.endswith("/telemetry"):
        return False  # telemetry goes to the decoder, whatever its topic
    parts = message.topic.split("/")
    if len(parts) == 5 and parts[:3] == ["edgeloop", "v1", "s1"] and parts[3] == "_agent":
        return True
    if "/_agent/" in message.topic:
        return True
    ok_device = len(parts) >= 5 and parts[2] == "s1" and parts[3] == "p1" and parts[0:2] == ["edgeloop", "v1"]
    channel = "/".join(parts[4:])
    state = channel == "state" and message.payload in (b"online", b"offline", b"")  # else: rejected
    return ok_device and (state or channel == "cmd" or (channel == "meta" and not message.payload))
