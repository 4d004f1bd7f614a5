"""Wiring one site agent to its broker, store, learner and policy, and running it until told to stop."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from collections.abc import AsyncIterator, Callable, Iterator

import orjson

from edgeloop.agent.books import SiteBooks
from edgeloop.agent.site import SiteAgent
from edgeloop.agent.stats import AgentStats
from edgeloop.audit import AuditLog, load_or_create_key
from edgeloop.io.broker import EmbeddedBroker
from edgeloop.io.mqtt import MqttClient, Will
from edgeloop.io.store import SqliteStore
from edgeloop.io.topics import agent_topic
from edgeloop.learn import Learner
from edgeloop.learn.catalog import agent_learner
from edgeloop.policy import PolicyEngine, Rule, When, load_policy
from edgeloop.settings import AgentSettings, Settings


def make_learner(cfg: AgentSettings | None = None) -> Learner:
    """The learner the settings name (`agent.learner`, as `edgeloop.learn.catalog.agent_learner` reads it)."""
    return agent_learner(AgentSettings().learner if cfg is None else cfg.learner)


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
async def open_agent(settings: Settings, url: str, learner: Learner | None = None) -> AsyncIterator[SiteAgent]:
    """A connected site agent with its store open; closes both on exit."""
    cfg = settings.agent
    store = SqliteStore(cfg.db_path, cfg.site)
    will = Will(agent_topic(cfg.site, "state"), b"offline")
    audit: AuditLog | None = None
    try:
        books = SiteBooks.open(store, settings.ledger)
        audit = AuditLog.open(cfg.audit_dir, load_or_create_key(cfg.audit_dir))
        async with MqttClient(url, f"edgeloop-agent-{cfg.site}", will=will) as client:
            agent = SiteAgent(cfg, client, store, learner or make_learner(cfg), make_policy(cfg), books, audit)
            source = cfg.policy.read_text(encoding="utf-8") if cfg.policy else "(default policy from the settings)"
            agent.record_policy(source, "edgeloop", "agent started", time.time())
            yield agent
    finally:
        if audit is not None:
            audit.close()
        await asyncio.to_thread(store.close)


def stop_on_signals(stop: asyncio.Event) -> None:
    """SIGINT and SIGTERM end the loop cleanly (drain, flush, publish offline)."""
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)


def publish_stats(agent: SiteAgent) -> None:
    """The agent's counters on `edgeloop/v1/{site}/_agent/stats` (not retained): what a fleet view shows."""
    if getattr(agent.client, "connected", False):  # never queued: an outage's outbox is for decisions
        doc = {"site": agent.site, "ts": time.time(), "devices": len(agent.registry), **agent.stats.as_dict()}
        agent.client.publish(agent_topic(agent.site, "stats"), orjson.dumps(doc), qos=0)


async def run_agent(
    settings: Settings,
    url: str,
    stop: asyncio.Event,
    on_tick: Callable[[SiteAgent], None] | None = None,
    tick_s: float = 1.0,
) -> AgentStats:
    async with open_agent(settings, url) as agent:
        sharing = None
        if settings.fleet.share_knowledge:  # the fleet part, wired here where the process is composed
            from edgeloop.fleet.share import share_site_knowledge

            key = load_or_create_key(settings.agent.audit_dir)
            sharing = asyncio.create_task(share_site_knowledge(agent, url, settings.fleet, key, stop))
        task = asyncio.create_task(agent.run(stop))
        while not task.done():
            await asyncio.wait({task}, timeout=tick_s)
            publish_stats(agent)
            if on_tick is not None:
                on_tick(agent)
        if sharing is not None:
            await sharing
        return task.result()
