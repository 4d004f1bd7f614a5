"""What flows between a site agent and its devices, independent of the protocol that carries it.

`Message` is one inbound or outbound message; `Transport` is what the agent needs of its link (subscribe,
publish, flush); `Source` is an ingest source: an async iterator of micro-batches of messages. `MqttClient`
implements all three; `Loopback` does for in-process runs; the Modbus, OPC UA and Sparkplug B links are sources
too. `Polled` gives `batches` to any transport that can `wait` and `drain`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator
from typing import Any, NamedTuple, Protocol

import orjson


class Typed(NamedTuple):
    """A telemetry item that a protocol adapter has decoded (the Sparkplug host reads it from protobuf): its
    metrics' names, one tuple shared by every item of one shape (so that the agent maps it to series keys once),
    and their values.

    >>> Typed(1.0, 0, ("flow", "temp"), [2.0, 40.5]).as_json()
    {'ts': 1.0, 'seq': 0, 'metrics': {'flow': 2.0, 'temp': 40.5}}
    """

    ts: float
    seq: int
    names: tuple[str, ...]
    values: list[float]

    def as_json(self) -> dict[str, Any]:
        """The item as the v1 JSON object says it (a name given twice keeps its last value, as in JSON)."""
        return {"ts": self.ts, "seq": self.seq, "metrics": dict(zip(self.names, self.values, strict=False))}


class Message(NamedTuple):
    """One message. A protocol adapter that has already decoded a telemetry item hands it over as `doc`: the
    agent's decoder checks it as it would check the parsed JSON, without a JSON round trip, and `payload` holds
    the protocol's own bytes for quarantine. `dup`: the broker sent it before (MQTT's DUP flag), so the agent
    may have handled it already.

    >>> Message("edgeloop/v1/s/p1/telemetry", b"\x08\x01", False, Typed(1.0, 0, ("flow",), [2.0])).wire()
    b'{"ts":1.0,"seq":0,"metrics":{"flow":2.0}}'
    """

    topic: str
    payload: bytes
    retain: bool
    doc: Typed | None = None
    dup: bool = False

    def wire(self) -> bytes:
        """The v1 payload, as it goes onto a broker."""
        return self.payload if self.doc is None else orjson.dumps(self.doc.as_json())


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


class Polled(ABC):
    """`batches` for a link that can `wait` for its first message and `drain` what is queued: MQTT, the
    protocol links and the simulators' servers share this one loop."""

    @abstractmethod
    def drain(self, max_items: int) -> list[Message]: ...

    @abstractmethod
    async def wait(self, timeout: float) -> None: ...

    async def batches(self, max_items: int = 5000, max_wait: float = 0.05) -> AsyncIterator[list[Message]]:
        """Micro-batches: whatever is queued, up to `max_items`, waiting at most `max_wait` for the first.

        Yields an empty list when nothing came within `max_wait`, so the consumer can do its timed work.
        """
        while True:
            await self.wait(max_wait)
            yield self.drain(max_items)
