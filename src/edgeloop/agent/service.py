"""Wiring one site agent to its broker, store, learner and policy, and running it until told to stop."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import orjson
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from edgeloop.agent import checkpoint
from edgeloop.agent.acks import StoredAcks
from edgeloop.agent.claim import check_partition_free
from edgeloop.agent.ledger_writer import LedgerWriter
from edgeloop.agent.outbox import DurableOutbox
from edgeloop.agent.site import SiteAgent
from edgeloop.audit import AuditLog
from edgeloop.audit.trust import load_pinned_key
from edgeloop.io.broker import EmbeddedBroker
from edgeloop.io.mqtt import BrokerAuth, MqttClient, Will
from edgeloop.io.protocols import Link, open_protocol
from edgeloop.io.store import open_store
from edgeloop.io.topics import agent_state_topic, agent_topic
from edgeloop.learn import Learner
from edgeloop.learn.catalog import agent_learner, rebase_after
from edgeloop.policy import PolicyEngine, Rule, When, load_policy
from edgeloop.policy.shares import share_site_limits
from edgeloop.settings import AgentSettings, Settings

log = logging.getLogger(__name__)


def make_learner(cfg: AgentSettings | None = None) -> Learner:
    """The learner the settings name (`agent.learner`, as `edgeloop.learn.catalog.agent_learner` reads it), its
    gated parts re-based after `agent.rebase_after_h` on hold."""
    cfg = cfg or AgentSettings()
    return rebase_after(agent_learner(cfg.learner), cfg.rebase_after_h)


def make_policy(cfg: AgentSettings) -> PolicyEngine:
    """The site's policy file; without one, the default policy at the settings' autonomy, threshold and action.
    A partition of the site enforces its share of the site-wide limits (`edgeloop.policy.shares`)."""
    parts = 1 if cfg.part is None else cfg.part.count
    if cfg.policy is not None:
        return PolicyEngine(share_site_limits(load_policy(cfg.policy), parts))
    policy = load_policy(None)
    rule = Rule(name="sustained_anomaly", when=When(min_score=cfg.threshold), action=cfg.action,
                args=dict(cfg.action_args))  # fmt: skip
    autonomy = policy.autonomy.model_copy(update={"site": cfg.autonomy})
    return PolicyEngine(share_site_limits(policy.model_copy(update={"autonomy": autonomy, "rules": [rule]}), parts))


def site_key(cfg: AgentSettings) -> Ed25519PrivateKey:
    """The site's signing key (its own directory and passphrase when the settings give them), pinned on first use
    outside the log's directory so that `edgeloop audit verify` need not trust the key beside the log."""
    return load_pinned_key(cfg.audit_dir, cfg.key_dir, cfg.audit_passphrase_bytes(), cfg.audit_pins)


@contextlib.contextmanager
def broker_url(settings: Settings) -> Iterator[str]:
    """The configured broker's URL, or a freshly started embedded broker's, stopped on exit."""
    if settings.broker.url:
        yield settings.broker.url
        return
    with EmbeddedBroker() as broker:
        yield broker.url


@contextlib.asynccontextmanager
async def open_agent(
    settings: Settings,
    url: str,
    learner: Learner | None = None,
    protocol: str = "mqtt",
    protocol_map: Path | None = None,
) -> AsyncIterator[SiteAgent]:
    """A connected site agent with its store open; closes both on exit. The agent listens on the broker at `url`,
    or straight to its devices over another protocol of `edgeloop.io.protocols` (with its map)."""
    cfg = settings.agent
    part = cfg.part
    state_topic = agent_state_topic(cfg.site, None if part is None else part.label)
    auth = BrokerAuth(**settings.broker.credentials())
    if part is not None and protocol == "mqtt":  # before the store is opened or the partition's session taken
        await check_partition_free(url, cfg.site, str(part), state_topic, auth)
    client_id = f"edgeloop-agent-{cfg.site}" if part is None else f"edgeloop-agent-{cfg.site}-{part.label}"
    store = open_store(settings)
    will = Will(state_topic, b"offline")
    audit: AuditLog | None = None
    try:
        books = LedgerWriter.open(store, settings.ledger)
        audit = AuditLog.open(cfg.audit_dir, site_key(cfg))
        clean = not settings.broker.persistent_session
        hold = protocol == "mqtt" and settings.broker.ack == "stored"
        link = Link(cfg.site, protocol_map, url, client_id, will, clean_session=clean, auth=auth, hold_acks=hold)
        async with open_protocol(protocol, link) as client:
            agent = SiteAgent(cfg, client, store, learner or make_learner(cfg), make_policy(cfg), books, audit)
            agent.telemetry_qos = settings.broker.qos
            if isinstance(client, MqttClient) and client.hold_acks:
                agent.acks = StoredAcks(client, store.marks)
            agent.outbox = DurableOutbox(store, client, agent.clock)
            agent.outbox.on_published = lambda topic, payload: agent.dispatcher.on_published(
                topic, payload, agent.clock()
            )
            saved = checkpoint.load(cfg.checkpoint_path)
            if saved is not None and agent.resume(saved):
                log.info("resumed from %s: %d devices", cfg.checkpoint_path, len(agent.registry))
                if settings.broker.redelivery_s and hold:  # what the broker sends again late comes in order
                    agent.holdback.start(until=agent.clock() + settings.broker.redelivery_s)
            elif saved is None and part is not None:  # a new partition (P changed): the old ones' learnt state
                found = checkpoint.handover(cfg.data_dir / cfg.site, part, cfg.checkpoint_path)
                if found is not None and agent.resume(found[0]):
                    log.info("partition %s took over the learnt state of %d devices from %s", part, found[2], found[1])
            if settings.broker.redelivery_s and hold and isinstance(client, MqttClient):
                agent.holdback.follow(lambda: client.connections, settings.broker.redelivery_s)
            if restored := agent.devices.restore(agent.partition.owns, agent.clock()):
                log.info("%d devices known from the store", restored)
            source = cfg.policy.read_text(encoding="utf-8") if cfg.policy else "(default policy from the settings)"
            agent.dispatcher.record_policy(source, "edgeloop", "agent started", agent.clock())
            yield agent
    finally:
        if audit is not None:
            audit.close()
        await asyncio.to_thread(store.close)


def publish_stats(agent: SiteAgent) -> None:
    """The agent's counters on `edgeloop/v1/{site}/_agent/stats` (not retained): what a fleet view shows."""
    if getattr(agent.client, "connected", False):  # never queued: an outage's outbox is for decisions
        doc = {"site": agent.site, "ts": agent.clock(), "devices": len(agent.registry), **agent.stats.as_dict()}
        agent.client.publish(agent_topic(agent.site, "stats"), orjson.dumps(doc), qos=0)
