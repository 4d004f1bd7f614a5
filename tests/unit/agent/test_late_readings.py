"""Readings that come late (after newer readings of their device: a device that sends again what its broker had
not acknowledged, after reconnecting) are put in their place (`agent/rewind.py`): the learner goes back to a copy
of itself from before them and learns again, so the agent decides what it decides on the same readings in order,
and once they came it scores as that run does. Learnt an hour late where they came, each would have made the next
reading look like an hour's change in one step, and the devices alarmed together."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from edgeloop.agent.ledger_writer import LedgerWriter
from edgeloop.agent.service import make_learner, make_policy
from edgeloop.agent.site import SiteAgent
from edgeloop.bench.scale_fleet import PlantLoad
from edgeloop.io.loopback import Loopback
from edgeloop.io.store import SqliteStore
from edgeloop.settings import load_settings

SITE = "late"
#: a site's plant, 8 h at a step a minute: 50 devices, faults from the second hour
LOAD = PlantLoad("loopback", SITE, 50, seed=1, hours=8.0)


def decide(
    tmp_path: Path, messages: list[tuple[str, bytes]], late_window_s: float = 600.0, learner: str = "ewma_noise"
) -> tuple[list[tuple[str, float]], SiteAgent]:
    settings = load_settings(None, agent={"site": SITE, "autonomy": 3, "data_dir": tmp_path, "learner": learner,
                                          "late_window_s": late_window_s})  # fmt: skip
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


K, W, D = 10_900, 400, 3_000  # eight steps of every device, delivered an hour (60 steps) late


def came_of(messages: list[tuple[str, bytes]]) -> float:
    """The data time the block came at: the newest of the readings delivered before it."""
    return max(float(orjson.loads(payload).get("ts", 0.0)) for _, payload in messages[K + W : K + W + D])


def moved(messages: list[tuple[str, bytes]]) -> list[tuple[str, bytes]]:
    return messages[:K] + messages[K + W : K + W + D] + messages[K : K + W] + messages[K + W + D :]


@pytest.mark.parametrize("learner", ["ewma_noise", "ewma_noise_timed_spot"])
def test_a_block_of_readings_an_hour_late_is_put_in_place_and_then_scored_as_in_order(
    tmp_path: Path, learner: str
) -> None:
    messages = list(LOAD.messages())
    in_order, one = decide(tmp_path / "in-order", messages, learner=learner)
    late, other = decide(tmp_path / "late", moved(messages), learner=learner)

    # a decision the run in order took on a reading of the block cannot be taken when the block comes an hour
    # later: the alarm stage does not go back (the calibrated learner alarms on one; the default does not)
    first = min(float(orjson.loads(payload).get("ts", 0.0)) for _, payload in messages[K : K + W])
    assert [d for d in late if not first <= d[1] <= came_of(messages)] == [
        d for d in in_order if not first <= d[1] <= came_of(messages)
    ]
    assert late == in_order or learner != "ewma_noise"
    assert other.stats.late_placed == other.stats.late_readings > 300  # every late reading put in place
    # the scores given once the block came equal those of the run in order (those given before it came, without
    # it, may not: the learner did not have it yet)
    came = came_of(messages)
    compared = 0
    for device, metric in sorted(set(one.store.read_series_names().values())):
        ts_one, _, scores_one = one.store.read_series(device, metric)
        ts_other, _, scores_other = other.store.read_series(device, metric)
        assert ts_one.tolist() == ts_other.tolist()
        after = ts_one > came
        compared += int(after.sum())
        assert not after.any() or abs(scores_one[after] - scores_other[after]).max() <= 1e-9, (device, metric)
    assert compared > 10_000
    one.store.close()
    other.store.close()


def test_without_copies_a_block_of_readings_an_hour_late_is_stored_and_not_learnt(tmp_path: Path) -> None:
    messages = list(LOAD.messages())
    in_order, one = decide(tmp_path / "in-order", messages, late_window_s=0)
    late, other = decide(tmp_path / "late", moved(messages), late_window_s=0)

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
