"""A gateway's relay: a plant protocol's v1 messages onto a broker, and the broker's commands back to the plant.

The plant side is any `Transport` of `edgeloop.io.protocols` (Modbus, ...); the broker side an MQTT client. The
agent on the other side of the broker cannot tell a gateway's devices from devices that speak v1 themselves.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from edgeloop.io.topics import Channel, site_filter
from edgeloop.io.transport import Transport


@dataclass(slots=True)
class RelayStats:
    up: int = 0  # plant -> broker
    down: int = 0  # broker -> plant (commands)


def qos_of(topic: str) -> int:
    """Telemetry at QoS 0 as the devices that speak v1 send it; what must not be lost at QoS 1.

    >>> qos_of("edgeloop/v1/s/p1/telemetry"), qos_of("edgeloop/v1/s/p1/cmd/ack")
    (0, 1)
    """
    return 0 if topic.endswith("/telemetry") else 1


async def relay(plant: Transport, broker: Transport, site: str, stop: asyncio.Event,
                stats: RelayStats | None = None) -> RelayStats:  # fmt: skip
    """Relay until `stop` is set; returns the counts."""
    stats = stats if stats is not None else RelayStats()
    await broker.subscribe(site_filter(site, Channel.CMD), qos=1)
    async for batch in plant.batches(5000, 0.05):
        for message in batch:
            broker.publish(message.topic, message.wire(), qos=qos_of(message.topic), retain=message.retain)
        stats.up += len(batch)
        for command in broker.drain(10_000):
            plant.publish(command.topic, command.payload, qos=1)
            stats.down += 1
        if stop.is_set():
            break
        await asyncio.sleep(0)
    await plant.flush(timeout=5.0)
    for message in plant.drain(100_000):  # the acks of the last commands
        broker.publish(message.topic, message.wire(), qos=qos_of(message.topic), retain=message.retain)
    await broker.flush(timeout=5.0)
    return stats
