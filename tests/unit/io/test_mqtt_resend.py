"""What the MQTT client does with QoS 1 publishes not acknowledged when it reconnects: to a broker that has no
session for it (issue 18: a cluster node dropped a clean-session publisher and the in-flight points were lost), and
to one that kept it (sent again before anything newer: tests/integration/test_mqtt_order.py on real brokers)."""

from __future__ import annotations

from edgeloop.io.gmqtt_client import DUP, FailoverClient
from edgeloop.io.mqtt import parse_brokers


class _Wire:
    def __init__(self) -> None:
        self.sent: list[bytes] = []

    def send_package(self, package: bytes) -> None:
        self.sent.append(bytes(package))


def _client_with_inflight(*packages: bytes) -> tuple[FailoverClient, _Wire]:
    client = FailoverClient(parse_brokers("mqtt://a:1883,mqtt://b:1883"), "device-1", clean_session=True)
    wire = _Wire()
    client._connection = wire
    for mid, package in enumerate(packages, 1):
        client._persistent_storage.push_message(mid, bytearray(package))
    return client, wire


def test_unacknowledged_qos1_publishes_are_sent_again_marked_dup_and_kept_until_acked() -> None:
    publish = bytes([0x32, 9]) + b"\x00\x01t\x00\x01" + b"pay"  # PUBLISH, QoS 1, packet id 1
    client, wire = _client_with_inflight(publish)

    client._clear_resend_qos_queue()  # what gmqtt calls on a CONNACK without a session

    assert wire.sent == [bytes([0x32 | DUP]) + publish[1:]]
    assert [mid for mid, _ in client._persistent_storage.get_all()] == [1]  # its PUBACK removes it


def test_a_pubrel_of_the_lost_session_is_dropped_not_sent() -> None:
    pubrel = bytes([0x62, 2, 0, 1])
    client, wire = _client_with_inflight(pubrel)

    client._clear_resend_qos_queue()

    assert wire.sent == []
    assert client._persistent_storage.is_empty


async def test_with_the_session_kept_what_is_in_flight_goes_again_at_once_in_order_a_pubrel_included() -> None:
    first = bytes([0x32, 9]) + b"\x00\x01t\x00\x01" + b"one"
    pubrel = bytes([0x62, 2, 0, 2])
    third = bytes([0x32, 9]) + b"\x00\x01t\x00\x03" + b"two"
    client, wire = _client_with_inflight(first, pubrel, third)

    done = client._resend_qos_messages()  # gmqtt calls it on the CONNACK, before `on_connect`, and schedules this

    assert done.done()  # sent already: nothing published after the CONNACK can overtake them
    assert wire.sent == [bytes([0x32 | DUP]) + first[1:], pubrel, bytes([0x32 | DUP]) + third[1:]]
    assert [mid for mid, _ in client._persistent_storage.get_all()] == [1, 2, 3]
