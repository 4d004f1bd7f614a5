"""The batch-at-a-time decode of the common batch (`TelemetryDecoder._decode_plain`) gives what the message by
message decode gives, for any batch: the same points, items and rejections, in the same order."""

from __future__ import annotations

import numpy as np
import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edgeloop.io.decode import DecodedBatch, TelemetryDecoder
from edgeloop.io.registry import DeviceRegistry
from edgeloop.io.transport import Message
from edgeloop.model import DeviceMeta, MetricSpec

NOW = 1_700_000_000.0
TOPIC = "edgeloop/v1/s1/p1/telemetry"


def decoder() -> TelemetryDecoder:
    reg = DeviceRegistry()
    reg.add(DeviceMeta("p1", "pump", (MetricSpec("flow", "m3/h", 0, 100), MetricSpec("temp", "C", -40, 150))))
    reg.add(DeviceMeta("p2", "pump", (MetricSpec("flow", "m3/h", 0, 100),)))
    return TelemetryDecoder("s1", reg)


def as_lists(d: DecodedBatch) -> tuple[object, ...]:
    arrays = (d.points.series, d.points.ts, d.points.values, d.msg_device, d.msg_ts, d.msg_start)
    return (*(a.tolist() for a in arrays), [(r.topic, r.reason, r.raw, r.device) for r in d.rejected])


def message(device: str, ts: object, metrics: dict[str, object], seq: object = 1) -> Message:
    payload = orjson.dumps({"ts": ts, "seq": seq, "metrics": metrics})
    return Message(f"edgeloop/v1/s1/{device}/telemetry", payload, False)


mostly_good = st.one_of(
    st.floats(0, 100), st.floats(0, 100), st.integers(0, 100), st.sampled_from([-1.0, 1e9, True, None, "7"])
)
stamps = st.one_of(st.floats(NOW - 1e5, NOW + 100), st.sampled_from([NOW + 1e4, 0, -1.0, True, "x", NOW]))
seqs = st.one_of(st.integers(0, 10), st.sampled_from([-1, 2**63 - 1, 2**63, 2**64 - 1, -(2**63), 1.5, None, False]))
items = st.builds(
    message,
    st.sampled_from(["p1", "p1", "p2", "p3"]),
    stamps,
    st.dictionaries(st.sampled_from(["flow", "temp", "x"]), mostly_good, max_size=3),
    seqs,
)
others = st.sampled_from(
    [
        Message("edgeloop/v1/s1/p1/telemetry", b'[{"ts": 1700000000, "metrics": {"flow": 1}}]', False),
        Message("edgeloop/v1/s1/p1/telemetry", b"{not json", False),
        Message("edgeloop/v1/s1/p1/telemetry", b"7", False),
        Message("edgeloop/v2/s1/p1/telemetry", b"{}", False),
        Message(TOPIC, b'{"ts": 1700000000, "seq": 18446744073709551616, "metrics": {"flow": 1}}', False),
        Message(TOPIC, b'{"ts": 1180591620717411303424, "metrics": {"flow": 1}}', False),
    ]
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(items, items, items, others), max_size=12))
def test_the_batch_path_and_the_message_path_agree_on_any_batch(batch: list[Message]) -> None:
    batched = decoder().decode(batch, NOW)
    one_by_one = decoder()._decode_checked(batch, NOW)
    assert as_lists(batched) == as_lists(one_by_one)


def test_a_batch_of_plain_messages_is_decoded_a_batch_at_a_time_even_when_a_device_changes_its_names() -> None:
    batch = [message("p1", NOW - 60 + i, {"flow": 1.0 + i, "temp": 20}) for i in range(5)]
    batch += [message("p1", NOW, {"temp": 21.0, "flow": 2}), message("p2", NOW, {"flow": 3.5})]
    dec = decoder()

    plain = dec._decode_plain(batch, NOW)

    assert plain is not None
    assert as_lists(plain) == as_lists(decoder()._decode_checked(batch, NOW))
    assert plain.points.values.tolist()[-3:] == [21.0, 2.0, 3.5]
    assert np.array_equal(plain.msg_start, np.arange(0, 14, 2)[:7])


def test_one_bad_message_sends_the_batch_down_the_message_path_which_says_why() -> None:
    batch = [message("p1", NOW, {"flow": 1.0}), message("p1", NOW, {"flow": "high"}), message("p2", NOW, {"flow": 2})]
    dec = decoder()

    assert dec._decode_plain(batch, NOW) is None
    decoded = dec.decode(batch, NOW)
    assert decoded.points.values.tolist() == [1.0, 2.0]
    assert [r.reason for r in decoded.rejected] == ["wrong type: metric 'flow' must be a number"]
