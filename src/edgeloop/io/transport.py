"""What flows between a site agent and its devices, independent of the protocol that carries it.

`Message` is one inbound or outbound message; `Transport` is what the agent needs of its link (subscribe,
publish, flush); `Source` is an ingest source: an async iterator of micro-batches of messages. `MqttClient`
implements all three today; `Loopback` does for in-process runs; Modbus, OPC UA and Sparkplug B sources are to
implement `Source` next.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import NamedTuple, Protocol


class Message(NamedTuple):
    topic: str
    payload: bytes
    retain: bool


class Source(Protocol):
    """Micro-batches of inbound messages: whatever is queued, up to `max_items`, waiting at most `max_wait` for
    the first; an empty batch when nothing came in time, so that the consumer can do its timed work."""

    def batches(self, max_items: int, max_wait: float) -> AsyncIterator[list[Message]]: ...


class Transport(Source, Protocol):
    """What the site agent needs of its link to the broker: `MqttClient`, or `Loopback` for in-process runs."""

    async def subscribe(self, *topics: str, qos: int = 0) -> None: ...
    def drain(self, max_items: int) -> list[Message]: ...
    async def wait(self, timeout: float) -> None: ...
    def publish(self, topic: str, payload: bytes, qos: int = 0, retain: bool = False) -> None: ...
    async def flush(self, timeout: float = 5.0) -> bool: ...
