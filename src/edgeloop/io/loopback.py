"""An in-process link with the surface of `MqttClient`, for running an agent and a simulator in lockstep.

The ROI back-test needs two runs of the same plant to be identical wherever the agent did not act, so it cannot
let network timing decide which simulated minute a command lands in. `Loopback` keeps what the agent publishes
in `sent` for the caller to route, and hands the agent what the caller `deliver`s. Broker throughput is measured
by `edgeloop bench throughput`; the tests run the same loop over real brokers.

>>> link = Loopback()
>>> link.publish("edgeloop/v1/s/p1/cmd", b"{}", qos=1)
>>> [m.topic for m in link.take_sent()]
['edgeloop/v1/s/p1/cmd']
>>> link.deliver("edgeloop/v1/s/p1/telemetry", b"{}")
>>> len(link.drain(10))
1
"""

from __future__ import annotations

from collections import deque
from collections.abc import AsyncIterator

from edgeloop.io.transport import Message


class Loopback:
    def __init__(self) -> None:
        self._inbox: deque[Message] = deque()
        self.sent: list[Message] = []

    def deliver(self, topic: str, payload: bytes, retain: bool = False, dup: bool = False) -> None:
        """Hand the agent a message (`dup`: as a broker sends one again)."""
        self._inbox.append(Message(topic, payload, retain, None, dup))

    def take_sent(self) -> list[Message]:
        sent, self.sent = self.sent, []
        return sent

    async def subscribe(self, *topics: str, qos: int = 0) -> None:
        return None  # the caller delivers only what the agent would be subscribed to

    def drain(self, max_items: int) -> list[Message]:
        n = min(max_items, len(self._inbox))
        return [self._inbox.popleft() for _ in range(n)]

    async def wait(self, timeout: float) -> None:
        return None

    async def batches(self, max_items: int = 5000, max_wait: float = 0.05) -> AsyncIterator[list[Message]]:
        """What was delivered, up to `max_items` at a time, without waiting (the caller delivers in lockstep)."""
        while True:
            yield self.drain(max_items)

    def publish(self, topic: str, payload: bytes, qos: int = 0, retain: bool = False) -> None:
        self.sent.append(Message(topic, payload, retain))

    async def flush(self, timeout: float = 5.0) -> bool:
        return True
