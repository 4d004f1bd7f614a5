"""Claiming a partition of a site before running it: two agents running the same devices would decide twice.

The claim is the partition's retained state topic on the broker (`edgeloop/v1/{site}/_agent/p0of2/state`): the
agent that runs the partition publishes `online` there, retained, with `offline` as its last will, so the broker
itself clears the claim when that agent dies, on whichever machine it ran. A second agent reads the topic before
it connects under the partition's client id (which would take the first one's session over) and refuses if it
says `online`.

Two agents starting within the same second can both see the partition free: the check is for the operator's
mistake (the same partition started twice), not a consensus protocol.
"""

from __future__ import annotations

import asyncio
import time

from edgeloop.io.mqtt import BrokerAuth, MqttClient


class PartitionTakenError(RuntimeError):
    """Another agent runs this partition; the message says which topic shows it and what to do."""

    def __init__(self, site: str, partition: str, topic: str) -> None:
        super().__init__(
            f"partition {partition} of site {site} is already run by another agent ({topic} is 'online' on the "
            "broker): stop that agent first, or give this one another --partition; if that agent is gone, the "
            "broker publishes its last will ('offline') once it notices"
        )
        self.site = site
        self.partition = partition
        self.topic = topic


async def check_partition_free(
    url: str, site: str, partition: str, topic: str, auth: BrokerAuth | None = None, wait_s: float = 1.0
) -> None:
    """Raise `PartitionTakenError` when `topic` holds a retained `online`; the broker sends a retained message at
    once on subscribing, so `wait_s` only bounds a slow broker."""
    async with MqttClient(url, auth=auth) as client:
        await client.subscribe(topic, qos=1)
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline:
            for message in client.drain(100):
                if message.topic == topic and message.payload == b"online":
                    raise PartitionTakenError(site, partition, topic)
                if message.topic == topic:
                    return
            await client.wait(0.05)
            await asyncio.sleep(0)
