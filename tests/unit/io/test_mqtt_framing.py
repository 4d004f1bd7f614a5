"""The QoS 0 receive path split from the socket's bytes (`edgeloop.io.gmqtt_client.split_packets`)."""

from __future__ import annotations

import struct

from hypothesis import given
from hypothesis import strategies as st

from edgeloop.io.gmqtt_client import split_packets


def remaining_length(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def publish(topic: bytes, payload: bytes, qos: int = 0, retain: bool = False, dup: bool = False) -> bytes:
    rest = struct.pack("!H", len(topic)) + topic + (b"\x00\x07" if qos else b"") + payload
    return bytes([0x30 | (0x08 if dup else 0) | (qos << 1) | int(retain)]) + remaining_length(len(rest)) + rest


class Seen:
    def __init__(self) -> None:
        self.taken: list[tuple[str, bytes, bool, bool]] = []
        self.other: list[tuple[int, bytes]] = []

    def take(self, topic: str, payload: bytes, retain: bool, dup: bool) -> None:
        self.taken.append((topic, payload, retain, dup))

    def pass_on(self, cmd: int, rest: bytes) -> None:
        self.other.append((cmd, rest))


def test_qos0_publishes_are_taken_with_their_flags_and_the_rest_passed_on() -> None:
    seen = Seen()
    ping_response = bytes([0xD0, 0])
    data = publish(b"a/b", b"1") + ping_response + publish(b"c", b"", retain=True, dup=True) + publish(b"q", b"x", 1)
    assert split_packets(data, seen.take, seen.pass_on) == len(data)
    assert seen.taken == [("a/b", b"1", False, False), ("c", b"", True, True)]
    assert [cmd for cmd, _ in seen.other] == [0xD0, 0x32]  # the QoS 1 PUBLISH goes to gmqtt, which acknowledges it
    assert seen.other[1][1] == publish(b"q", b"x", 1)[2:]


def test_a_packet_cut_short_waits_for_the_rest() -> None:
    seen = Seen()
    big = publish(b"t", b"x" * 20_000)  # a remaining length of 3 bytes
    assert split_packets(big[:2], seen.take, seen.pass_on) == 0  # the length itself is cut short
    assert split_packets(big[:-1], seen.take, seen.pass_on) == 0
    assert split_packets(big + big[:5], seen.take, seen.pass_on) == len(big)
    assert seen.taken == [("t", b"x" * 20_000, False, False)]


def test_a_topic_that_is_empty_too_long_or_not_utf8_goes_to_gmqtt_for_its_checks() -> None:
    seen = Seen()
    empty, not_utf8 = publish(b"", b"p"), publish(b"\xff\xfe", b"p")
    too_long = bytes([0x30, 4]) + struct.pack("!H", 9) + b"ab"  # says 9 bytes of topic, holds 2
    data = empty + not_utf8 + too_long
    assert split_packets(data, seen.take, seen.pass_on) == len(data)
    assert seen.taken == []
    assert len(seen.other) == 3


def test_a_length_mqtt_cannot_frame_resets_the_connection() -> None:
    seen = Seen()
    assert split_packets(bytes([0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x01]), seen.take, seen.pass_on) == -1
    assert seen.taken == []
    assert seen.other == []


packets = st.lists(
    st.tuples(
        st.text(min_size=1, max_size=40).map(str.encode),
        st.binary(max_size=300),
        st.sampled_from([0, 1]),
        st.booleans(),
    ),
    max_size=12,
)


@given(packets, st.lists(st.integers(min_value=1, max_value=200), min_size=1, max_size=30))
def test_read_in_chunks_of_any_size_every_packet_comes_once_in_order(
    sent: list[tuple[bytes, bytes, int, bool]], chunks: list[int]
) -> None:
    """As gmqtt's read loop feeds it: append what the socket gave, split, keep what was not used."""
    stream = b"".join(publish(t, p, q, r) for t, p, q, r in sent)
    seen, buf, at, k = Seen(), b"", 0, 0
    while at < len(stream):
        size = chunks[k % len(chunks)]
        buf, at, k = buf + stream[at : at + size], at + size, k + 1
        used = split_packets(buf, seen.take, seen.pass_on)
        assert used >= 0
        buf = buf[used:]
    assert buf == b""
    assert seen.taken == [(t.decode(), p, r, False) for t, p, q, r in sent if q == 0]
    assert len(seen.other) == sum(1 for *_, q, _ in sent if q == 1)
