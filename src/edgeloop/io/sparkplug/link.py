"""`SparkplugHost`: the Sparkplug B primary host application as the site agent's `Transport`.

    async with SparkplugHost("mqtt://127.0.0.1:1883", site="plant1", group="plant1", host_id="edgeloop") as host:
        agent = SiteAgent(settings, host, ...)

It subscribes `spBv1.0/{group}/#`, publishes its `spBv1.0/STATE/{host_id}` birth (and leaves its death as the
MQTT will), both retained, and hands the agent v1 messages (`HostSession` does the translating). The agent's
commands go out as DCMDs; everything else the agent publishes (its state, decisions, stats) has no Sparkplug
meaning and is kept in `unrouted` for the caller (a gateway forwards it to a v1 broker).
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from types import TracebackType

import orjson

from edgeloop.io.mqtt import MqttClient, Will
from edgeloop.io.sparkplug.codec import NAMESPACE
from edgeloop.io.sparkplug.host import HostSession
from edgeloop.io.topics import PREFIX
from edgeloop.io.transport import Message, Polled


def state_topic(host_id: str) -> str:
    return f"{NAMESPACE}/STATE/{host_id}"


class SparkplugHost(Polled):
    """A primary host application on one MQTT connection; a `Transport` for the site agent."""

    def __init__(
        self,
        url: str,
        site: str,
        group: str,
        host_id: str = "edgeloop",
        clock: Callable[[], float] = time.time,
        max_unrouted: int = 10_000,
    ) -> None:
        self.url = url
        self.site = site
        self.group = group
        self.host_id = host_id
        self.clock = clock
        self.session = HostSession(site, group)
        self.unrouted: deque[Message] = deque(maxlen=max_unrouted)
        self._ready: deque[Message] = deque()  # v1 messages made outside a drain (acks of commands that cannot go)
        self._was_connected = False
        birth_ms = int(clock() * 1000)
        self._birth = orjson.dumps({"online": True, "timestamp": birth_ms})
        death = orjson.dumps({"online": False, "timestamp": birth_ms})  # v3.0: the death names its birth's time
        self.client = MqttClient(url, f"edgeloop-spb-{host_id}", will=Will(state_topic(host_id), death, 1, True))

    async def __aenter__(self) -> SparkplugHost:
        await self.client.__aenter__()
        await self.client.subscribe(f"{NAMESPACE}/{self.group}/#", qos=1)
        self.client.publish(state_topic(self.host_id), self._birth, qos=1, retain=True)
        self._was_connected = True
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        death = orjson.dumps({"online": False, "timestamp": orjson.loads(self._birth)["timestamp"]})
        self.client.publish(state_topic(self.host_id), death, qos=1, retain=True)
        await self.client.flush(timeout=2.0)
        await self.client.close()

    @property
    def connected(self) -> bool:
        return self.client.connected

    # -- the Transport surface ------------------------------------------------------------------------------

    async def subscribe(self, *topics: str, qos: int = 0) -> None:
        """The agent's v1 subscriptions are implied; asking for a device's meta again re-delivers it."""
        for topic in topics:
            parts = topic.split("/")
            if len(parts) == 5 and parts[4] == "meta" and parts[3] != "+":
                self._ready.extend(self.session.metas(parts[3]))

    def drain(self, max_items: int) -> list[Message]:
        self._check_birth()
        out: list[Message] = []
        ready = self._ready
        while ready and len(out) < max_items:
            out.append(ready.popleft())
        if len(out) < max_items:
            now = self.clock()
            receive = self.session.receive
            for message in self.client.drain(max_items - len(out)):
                out.extend(receive(message.topic, message.payload, now))
            self._send_outbound()
        return out

    def _check_birth(self) -> None:
        """After a reconnect the broker has published our will (death): publish our birth again."""
        connected = self.client.connected
        if connected and not self._was_connected:
            self.client.publish(state_topic(self.host_id), self._birth, qos=1, retain=True)
        self._was_connected = connected

    async def wait(self, timeout: float) -> None:
        if not self._ready:
            await self.client.wait(timeout)

    def publish(self, topic: str, payload: bytes, qos: int = 0, retain: bool = False) -> None:
        if topic.startswith(PREFIX) and topic.endswith("/cmd"):
            ack = self.session.command(topic, payload, self.clock())
            if ack is not None:
                self._ready.append(ack)
            self._send_outbound()
            return
        self.unrouted.append(Message(topic, payload, retain))

    async def flush(self, timeout: float = 5.0) -> bool:
        self._send_outbound()
        return await self.client.flush(timeout)

    def _send_outbound(self) -> None:
        for topic, body in self.session.take_outbound():
            self.client.publish(topic, body, qos=0)
