"""Wiring one site agent to its broker, store, learner and policy, and running it until told to stop."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import AsyncIterator, Callable, Iterator

from edgeloop.agent.site import SiteAgent
from edgeloop.agent.stats import AgentStats
from edgeloop.io.broker import EmbeddedBroker
from edgeloop.io.mqtt import MqttClient, Will
from edgeloop.io.store import SqliteStore
from edgeloop.io.topics import agent_topic
from edgeloop.learn import Learner, RobustEWMA
from edgeloop.policy import SitePolicy
from edgeloop.settings import Settings


def make_learner() -> Learner:
    """The learner the agent uses by default."""
    return RobustEWMA()


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
    try:
        async with MqttClient(url, f"edgeloop-agent-{cfg.site}", will=will) as client:
            policy = SitePolicy(cfg.autonomy, cfg.action, cfg.action_args)
            yield SiteAgent(cfg, client, store, learner or make_learner(), policy)
    finally:
        await asyncio.to_thread(store.close)


def stop_on_signals(stop: asyncio.Event) -> None:
    """SIGINT and SIGTERM end the loop cleanly (drain, flush, publish offline)."""
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)


async def run_agent(
    settings: Settings,
    url: str,
    stop: asyncio.Event,
    on_tick: Callable[[SiteAgent], None] | None = None,
    tick_s: float = 1.0,
) -> AgentStats:
    async with open_agent(settings, url) as agent:
        task = asyncio.create_task(agent.run(stop))
        while not task.done():
            await asyncio.wait({task}, timeout=tick_s)
            if on_tick is not None:
                on_tick(agent)
        return task.result()
