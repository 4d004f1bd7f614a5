"""When a late reading is not put in its place (`agent/rewind.py`): it came later than the window of the learner's
copies, its device was re-based since the copy, or the learner keeps state that is not per series. It is then
stored unscored and not learnt, as before; nothing is lost."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import orjson
import pytest

from edgeloop.agent import rewind
from edgeloop.agent.ledger_writer import LedgerWriter
from edgeloop.agent.service import make_learner, make_policy
from edgeloop.agent.site import SiteAgent
from edgeloop.io.loopback import Loopback
from edgeloop.io.store import SqliteStore
from edgeloop.settings import load_settings

T0 = 1_700_006_400.0
META = {"device": "pump-0", "asset_type": "pump", "commands": {},
        "metrics": {"flow": {"unit": "m3/h", "low": 0, "high": 300}}}  # fmt: skip


class Site:
    """One pump's agent on a clock the test moves: 30 s a batch of 20 readings, one every 15 s of data time."""

    def __init__(self, data_dir: Path, learner: str = "ewma_noise", window_s: float = 600.0) -> None:
        settings = load_settings(None, agent={"site": "s1", "data_dir": data_dir, "learner": learner,
                                              "late_window_s": window_s})  # fmt: skip
        self.now = T0 + 1e6
        self.link = Loopback()
        store = SqliteStore(settings.agent.db_path, "s1")
        self.agent = SiteAgent(settings.agent, self.link, store, make_learner(settings.agent),
                               make_policy(settings.agent), LedgerWriter.open(store, settings.ledger),
                               clock=lambda: self.now)  # fmt: skip
        self.link.deliver("edgeloop/v1/s1/pump-0/meta", orjson.dumps(META), retain=True)
        self.agent.handle_batch(self.link.drain(10))
        self.rng = np.random.default_rng(0)

    def send(self, steps: range) -> None:
        for step in steps:
            body = {"ts": T0 + 15 * step, "metrics": {"flow": 80 + self.rng.standard_normal()}}
            self.link.deliver("edgeloop/v1/s1/pump-0/telemetry", orjson.dumps(body))
            if step % 20 == 19:
                self.agent.handle_batch(self.link.drain(1000))
                self.now += 30.0
        self.agent.handle_batch(self.link.drain(1000))

    def with_a_gap(self) -> Site:
        """Steps 0-99, then 120-199: steps 100-119 come late, if at all."""
        self.send(range(0, 100))
        self.send(range(120, 200))
        return self

    def late_score(self, step: int) -> float:
        self.agent.store.flush()
        ts, _, scores = self.agent.store.read_series("pump-0", "flow", T0 + 15 * step, T0 + 15 * step)
        assert ts.shape == (1,)
        return float(scores[0])


def test_a_late_reading_within_the_window_is_put_in_place(tmp_path: Path) -> None:
    site = Site(tmp_path)
    site.with_a_gap()
    site.send(range(100, 101))  # 100 steps late, some 2 minutes of the agent's clock

    assert site.agent.stats.late_readings == site.agent.stats.late_placed == 1
    assert np.isfinite(site.late_score(100))


def test_a_reading_later_than_the_window_is_stored_and_not_learnt(tmp_path: Path) -> None:
    site = Site(tmp_path, window_s=120.0)  # a copy every 30 s, each batch
    site.send(range(0, 100))
    site.send(range(120, 400))  # 14 batches: 7 minutes of the agent's clock
    site.send(range(100, 101))

    assert site.agent.stats.late_readings == 1
    assert site.agent.stats.late_placed == 0
    assert np.isnan(site.late_score(100))
    assert len(site.agent.rewind.snapshots) <= 5


def test_a_device_re_based_since_the_copy_is_not_put_back(tmp_path: Path) -> None:
    site = Site(tmp_path, learner="ewma_noise_timed_spot")
    site.with_a_gap()
    site.agent.outcomes.rebase("pump-0", "new_normal", site.now)  # learning again would not repeat it
    site.send(range(100, 101))

    assert site.agent.stats.late_readings == 1
    assert site.agent.stats.late_placed == 0
    assert np.isnan(site.late_score(100))


def test_a_learner_with_state_per_device_keeps_no_copies_and_does_not_go_back(tmp_path: Path) -> None:
    site = Site(tmp_path, learner="device_pca")
    site.with_a_gap()
    site.send(range(100, 101))

    assert site.agent.stats.late_readings == 1
    assert site.agent.stats.late_placed == 0
    assert np.isnan(site.late_score(100))
    assert site.agent.rewind.snapshots == []


def test_late_readings_past_the_budget_of_points_to_learn_again_are_stored_and_not_learnt(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(rewind, "RELEARN_PER_MINUTE", 250)  # each needs some 180 points learnt again
    site = Site(tmp_path)
    site.with_a_gap()
    site.send(range(100, 101))
    site.send(range(101, 102))

    assert site.agent.stats.late_readings == 2
    assert site.agent.stats.late_placed == 1
    assert np.isfinite(site.late_score(100))
    assert np.isnan(site.late_score(101))


def test_a_reading_from_before_a_repair_that_comes_after_it_is_not_learnt_by_the_fresh_series(tmp_path: Path) -> None:
    site = Site(tmp_path)
    site.send(range(0, 100))
    repair = {"kind": "repaired", "reason": "failure", "ts": T0 + 15 * 100}
    site.link.deliver("edgeloop/v1/s1/pump-0/event", orjson.dumps(repair))
    site.agent.handle_batch(site.link.drain(10))
    late = {"ts": T0 + 15 * 99 + 7, "metrics": {"flow": 80.0}}  # sent before the repair, come after it
    site.link.deliver("edgeloop/v1/s1/pump-0/telemetry", orjson.dumps(late))
    site.agent.handle_batch(site.link.drain(10))

    assert site.agent.stats.late_readings == 1
    assert site.agent.stats.late_placed == 0  # no copy knows the fresh series
    site.agent.store.flush()
    ts, _, scores = site.agent.store.read_series("pump-0", "flow", T0 + 15 * 99 + 7, T0 + 15 * 99 + 7)
    assert ts.shape == (1,)
    assert np.isnan(scores[0])
    site.link.deliver("edgeloop/v1/s1/pump-0/telemetry", orjson.dumps(late), dup=True)  # it comes again
    site.agent.handle_batch(site.link.drain(10))
    assert site.agent.stats.repeats_dropped == 1


def repair(site: Site, step: int) -> None:
    event = {"kind": "repaired", "reason": "failure", "ts": T0 + 15 * step}
    site.link.deliver("edgeloop/v1/s1/pump-0/event", orjson.dumps(event))
    site.agent.handle_batch(site.link.drain(10))


@pytest.mark.parametrize("learner", ["ewma_noise", "ewma_noise_timed_spot"])
def test_a_repair_that_comes_after_the_readings_that_followed_it_has_the_fresh_series_learn_them(
    tmp_path: Path, learner: str
) -> None:
    """The old series learnt steps 100-119 before the repair at step 100 came; the fresh series learn them then,
    and from there the pump scores as it does where the repair came in its place."""
    in_order, late = Site(tmp_path / "in-order", learner), Site(tmp_path / "late", learner)
    in_order.send(range(0, 100))
    repair(in_order, 100)
    in_order.send(range(100, 200))
    late.send(range(0, 100))
    late.send(range(100, 120))
    repair(late, 100)
    late.send(range(120, 200))

    scores = []
    for site in (in_order, late):
        site.agent.store.flush()
        scores.append(site.agent.store.read_series("pump-0", "flow", T0 + 15 * 120)[2])
    assert scores[0].shape == scores[1].shape == (80,)
    np.testing.assert_allclose(scores[1], scores[0], rtol=0, atol=1e-9)
