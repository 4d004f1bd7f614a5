"""Knowledge sharing over the broker: publish this site's summaries, take the other sites', merge them.

Each site publishes, per asset type, its signed summary retained on `edgeloop/v1/_fleet/knowledge/{asset_type}/
{site}` (one retained message per site: a broker keeps one retained message per topic, so the site is part of
the topic), periodically and when it stops. Every site subscribes to `edgeloop/v1/_fleet/knowledge/+/+`, so a
site that starts later gets all retained summaries at once. A message is taken only if its signature holds, its
signer may speak for the site it names (`Trust`), the topic names the same site and asset type as the body, and
the body passes the schema; otherwise it is counted under its reason and dropped. `FleetKnowledge.priors` is
the merge of what was taken, for the agent to seed new series with (`edgeloop.learn.prior.PriorSource`).
There is no coordinator: every site merges for itself.

>>> from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
>>> from edgeloop.fleet.knowledge import MetricSummary
>>> m = MetricSummary(devices=8, level=4.0, scale=0.1, rel_scale=0.025, spread_abs=0.4, spread_rel=0.2)
>>> summary = KnowledgeSummary("north", "pump", 0.0, {"vibration": m})
>>> fleet = FleetKnowledge()
>>> fleet.take(knowledge_topic("pump", "north"), seal(summary.to_json(), Ed25519PrivateKey.generate()))
>>> fleet.priors("pump")["vibration"].scale
0.1
>>> print(fleet.take(knowledge_topic("pump", "south"), b'{"body": {}}'))
unsigned message (no 'key' and 'sig')
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

import numpy as np
import orjson
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from edgeloop.fleet.envelope import Trust, public_hex, seal, unseal
from edgeloop.fleet.knowledge import KnowledgeError, KnowledgeSummary, MergedKnowledge, merge, summarize_metric
from edgeloop.io.mqtt import MqttClient, MqttError, Transport
from edgeloop.io.registry import DeviceRegistry
from edgeloop.io.topics import PREFIX, fleet_topic
from edgeloop.learn.base import Learner
from edgeloop.learn.prior import PriorSource, SeriesPrior, prior_part
from edgeloop.model import is_valid_id
from edgeloop.settings import FleetSettings

log = logging.getLogger(__name__)

KNOWLEDGE = "knowledge"
KNOWLEDGE_FILTER = fleet_topic(KNOWLEDGE, "+", "+")
#: a series counts in a summary once it has seen this many points (an hour at 15 s)
MIN_POINTS = 240


def knowledge_topic(asset_type: str, site: str) -> str:
    """
    >>> knowledge_topic("pump", "north")
    'edgeloop/v1/_fleet/knowledge/pump/north'
    """
    return fleet_topic(KNOWLEDGE, asset_type, site)


def site_summaries(
    site: str, registry: DeviceRegistry, learner: Learner, ts: float, min_points: int = MIN_POINTS
) -> list[KnowledgeSummary]:
    """What this site's learner knows, per asset type, from each device's current series; [] if it cannot say."""
    part = prior_part(learner)
    if part is None:
        return []
    keys: dict[str, dict[str, list[int]]] = {}
    for device in registry.by_index:
        per_metric = keys.setdefault(device.meta.asset_type, {})
        for metric, key in device.keys.items():
            per_metric.setdefault(metric, []).append(key)
    out = []
    for asset_type, metrics in sorted(keys.items()):
        summaries = {}
        for metric, ks in metrics.items():
            found = summarize_metric(part.summarize(np.array(ks, dtype=np.int64)), min_points)
            if found is not None:
                summaries[metric] = found
        if summaries:
            out.append(KnowledgeSummary(site, asset_type, ts, summaries, getattr(part, "name", "learner")))
    return out


class FleetKnowledge:
    """The summaries this site has taken from the fleet, merged per asset type on demand."""

    def __init__(self, trust: Trust | None = None) -> None:
        self.trust = trust or Trust()
        self.summaries: dict[str, dict[str, KnowledgeSummary]] = {}  # asset type -> site -> latest summary
        self.refused: Counter[str] = Counter()  # reason -> messages
        self.heard: set[str] = set()  # the sites named by the topics of the messages taken or refused
        self.refused_sites: dict[str, str] = {}  # site named by the topic -> why its latest message was refused
        self._merged: dict[str, MergedKnowledge] = {}

    def take(self, topic: str, payload: bytes) -> str | None:
        """Take one knowledge message; returns the reason it was refused, or None."""
        named = topic.rsplit("/", 1)[-1][:64]
        self.heard.add(named)
        try:
            summary = self._check(topic, payload)
        except KnowledgeError as exc:
            self.refused[exc.reason] += 1
            self.refused_sites[named] = exc.reason
            log.info("fleet knowledge refused on %s: %s", topic[:200], exc.reason)
            return exc.reason
        if summary is not None:
            self.summaries.setdefault(summary.asset_type, {})[summary.site] = summary
            self._merged.pop(summary.asset_type, None)
        return None

    def _check(self, topic: str, payload: bytes) -> KnowledgeSummary | None:
        parts = topic.split("/")
        prefix = f"{PREFIX}/_fleet/{KNOWLEDGE}".split("/")
        if len(parts) != 6 or parts[:4] != prefix or not all(is_valid_id(p) for p in parts[4:]):
            raise KnowledgeError("not a knowledge topic (edgeloop/v1/_fleet/knowledge/{asset_type}/{site})")
        asset_type, site = parts[4], parts[5]
        if not payload:
            self.summaries.get(asset_type, {}).pop(site, None)  # a cleared retained message: the site withdrew
            self._merged.pop(asset_type, None)
            return None
        body, signer = unseal(payload)
        summary = KnowledgeSummary.from_json(body)
        if (summary.asset_type, summary.site) != (asset_type, site):
            raise KnowledgeError(f"body names {summary.asset_type}/{summary.site} on the topic of {asset_type}/{site}")
        refused = self.trust.check(site, signer)
        if refused is not None:
            raise KnowledgeError(refused)
        return summary

    def merged(self, asset_type: str) -> MergedKnowledge:
        if asset_type not in self._merged:
            self._merged[asset_type] = merge(list(self.summaries.get(asset_type, {}).values()))
        return self._merged[asset_type]

    def priors(self, asset_type: str) -> Mapping[str, SeriesPrior]:
        """The fleet's prior per metric of `asset_type` (the agent's `PriorSource`)."""
        return self.merged(asset_type).priors


def publish_summaries(client: Transport, key: Ed25519PrivateKey, summaries: Sequence[KnowledgeSummary]) -> int:
    """Publish each summary signed and retained on its topic; returns how many."""
    for s in summaries:
        client.publish(knowledge_topic(s.asset_type, s.site), seal(s.to_json(), key), qos=1, retain=True)
    return len(summaries)


async def share_knowledge(
    client: Transport,
    fleet: FleetKnowledge,
    key: Ed25519PrivateKey,
    summaries: Callable[[], Sequence[KnowledgeSummary]],
    stop: asyncio.Event,
    every_s: float = 300.0,
    wait_s: float = 0.2,
) -> None:
    """Take the fleet's summaries into `fleet` and publish ours every `every_s` and on stop, until `stop`.

    `client` is a connection of its own (not the agent's): knowledge messages never queue behind telemetry.
    """
    await client.subscribe(KNOWLEDGE_FILTER, qos=1)
    loop = asyncio.get_running_loop()
    next_publish = loop.time() + every_s
    while not stop.is_set():
        await client.wait(wait_s)
        for message in client.drain(1000):
            fleet.take(message.topic, message.payload)
        if loop.time() >= next_publish:
            publish_summaries(client, key, summaries())
            next_publish = loop.time() + every_s
    publish_summaries(client, key, summaries())
    await client.flush(timeout=5.0)


def describe(merged: MergedKnowledge) -> dict[str, Any]:
    """A JSON-ready view of a merge: the priors, the sites used and those left out with their reasons."""
    return {
        "priors": {m: {"level": p.level, "scale": p.scale, "rel_scale": p.rel_scale, "relative": p.relative,
                       "devices": p.devices, "tail": None if p.tail is None else p.tail._asdict()}
                   for m, p in merged.priors.items()},
        "used": merged.used,
        "rejected": [{"site": s, "metric": m, "reason": r} for s, m, r in merged.rejected],
    }  # fmt: skip


def dumps(merged: MergedKnowledge) -> bytes:
    return orjson.dumps(describe(merged))


class PriorHooks(Protocol):
    """Where a site agent takes the fleet's prior: its new series start from it (`agent/devices.py`)."""

    prior: PriorSource | None
    prior_settle_s: float | None


class SharingSite(Protocol):
    """What sharing needs of a site agent: its learner and devices, and the hooks that take the fleet's prior."""

    site: str
    learner: Learner

    @property
    def devices(self) -> PriorHooks: ...

    @property
    def registry(self) -> DeviceRegistry: ...


async def share_site_knowledge(
    agent: SharingSite, url: str, settings: FleetSettings, key: Ed25519PrivateKey, stop: asyncio.Event
) -> FleetKnowledge:
    """Run knowledge sharing for a site agent over its own connection until `stop`: new series of the agent
    start from the fleet's prior, and the agent's summaries are published every `publish_every_s` and at stop."""
    fleet = FleetKnowledge(Trust(settings.trusted_keys))
    fleet.trust.check(agent.site, public_hex(key))  # our own key first: nobody else can be first to our site id
    agent.devices.prior, agent.devices.prior_settle_s = fleet, settings.prior_settle_s

    def ours() -> list[KnowledgeSummary]:
        return site_summaries(agent.site, agent.registry, agent.learner, time.time())

    try:
        async with MqttClient(url, f"edgeloop-knowledge-{agent.site}") as client:
            await share_knowledge(client, fleet, key, ours, stop, settings.publish_every_s)
    except MqttError as exc:  # the site runs on without the fleet rather than stop
        log.warning("knowledge sharing is off: %s", exc)
    return fleet
