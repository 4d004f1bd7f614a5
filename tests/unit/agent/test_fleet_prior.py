"""The agent seeds the series of new and restarted devices from the fleet's prior, and settles them shorter."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path

import numpy as np
import orjson
import pytest

from edgeloop.agent.service import make_learner, make_policy
from edgeloop.agent.site import SiteAgent
from edgeloop.io.loopback import Loopback
from edgeloop.io.store import SqliteStore
from edgeloop.learn.prior import SeriesPrior, prior_part
from edgeloop.settings import load_settings

T0 = 1_700_006_400.0
META = {"device": "pump-1", "asset_type": "pump", "metrics": {"vibration": {"unit": "mm/s", "low": 0, "high": 50},
        "flow": {"unit": "m3/h", "low": 0, "high": 300}}, "commands": {}}  # fmt: skip


class StaticPrior:
    def __init__(self, priors: Mapping[str, SeriesPrior]) -> None:
        self._priors = priors

    def priors(self, asset_type: str) -> Mapping[str, SeriesPrior]:
        return self._priors if asset_type == "pump" else {}


@pytest.fixture
def site(tmp_path: Path) -> Iterator[tuple[SiteAgent, Loopback]]:
    settings = load_settings(None, agent={"site": "s1", "data_dir": tmp_path, "store_telemetry": False})
    store = SqliteStore(settings.agent.db_path, "s1")
    link = Loopback()
    agent = SiteAgent(settings.agent, link, store, make_learner(settings.agent), make_policy(settings.agent),
                      clock=lambda: T0 + 1e6)  # fmt: skip
    yield agent, link
    store.close()


def announce(agent: SiteAgent, link: Loopback) -> None:
    link.deliver("edgeloop/v1/s1/pump-1/meta", orjson.dumps(META), retain=True)
    agent.handle_batch(link.drain(10))


def points_seen(agent: SiteAgent) -> list[int]:
    learner = prior_part(agent.learner)
    assert learner is not None
    keys = agent.registry.devices["pump-1"].keys
    return learner.summarize(np.array([keys["vibration"], keys["flow"]], dtype=np.int64)).points.tolist()


def send(agent: SiteAgent, link: Loopback, i: int) -> None:
    link.deliver("edgeloop/v1/s1/pump-1/telemetry",
                 orjson.dumps({"ts": T0 + 15 * i, "metrics": {"vibration": 2.5, "flow": 80.0}}))  # fmt: skip
    agent.handle_batch(link.drain(10))


def test_a_new_device_starts_warm_on_the_metrics_the_prior_knows(site: tuple[SiteAgent, Loopback]) -> None:
    agent, link = site
    agent.devices.prior = StaticPrior({"vibration": SeriesPrior(2.4, 0.1, 0.04, False, 30)})
    announce(agent, link)

    send(agent, link, 0)

    vibration, flow = points_seen(agent)
    assert vibration >= 60  # warm: its level is its first point, its noise the fleet's
    assert flow == 1  # no prior for flow: it warms up as before


def test_a_prior_wider_than_the_metric_range_is_not_used(site: tuple[SiteAgent, Loopback]) -> None:
    agent, link = site
    agent.devices.prior = StaticPrior({"vibration": SeriesPrior(2.4, 500.0, 0.04, False, 30)})
    announce(agent, link)

    send(agent, link, 0)

    assert points_seen(agent) == [1, 1]


def test_a_restarted_device_is_seeded_and_settles_for_the_prior_settle(site: tuple[SiteAgent, Loopback]) -> None:
    agent, link = site
    announce(agent, link)
    for i in range(5):
        send(agent, link, i)
    agent.devices.prior = StaticPrior({"vibration": SeriesPrior(2.4, 0.1, 0.04, False, 30)})
    agent.devices.prior_settle_s = 600.0

    link.deliver("edgeloop/v1/s1/pump-1/event", orjson.dumps({"kind": "repaired", "ts": T0 + 100}))
    agent.handle_batch(link.drain(10))
    send(agent, link, 10)

    assert points_seen(agent)[0] >= 60
    assert agent.stage.settled_from(0) == T0 + 100 + 600.0


def test_without_a_prior_a_restart_settles_for_the_agent_settle(site: tuple[SiteAgent, Loopback]) -> None:
    agent, link = site
    announce(agent, link)
    agent.devices.prior_settle_s = 600.0

    link.deliver("edgeloop/v1/s1/pump-1/event", orjson.dumps({"kind": "repaired", "ts": T0 + 100}))
    agent.handle_batch(link.drain(10))

    assert agent.stage.settled_from(0) == T0 + 100 + agent.settings.settle_s
