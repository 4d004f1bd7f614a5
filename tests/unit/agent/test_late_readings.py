"""Readings that come late (after newer readings of their device: a device that sends again what its broker had
not acknowledged, after reconnecting) are stored, counted and not learnt, so they do not move the learners: the
agent decides what it decides on the same readings in order. Learnt an hour late, each would have made the next
reading look like an hour's change in one step, and the devices alarmed together."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

from edgeloop.agent.ledger_writer import LedgerWriter
from edgeloop.agent.service import make_learner, make_policy
from edgeloop.agent.site import SiteAgent
from edgeloop.bench.scale_fleet import PlantLoad
from edgeloop.io.loopback import Loopback
from edgeloop.io.store import SqliteStore
from edgeloop.settings import load_settings

SITE = "late"
#: a site's plant, 6 h at a step a minute: 50 devices, faults from the second hour
LOAD = PlantLoad("loopback", SITE, 50, seed=1, hours=6.0)


def decide(tmp_path: Path, messages: list[tuple[str, bytes]]) -> tuple[list[tuple[str, float]], SiteAgent]:
    settings = load_settings(None, agent={"site": SITE, "autonomy": 3, "data_dir": tmp_path})
    cfg = settings.agent
    cfg.site_dir.mkdir(parents=True, exist_ok=True)
    store = SqliteStore(cfg.db_path, SITE)
    agent = SiteAgent(cfg, Loopback(), store, make_learner(cfg), make_policy(cfg),
                      LedgerWriter.open(store, settings.ledger), clock=lambda: 1.8e9)  # fmt: skip
    link = agent.client
    assert isinstance(link, Loopback)
    for meta in LOAD.plant().metas():
        link.deliver(f"edgeloop/v1/{SITE}/{meta.device}/meta", orjson.dumps(meta.to_json()), retain=True)
    agent.handle_batch(link.drain(1000))
    for i in range(0, len(messages), 200):
        for topic, payload in messages[i : i + 200]:
            link.deliver(topic, payload)
        agent.handle_batch(link.drain(1000))
    agent.store.flush()
    decided = sorted((d["device"], d["ts"]) for d in agent.store.read_decisions())
    return decided, agent


def series(agent: SiteAgent, device: str) -> Any:
    return agent.store.read_series(device, "current")


def test_a_block_of_readings_an_hour_late_is_stored_and_leaves_the_decisions_as_they_were(tmp_path: Path) -> None:
    messages = list(LOAD.messages())
    k, w, d = 10_900, 400, 3_000  # eight steps of every device, delivered an hour (60 steps) late
    moved = messages[:k] + messages[k + w : k + w + d] + messages[k : k + w] + messages[k + w + d :]

    in_order, one = decide(tmp_path / "in-order", messages)
    late, other = decide(tmp_path / "late", moved)

    assert len(in_order) >= 5  # something to compare
    assert late == in_order
    assert other.stats.late_readings > 300  # the block's telemetry (a few of its messages are events)
    assert one.stats.late_readings == 0
    assert other.stats.points == one.stats.points  # counted as taken
    ts_one, values_one = series(one, "motor-002")[:2]
    ts_other, values_other = series(other, "motor-002")[:2]
    assert sorted(ts_other.tolist()) == sorted(ts_one.tolist())  # stored, nothing lost
    assert sorted(values_other.tolist()) == sorted(values_one.tolist())
    one.store.close()
    other.store.close()
