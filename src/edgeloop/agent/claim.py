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


class PartitioningClashError(PartitionTakenError):
    """The site still runs with another partitioning (or unpartitioned): its devices would be run twice."""

    def __init__(self, site: str, partition: str, topic: str) -> None:
        RuntimeError.__init__(
            self,
            f"site {site} is still run by an agent of another partitioning ({topic} is 'online'): stop every agent "
            f"of the old partitioning before starting partition {partition}; the new partitions take over their "
            "learnt state from the checkpoints they leave",
        )
        self.site = site
        self.partition = partition
        self.topic = topic


async def check_partition_free(
    url: str, site: str, partition: str, topic: str, auth: BrokerAuth | None = None, wait_s: float = 1.0
) -> None:
    """Raise `PartitionTakenError` when `topic` holds a retained `online`, and `PartitioningClashError` when the
    state topic of the site's unpartitioned agent or of a partition of another count does. The broker sends
    retained messages at once on subscribing, so `wait_s` only bounds a slow broker."""
    count = partition.split("/")[1]
    prefix = topic.rsplit("/", 2)[0]  # edgeloop/v1/{site}/_agent
    async with MqttClient(url, auth=auth) as client:
        await client.subscribe(f"{prefix}/state", f"{prefix}/+/state", qos=1)
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline:
            for message in client.drain(1000):
                if message.payload != b"online" or not message.retain:
                    continue
                if message.topic == topic:
                    raise PartitionTakenError(site, partition, topic)
                label = message.topic[len(prefix) + 1 :].removesuffix("/state")
                if label == "state" or not label.endswith(f"of{count}"):
                    raise PartitioningClashError(site, partition, message.topic)
            await client.wait(0.05)
            await asyncio.sleep(0)
