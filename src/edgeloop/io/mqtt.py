"""An MQTT client with a small async shape (after aiomqtt) over the fast gmqtt client.

    async with MqttClient("mqtt://127.0.0.1:1883", "agent-plant1", will=Will(topic, b"offline")) as client:
        await client.subscribe("edgeloop/v1/plant1/+/telemetry")
        async for batch in client.batches(max_items=5000, max_wait=0.05):
            ...

Messages are kept as plain tuples in a bounded queue; no callback leaks out. Publishing while the broker is
away does not raise: messages wait in an outbox (bounded, counted when full) and go out on reconnect.

`mqtts://host:8883` connects over TLS, checking the broker's certificate against the system's CAs or the
`BrokerAuth.ca_file` (with a client certificate if given); a user name and password come from `BrokerAuth` or
the URL (`mqtts://user:password@host`). A refusal says which: an untrusted certificate, or wrong credentials.

A comma-separated list of URLs (`mqtt://a:1883,mqtt://b:1883,mqtt://c:1883`, the nodes of one cluster)
connects to the first that answers and, when the connection is lost, reconnects to the next one that answers
(fail-over). With a persistent session on a cluster that replicates sessions, QoS 1 messages published while the
client was away are delivered on the node it reconnects to; its own unacknowledged QoS 1 publishes go again.

With `hold_acks=True` a QoS 1 message is acknowledged only when the receiver says so: `taken()` hands out the
acknowledgements of the messages drained so far, and `acknowledge(taken)` sends them, once what the messages
caused is stored. A receiver that dies before that leaves them with the broker, which sends them again to the
same persistent session. (gmqtt acknowledges on receipt under MQTT 3.1.1; Telegraf's MQTT consumer does the
same with paho's auto-ack off.) The broker's window of unacknowledged messages per client bounds the rate then:
Mosquitto's `max_inflight_messages` is 20 by default, the embedded broker's `max_ack_pending` 1,024 a
subscription.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
import uuid
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass
from types import TracebackType
from typing import Any, cast

import gmqtt
from gmqtt.mqtt.constants import UNLIMITED_RECONNECTS, MQTTv311

from edgeloop.io.broker_url import BrokerAddress, BrokerAuth, parse_broker, parse_brokers, parse_url, shown_url
from edgeloop.io.gmqtt_client import FailoverClient
from edgeloop.io.transport import Message, Polled, Transport

__all__ = ["BrokerAddress", "BrokerAuth", "Message", "MqttClient", "MqttError", "Transport", "Will", "parse_broker",
           "parse_brokers", "parse_url", "shown_url"]  # fmt: skip

log = logging.getLogger(__name__)

#: QoS 1 messages in flight (sent, not acknowledged) at most; more wait in the outbox (MQTT has 65,535 packet ids)
MAX_INFLIGHT = 10_000
#: how long a batch may wait to fill while a backlog keeps coming; the turns of the event loop, each bringing fewer
#: than `BACKLOG` messages, after which the socket is taken as drained (a steady trickle brings one or two a turn,
#: a backlog a socket read of 64 KiB: about 100 messages of 20 metrics)
LINGER_S, QUIET_TURNS, BACKLOG = 0.01, 2, 16
#: a batch stops waiting to fill at this many messages (what is queued by then is taken whole): larger batches
#: cost no less a message and delay every decision in them (p99 237-395 ms against 25 ms at K=1 uncapped)
LINGER_MAX = 2_000


@dataclass(frozen=True, slots=True)
class Will:
    """The last-will message the broker publishes if this client vanishes."""

    topic: str
    payload: bytes
    qos: int = 1
    retain: bool = True


class MqttError(ConnectionError):
    """Connecting or talking to the broker failed. `url` names the broker."""

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(f"MQTT broker {url}: {reason}")
        self.url = url
        self.reason = reason


def _refusal(exc: BaseException, username: str | None, tls_without_cert: bool) -> str:
    """Why connecting failed, in words that say what to fix."""
    if isinstance(exc, TimeoutError):
        hint = (
            " (a TLS broker that asks for a client certificate drops the connection without one: give broker.cert_file)"
            if tls_without_cert
            else ""
        )
        return f"cannot connect: no answer in time{hint}"
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"TLS: the broker's certificate is not trusted ({exc.verify_message}); give its CA with broker.ca_file"
    if isinstance(exc, ssl.SSLError):
        return f"TLS handshake failed ({exc.reason or exc}); check the certificates and that the port speaks TLS"
    if isinstance(exc, gmqtt.mqtt.handler.MQTTConnectError):
        code = getattr(exc, "_code", None)
        if code in (4, 5, 134, 135):  # Mosquitto answers a wrong password with 5, "not authorised"
            who = f"user {username!r}" if username else "no user name"
            return f"the broker refused the login ({who}): wrong user name or password, or not authorized"
    return f"cannot connect ({str(exc) or type(exc).__name__})"


class MqttClient(Polled):
    """One MQTT connection. Async context manager; iterate `messages()` or `batches()` to receive."""

    def __init__(
        self,
        url: str,
        client_id: str | None = None,
        *,
        will: Will | None = None,
        keepalive: int = 30,
        max_queue: int = 2_000_000,
        max_outbox: int = 1_000_000,
        connect_timeout: float = 10.0,
        clean_session: bool = True,
        auth: BrokerAuth | None = None,
        hold_acks: bool = False,
    ) -> None:
        self.url = shown_url(url)  # shown in errors and logs: never the password
        self._addresses = parse_brokers(url)
        self._address = self._addresses[0]
        self.auth = auth or BrokerAuth()
        self.client_id = client_id or f"edgeloop-{uuid.uuid4().hex[:12]}"
        self.will = will
        self.keepalive = keepalive
        self.max_queue = max_queue
        self.max_outbox = max_outbox
        self.connect_timeout = connect_timeout
        self.received = 0
        self.dropped_in = 0  # arrived while the queue was full
        self.dropped_out = 0  # published while the outbox was full
        self._queue: deque[Message] = deque()
        self._outbox: deque[tuple[str, bytes, int, bool]] = deque()
        self._wakeup = asyncio.Event()
        self._subscriptions: dict[str, int] = {}
        self.hold_acks = hold_acks
        self.acked = 0  # held acknowledgements sent
        self.acks_void = 0  # held acknowledgements of an earlier connection: the broker sends those messages again
        self._holds: deque[tuple[int, int]] = deque()  # (arrival number, ack token) of held messages still queued
        self._taken: list[int] = []  # ack tokens of held messages drained, not yet handed out
        self._drained = 0  # messages taken from the queue so far
        self.connections = 0  # CONNACKs received: more than one, the client has reconnected
        self._session = 0  # connections seen: a token is (connection << 16) | packet id
        self._session_of: object = None  # gmqtt's connection object of `_session`
        will_message = (
            None if will is None else gmqtt.Message(will.topic, will.payload, qos=will.qos, retain=will.retain)
        )
        #: False: the broker keeps this client id's subscriptions and queues its QoS 1 messages while it is away
        self.clean_session = clean_session
        self._client = FailoverClient(
            self._addresses, self.client_id, clean_session=clean_session, will_message=will_message
        )
        self._client.set_config({"reconnect_retries": UNLIMITED_RECONNECTS, "reconnect_delay": 0.5})
        self._client.on_message = self._on_message
        self._client.on_connect = self._on_connect
        #: gmqtt's packet handler: a part of the client since gmqtt 0.8, the client itself before
        self._packets = cast(Any, getattr(self._client, "_package_handler", None) or self._client)
        if hold_acks:  # gmqtt would acknowledge each QoS 1 message as it arrives (under MQTT 3.1.1 always)
            self._packets._handle_qos_1_publish_packet = self._on_held_message
        self._client.take = self._take
        self._connected = asyncio.Event()
        self.username = self.auth.username or self._address.username
        if self.username is not None:
            self._client.set_auth_credentials(self.username, self.auth.password or self._address.password)
        if self.auth.ca_file is not None and not self._address.tls:
            raise ValueError(f"a broker CA file is given but {self.url} is not mqtts://: the CA would go unused")

    # -- connection ------------------------------------------------------------------------------------------

    async def __aenter__(self) -> MqttClient:
        address = self._address
        try:
            tls: ssl.SSLContext | bool = self.auth.tls_context() if address.tls else False
        except (OSError, ssl.SSLError) as exc:  # a CA or certificate file that is missing or not PEM
            raise MqttError(self.url, f"TLS: cannot load the certificates ({exc})") from exc
        try:
            await asyncio.wait_for(
                self._client.connect(address.host, address.port, ssl=tls, keepalive=self.keepalive, version=MQTTv311),
                self.connect_timeout,
            )
        except (OSError, TimeoutError, gmqtt.mqtt.handler.MQTTConnectError) as exc:
            with contextlib.suppress(Exception):
                await self._client.disconnect()
            no_cert = address.tls and self.auth.cert_file is None
            raise MqttError(self.url, _refusal(exc, self.username, no_cert)) from exc
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._client.disconnect(), 5)
        self._wakeup.set()

    @property
    def node_url(self) -> str:
        """The URL of the node connected to (or last tried), of the list given."""
        address = self._addresses[self._client.node]
        return f"{'mqtts' if address.tls else 'mqtt'}://{address.host}:{address.port}"

    @property
    def failovers(self) -> int:
        """How many times the connection moved to another node of the list."""
        return int(self._client.failovers)

    @property
    def connected(self) -> bool:
        return bool(self._client.is_connected)

    def _on_connect(self, client: Any, flags: Any, rc: Any, properties: Any) -> None:
        self.connections += 1
        self._connected.set()
        for topic, qos in self._subscriptions.items():  # resubscribe after a reconnect
            client.subscribe(topic, qos=qos)
        self._flush_outbox()

    # -- receiving ------------------------------------------------------------------------------------------

    def _on_message(self, client: Any, topic: str, payload: bytes, qos: int, properties: Any) -> int:
        self._take(topic, payload, bool(properties["retain"]), bool(properties["dup"]))
        return 0

    def _take(self, topic: str, payload: bytes, retain: bool, dup: bool) -> None:
        if len(self._queue) >= self.max_queue:
            self.dropped_in += 1
            return
        self._queue.append(Message(topic, payload, retain, None, dup))
        self.received += 1
        if not self._wakeup.is_set():
            self._wakeup.set()

    def _on_held_message(self, mid: int, payload: bytes, topic: str, properties: dict[str, Any]) -> None:
        """A QoS 1 message whose acknowledgement waits for `acknowledge` (not sent at all if the queue is full:
        the broker keeps it). A retained one sent for a new subscription is acknowledged at once: the broker keeps
        it anyway and sends it again on the next subscription, and holding a burst of them (every device's meta at
        start) filled Mosquitto's 20 in flight and 1,000 queued, and it dropped the rest."""
        if properties["retain"]:
            self._packets._send_puback(mid)
            self._on_message(self._client, topic, payload, 1, properties)
            return
        arrival = self.received
        self._on_message(self._client, topic, payload, 1, properties)
        if self.received > arrival:  # queued, not dropped
            self._holds.append((arrival, (self._current_session() << 16) | mid))

    def _current_session(self) -> int:
        """The number of the connection now open: packet ids of an earlier one mean nothing in it. (Counted by
        gmqtt's connection object, not in `_on_connect`: a broker resends its unacknowledged messages right after
        the CONNACK, and gmqtt may hand them over before it calls `on_connect`.)"""
        connection = self._client._connection
        if connection is not self._session_of:
            self._session_of = connection
            self._session += 1
        return self._session

    def taken(self) -> list[int]:
        """The held acknowledgements of the messages drained since the last call (in arrival order)."""
        taken, self._taken = self._taken, []
        return taken

    def acknowledge(self, taken: list[int]) -> None:
        """Send the acknowledgements `taken` handed out, in order. Those of an earlier connection are void: the
        broker sends their messages again on this one."""
        send, session = self._packets._send_puback, self._current_session()
        for token in taken:
            if token >> 16 != session or not self.connected:
                self.acks_void += 1
                continue
            try:
                send(token & 0xFFFF)
            except Exception:  # the connection went down under us: the broker sends the message again
                self.acks_void += 1
                continue
            self.acked += 1

    async def batches(self, max_items: int = 5000, max_wait: float = 0.05) -> AsyncIterator[list[Message]]:
        """Micro-batches: what is queued once the first message came (waiting at most `max_wait` for it), topped up
        while the socket keeps bringing a backlog, turn after turn of the event loop, up to `LINGER_MAX` messages or
        `LINGER_S`; then what is queued, up to `max_items`.

        A receiver that keeps up gets each message at once. One that fell behind gets its backlog as one batch, not
        a socket read at a time: the agent's cost per batch (about 0.7 ms) made a batch of 30 messages of 20
        metrics cost twice as much a message as one of 300, and at full load on 2 cores its batches were 30."""
        loop = asyncio.get_running_loop()
        while True:
            await self.wait(max_wait)
            seen, until, quiet = len(self._queue), loop.time() + LINGER_S, 0
            while 0 < seen < min(max_items, LINGER_MAX) and quiet < QUIET_TURNS and loop.time() < until:
                await asyncio.sleep(0)  # the reader runs: a read wakes it in one turn, it queues in the next
                quiet = quiet + 1 if len(self._queue) - seen < BACKLOG else 0
                seen = len(self._queue)
            yield self.drain(max_items)

    async def subscribe(self, *topics: str, qos: int = 0) -> None:
        for topic in topics:
            self._subscriptions[topic] = qos
            self._client.subscribe(topic, qos=qos)

    def drain(self, max_items: int) -> list[Message]:
        """Take up to `max_items` queued messages without waiting."""
        queue = self._queue
        n = min(max_items, len(queue))
        messages = [queue.popleft() for _ in range(n)]
        self._drained += n
        holds = self._holds
        while holds and holds[0][0] < self._drained:
            self._taken.append(holds.popleft()[1])
        return messages

    async def wait(self, timeout: float) -> None:
        """Wait until a message is queued or `timeout` passes."""
        if self._queue:
            return
        self._wakeup.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wakeup.wait(), timeout)

    async def messages(self) -> AsyncIterator[Message]:
        while True:
            await self.wait(1.0)
            while self._queue:
                yield self.drain(1)[0]

    # -- sending ------------------------------------------------------------------------------------------

    def publish(self, topic: str, payload: bytes, qos: int = 0, retain: bool = False) -> None:
        if self._outbox and self.connected:
            self._flush_outbox()
        if qos and not self._outbox and self._inflight() >= MAX_INFLIGHT:
            self._outbox.append((topic, payload, qos, retain))  # MQTT has 65,535 packet ids: wait for acks
            return
        if self._outbox or not self.connected:
            if len(self._outbox) >= self.max_outbox:
                self.dropped_out += 1
                log.warning("outbox full, message to %s not sent", topic)
                return
            self._outbox.append((topic, payload, qos, retain))
            return
        self._client.publish(topic, payload, qos=qos, retain=retain)

    @property
    def outbox_size(self) -> int:
        return len(self._outbox)

    def _inflight(self) -> int:
        """QoS 1 messages sent and not acknowledged yet."""
        return len(self._client._persistent_storage._messages)

    def _flush_outbox(self) -> None:
        while self._outbox and self.connected:
            if self._outbox[0][2] and self._inflight() >= MAX_INFLIGHT:
                return
            topic, payload, qos, retain = self._outbox.popleft()
            self._client.publish(topic, payload, qos=qos, retain=retain)

    async def flush(self, timeout: float = 5.0) -> bool:
        """Wait until the outbox is empty and QoS>0 messages are acknowledged (or `timeout`)."""
        deadline = asyncio.get_running_loop().time() + timeout
        while asyncio.get_running_loop().time() < deadline:
            self._flush_outbox()
            if not self._outbox and self._client._persistent_storage.is_empty:
                return True
            await asyncio.sleep(0.02)
        return False
