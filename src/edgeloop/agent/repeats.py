"""Telemetry the broker sends again: after a kill, the QoS 1 messages the agent stored but had not yet
acknowledged come again, marked DUP (`broker.ack: stored`, `agent/acks.py`). Storing and learning them twice
would skew the learners, so a DUP message whose every reading is already in the store is dropped. Only those
are looked up: the agent keeps each device's newest telemetry time, and a DUP message with a newer reading was
never handled. (It cannot simply drop every DUP message no newer than that: NATS sends the unacknowledged
messages of a dead session again only after its ack wait, when newer ones have come.) A message without the
DUP flag is always taken, late or not.

>>> newest = Newest()
>>> newest.note(2, np.array([0, 1, 0]), np.array([10.0, 5.0, 12.0]))
>>> newest.ts.tolist()
[12.0, 5.0]
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
import orjson
from numpy.typing import NDArray

if TYPE_CHECKING:
    from edgeloop.agent.stats import AgentStats
    from edgeloop.io.registry import DeviceRegistry
    from edgeloop.io.transport import Message

#: whether the store holds a reading of (device, metric) at a time
Stored = Callable[[str, str, float], bool]


class Newest:
    """Per device (registry index), the newest telemetry time the agent has handled; kept in its checkpoint."""

    def __init__(self, ts: NDArray[np.float64] | None = None) -> None:
        self.ts: NDArray[np.float64] = np.full(0, -np.inf) if ts is None else np.asarray(ts, dtype=np.float64)

    def note(self, n_devices: int, device: NDArray[np.int64], ts: NDArray[np.float64]) -> None:
        """Readings handled: `device` holds the registry index of each, of `n_devices` known."""
        if self.ts.shape[0] < n_devices:
            grown = np.full(n_devices, -np.inf)
            grown[: self.ts.shape[0]] = self.ts
            self.ts = grown
        np.maximum.at(self.ts, device, ts)

    def drop_handled(
        self, messages: list[Message], registry: DeviceRegistry, stats: AgentStats, stored: Stored
    ) -> list[Message]:
        """`messages` without the DUP ones whose readings are all `stored` (device, metric, ts), or that came
        already in this batch (a broker that sends a message again while the first copy still waits in the
        agent's queue); counted in `stats.repeats_dropped`."""
        kept, seen = [], set()
        for message in messages:
            key = (message.topic, message.payload)
            if message.dup and (key in seen or self.handled(message, registry, stored)):
                stats.repeats_dropped += 1
                continue
            kept.append(message)
            seen.add(key)
        return kept

    def handled(self, message: Message, registry: DeviceRegistry, stored: Stored) -> bool:
        """Whether every reading of the telemetry message is no newer than its device's newest, and stored."""
        device = message.topic.rsplit("/", 2)[-2]
        known = registry.get(device)
        if known is None or known.index >= self.ts.shape[0]:
            return False
        try:
            doc = message.doc.as_json() if message.doc is not None else orjson.loads(message.payload)
            items = doc if isinstance(doc, list) else [doc]
            readings = [(next(iter(item["metrics"])), float(item["ts"])) for item in items]
        except (orjson.JSONDecodeError, ValueError, TypeError, KeyError, StopIteration, AttributeError):
            return False  # not telemetry the agent takes: the decoder says why
        if not readings or max(ts for _, ts in readings) > self.ts[known.index]:
            return False
        return all(stored(device, metric, ts) for metric, ts in readings)
