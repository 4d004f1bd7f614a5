"""Which of a site's devices this agent runs, when the site is split over agents (`agent.partition`, i/P).

The v1 topics have no partition level, and a shared subscription splits by message, not by device, so an agent
of a partition subscribes to the telemetry of its devices one topic each, as their metas make them known; the
site's metas, events, acks and states (a trickle) come site-wide and `mine` keeps this partition's
(docs/topics.md, "Partitions of a site").
"""

from __future__ import annotations

from collections.abc import Sequence

from edgeloop.agent.stats import AgentStats
from edgeloop.io.registry import DeviceRegistry
from edgeloop.io.topics import Channel, agent_state_topic, device_topic, site_filter
from edgeloop.io.transport import Message, Transport
from edgeloop.model import Partition

#: device ids are untrusted input: the cache of which device is whose stays bounded
MAX_CACHED = 1_000_000


class PartitionView:
    """The devices of one partition of a site (all of them when `part` is None)."""

    def __init__(self, site: str, part: Partition | None, stats: AgentStats) -> None:
        self.site, self.part, self.stats = site, part, stats
        self.state_topic = agent_state_topic(site, None if part is None else part.label)
        self._owned: dict[str, bool] = {}  # device id -> whether this partition runs it
        self._subscribed = 0  # devices of the registry whose own topics this partition subscribed to

    @property
    def count(self) -> int:
        """How many partitions the site is split into (1: not split)."""
        return 1 if self.part is None else self.part.count

    def owns(self, device: str) -> bool:
        return self.part is None or self.part.owns(device)

    def subscribed_site_wide(self) -> None:
        """The site's telemetry came with its other channels, in one subscription (an unsplit site at QoS 1)."""
        self._subscribed = -1

    async def subscribe(self, client: Transport, registry: DeviceRegistry, qos: int) -> None:
        """The telemetry subscription: the site's, or one per device of this partition not subscribed yet (the
        devices of a handed-over checkpoint include other partitions': they are left out)."""
        if self.part is None:
            if self._subscribed == 0:
                await client.subscribe(site_filter(self.site, Channel.TELEMETRY), qos=qos)
                self._subscribed = -1
            return
        known = registry.by_index
        while self._subscribed < len(known):
            device = known[self._subscribed].meta.device
            self._subscribed += 1
            if self.part.owns(device):
                await client.subscribe(device_topic(self.site, device, Channel.TELEMETRY), qos=qos)

    def mine(self, messages: Sequence[Message]) -> Sequence[Message]:
        """The messages of this partition's devices (and any not of a device); counts the others."""
        part, owned = self.part, self._owned
        if part is None:
            return messages
        if len(owned) > MAX_CACHED:
            owned.clear()
        kept = []
        for m in messages:
            parts = m.topic.split("/", 4)
            device = parts[3] if len(parts) > 4 else ""
            mine = owned.get(device)
            if mine is None:
                mine = owned[device] = not device or device.startswith("_") or part.owns(device)
            if mine:
                kept.append(m)
        self.stats.other_partitions += len(messages) - len(kept)
        return kept
