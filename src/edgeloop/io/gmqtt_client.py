"""gmqtt's client as `MqttClient` drives it: fail-over across a cluster's nodes, unacknowledged publishes sent again
after a session is lost, and the receive side cut short for telemetry: QoS 0 PUBLISH packets are split from the
socket's bytes and handed on here; every other packet goes to gmqtt's handler as before.

gmqtt reads each packet into a `Package`, passes it through three calls that each log at debug level or read the
clock, and its PUBLISH handler builds two struct formats and asks `inspect` whether the callback is a coroutine:
5.7-7.1 us a message of 20 metrics from its reader to our queue, against 1.8-3.0 us here (docs/speed.md). The framing
is MQTT 3.1.1 section 2.2 (a type byte, then the remaining length in 1 to 4 bytes of 7 bits, least significant
first) and 3.3 (at QoS 0 a PUBLISH's variable header is its topic alone: a 2-byte length and UTF-8, the payload
the rest); the client speaks 3.1.1 only, so there are no properties.

>>> got = []
>>> packet = bytes([0x31, 10, 0, 3]) + b"a/b" + b"{...}"  # a retained QoS 0 PUBLISH, 10 bytes after its header
>>> split_packets(packet + packet[:4], lambda *m: got.append(m), lambda cmd, rest: None)  # the second cut short
12
>>> got
[('a/b', b'{...}', True, False)]
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from functools import partial
from typing import Any

import gmqtt
from gmqtt.mqtt.package import Package

from edgeloop.io.broker_url import BrokerAddress

PUBLISH, DUP, RETAIN, QOS_BITS = 0x30, 0x08, 0x01, 0x06

#: (topic, payload, retain, dup) of a QoS 0 PUBLISH
Take = Callable[[str, bytes, bool, bool], None]
#: any other packet: its fixed header's first byte and the rest after the remaining length
Other = Callable[[int, bytes], None]


def split_packets(data: bytes, take: Take, other: Other) -> int:
    """Hand each whole packet at the start of `data` on; returns the bytes used (the rest waits for more), or -1 on
    a remaining length MQTT cannot frame (the connection is then reset, as gmqtt does)."""
    used, size = 0, len(data)
    while size - used >= 2:
        length, shift, at = 0, 0, used + 1
        while True:
            if at >= size:
                return used  # the length itself is cut short
            byte = data[at]
            length |= (byte & 0x7F) << shift
            at += 1
            if not byte & 0x80:
                break
            shift += 7
            if shift > 21:
                return -1
        end = at + length
        if end > size:
            break
        cmd = data[used]
        if cmd & 0xF0 == PUBLISH and not cmd & QOS_BITS and length > 2:
            topic_end = at + 2 + ((data[at] << 8) | data[at + 1])
            if at + 2 < topic_end <= end:
                try:
                    topic = data[at + 2 : topic_end].decode()
                except UnicodeDecodeError:
                    pass
                else:
                    take(topic, data[topic_end:end], bool(cmd & RETAIN), bool(cmd & DUP))
                    used = end
                    continue
        other(cmd, data[at:end])  # gmqtt's handler: its own checks and log for an empty topic or bad UTF-8
        used = end
    return used


def _superseded(topic: str, payload: bytes, retain: bool, dup: bool) -> None:
    return None


class FailoverClient(gmqtt.Client):  # type: ignore[misc]
    """gmqtt's client, connecting to the first of its nodes that answers; after a loss, starting at the next. QoS 0
    PUBLISH packets go to `take` as they are split from the socket's bytes (`split_packets`)."""

    def __init__(self, addresses: list[BrokerAddress], *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.addresses = addresses
        self.node = 0  # index of the node connected to (or last tried)
        self.failovers = 0  # connections opened to another node than the one before (the session may still fail)
        self._connected_once = False
        self.take: Take | None = None  # where QoS 0 PUBLISH packets go, split from the socket's bytes by us

    async def _create_connection(self, host: str, port: int, ssl: Any, clean_session: bool, keepalive: int) -> Any:
        n = len(self.addresses)
        start = (self.node + 1) % n if self._connected_once else 0  # the node we lost may be the one that failed
        error: OSError | None = None
        for k in range(n):
            i = (start + k) % n
            address = self.addresses[i]
            try:
                connection = await asyncio.wait_for(
                    super()._create_connection(address.host, address.port, ssl, clean_session, keepalive), 5.0
                )
            except OSError as exc:  # refused, unreachable, or no answer in time (TimeoutError is an OSError)
                error = exc
                continue
            if self._connected_once and i != self.node:
                self.failovers += 1
            self.node, self._connected_once = i, True
            self._host, self._port = address.host, address.port
            if self.take is not None:  # before any byte comes: the CONNECT is sent after this returns
                connection._protocol._read_packet = partial(self._read_packets, connection, self.take)
            return connection
        assert error is not None
        raise error

    def _read_packets(self, connection: Any, take: Take, data: bytes) -> int:
        """gmqtt's reader, with QoS 0 PUBLISH packets handed to `take` directly (`split_packets`)."""
        if self._package_handler.current_connection is not connection:
            take = _superseded  # gmqtt drops what a replaced connection still delivers
        connection._last_data_in = time.monotonic()  # the keep-alive's clock, as gmqtt's reader sets it
        return split_packets(data, take, lambda cmd, rest: connection.put_package(Package(cmd, rest)))

    def _clear_resend_qos_queue(self) -> None:
        """The broker has no session for us: gmqtt would drop every QoS 1 publish not yet acknowledged, and `flush`
        report them delivered (a cluster node that dropped a publisher lost 180 points so, issue 18). They are sent
        again marked DUP; each PUBACK in the new session removes one; a duplicate is one more copy of a point."""
        self._send_in_flight_again(session=False)

    def _resend_qos_messages(self) -> asyncio.Future[None]:
        """The broker kept our session: send what is in flight again now, before anything newer.

        gmqtt's own resend is a task scheduled on the CONNACK, so it ran after `on_connect`, which sends what was
        published while away (`MqttClient`'s outbox), and after any publish made in between: a device's readings in
        flight at a broken connection reached the broker behind newer ones, and an agent took them late (issue 18,
        `bench fleet`). gmqtt calls this on the CONNACK and schedules what it returns; sending here, before it
        returns, keeps the order MQTT 3.1.1 section 4.6 asks for."""
        self._send_in_flight_again(session=True)
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done

    def _send_in_flight_again(self, session: bool) -> None:
        """Every publish not acknowledged yet, in the order first sent, marked DUP. A QoS 2 PUBREL continues only in
        the session it belongs to (`session`); without it, it is dropped."""
        storage = self._persistent_storage
        for mid, package in storage.get_all():
            if package[0] & 0xF0 != PUBLISH:
                if session:
                    self._connection.send_package(package)
                else:
                    storage.remove_message_by_mid(mid)
                continue
            again = bytearray(package)
            again[0] |= DUP
            storage.push_message(mid, again)  # an OrderedDict: the key keeps its place
            self._connection.send_package(again)
