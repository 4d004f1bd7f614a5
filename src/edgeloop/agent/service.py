"""Wiring one site agent to its broker, store, learner and policy, and running it until told to stop."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import orjson

from edgeloop.agent.books import SiteBooks
from edgeloop.agent.site import SiteAgent
from edgeloop.audit import AuditLog, load_or_create_key
from edgeloop.io.broker import EmbeddedBroker
from edgeloop.io.mqtt import Will
from edgeloop.io.protocols import Link, open_protocol
from edgeloop.io.store import SqliteStore
from edgeloop.io.topics import agent_topic
from edgeloop.learn import Learner, RobustEWMA
from edgeloop.learn.combine import MaxOf
from edgeloop.learn.noise import NoiseRatio
from edgeloop.learn.registry import LEARNERS
from edgeloop.policy import PolicyEngine, Rule, When, load_policy
from edgeloop.settings import AgentSettings, Settings

#: the memory of the default learner: alpha 0.04 per point at the factory's 15 s sampling, set in time instead
HALF_LIFE_S = 255.0
REANCHOR_S = 3600.0  # an hour beyond the baseline is a new level, not an anomaly to repeat
NOISE_POINT_S = 15.0  # the noise ratio's half-lives (10 and 1,000 points) in time, at the factory's sampling
#: an outlier still moves the baseline at half the rate: at a quarter, the baseline fell behind the steepest part
#: of the factory's daily speed swing and alarmed on it (measured: 18 -> 12 false alarms, 60 devices, 4 days)
OUTLIER_RATE = 0.5
BETA = 0.0  # a learnt trend also follows a developing fault's ramp: measured, it caught far fewer


def make_learner(cfg: AgentSettings | None = None) -> Learner:
    """The learner the settings name (`agent.learner`); the robust EWMA gets the memory tuned for the agent."""
    name = AgentSettings().learner if cfg is None else cfg.learner
    if name == "robust_ewma":
        return RobustEWMA(half_life_s=HALF_LIFE_S, beta=BETA, reanchor_s=REANCHOR_S, outlier_rate=OUTLIER_RATE)
    if name == "ewma_noise":  # the level and, beside it, the roughness of each series
        level = RobustEWMA(half_life_s=HALF_LIFE_S, beta=BETA, reanchor_s=REANCHOR_S, outlier_rate=OUTLIER_RATE)
        return MaxOf([level, NoiseRatio(point_s=NOISE_POINT_S)])
    if name not in LEARNERS:
        known = ", ".join(sorted(LEARNERS))
        raise ValueError(f"agent.learner {name!r} is not a known learner; known: {known}")
    return LEARNERS[name]()


def make_policy(cfg: AgentSettings) -> PolicyEngine:
    """The site's policy file; without one, the default policy at the settings' autonomy, threshold and action."""
    if cfg.policy is not None:
        return PolicyEngine(load_policy(cfg.policy))
    policy = load_policy(None)
    rule = Rule(name="sustained_anomaly", when=When(min_score=cfg.threshold), action=cfg.action,
                args=dict(cfg.action_args))  # fmt: skip
    autonomy = policy.autonomy.model_copy(update={"site": cfg.autonomy})
    return PolicyEngine(policy.model_copy(update={"autonomy": autonomy, "rules": [rule]}))


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
    store = SqliteStore(cfg.db_path, cfg.site)
    will = Will(agent_topic(cfg.site, "state"), b"offline")
    audit: AuditLog | None = None
    try:
        books = SiteBooks.open(store, settings.ledger)
        audit = AuditLog.open(cfg.audit_dir, load_or_create_key(cfg.audit_dir))
        link = Link(cfg.site, protocol_map, url, f"edgeloop-agent-{cfg.site}", will)
        async with open_protocol(protocol, link) as client:
            agent = SiteAgent(cfg, client, store, learner or make_learner(cfg), make_policy(cfg), books, audit)
            source = cfg.policy.read_text(encoding="utf-8") if cfg.policy else "(default policy from the settings)"
            agent.record_policy(source, "edgeloop", "agent started", agent.clock())
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
