"""Model selection: event-wise scoring, the choice per asset type, and replaying labelled data."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from edgeloop.bench.eventscore import Event, Unit, alarm_times, score
from edgeloop.bench.nab.corpus import Corpus, DataFile
from edgeloop.bench.recording import read_factory, read_nab
from edgeloop.bench.select import THRESHOLDS, best_of
from edgeloop.learn import Learner, RobustEWMA
from edgeloop.learn.base import FloatArray, IntArray
from edgeloop.learn.selection import Candidate, choose
from edgeloop.sim.factory import FactoryPlant
from edgeloop.sim.record import START_TS, record_factory


class Blind(Learner):
    """Never alarms: the obviously worse candidate."""

    name = "blind"

    def score_learn(self, keys: IntArray, values: FloatArray, ts: FloatArray) -> FloatArray:
        return np.zeros(keys.shape[0])

    @property
    def n_series(self) -> int:
        return 0


def spiky_corpus() -> Corpus:
    """Four files of noise, each with two labelled level jumps."""
    rng = np.random.default_rng(0)
    files = []
    for i in range(4):
        x = rng.normal(10, 1, 2000)
        windows = [(900, 960), (1500, 1560)]
        for a, b in windows:
            x[a + 10 : b] += 12
        files.append(DataFile.build(f"plant{i % 2}/s{i}.csv", x, windows))
    return Corpus(files=tuple(files), profiles={})


def test_a_learner_that_sees_the_faults_beats_one_that_does_not() -> None:
    replay = read_nab(spiky_corpus())
    evidence: dict[str, list[Candidate]] = {}
    for name, learner in (("robust_ewma", RobustEWMA()), ("blind", Blind())):
        units = replay.score_with(learner)
        for asset_type in ("plant0", "plant1"):
            mine = [u for u in units if u.asset_type == asset_type]
            evidence.setdefault(asset_type, []).append(best_of(mine, name, THRESHOLDS, [1, 2], 3600.0))
    selection = choose(evidence, "synthetic", made="2026-01-01", scoring="event-wise")
    assert set(selection.asset_types) == {"plant0", "plant1"}
    for choice in selection.asset_types.values():
        assert choice.learner == "robust_ewma"
        assert choice.evidence[0].recall == 1.0
        assert choice.evidence[1].learner == "blind"
        assert choice.evidence[1].f1 == 0.0
        assert choice.runners_up == ["blind"]


def test_an_alarm_outside_every_event_is_false_and_a_second_on_one_fault_is_ignored() -> None:
    ts = np.arange(20.0)
    scores = np.zeros(20)
    scores[[3, 8, 15]] = 0.99
    unit = Unit("pump", ts, scores, [Event(2.0, 10.0, 5.0)])
    tally = score([unit], 0.9, 1, 0.0)
    assert (tally.alarms, tally.false_alarms, tally.redundant, tally.caught) == (2, 1, 1, 1)
    assert tally.precision == 0.5


def test_an_alarm_after_the_deadline_is_true_but_does_not_catch() -> None:
    unit = Unit("pump", np.arange(10.0), np.where(np.arange(10) == 7, 1.0, 0.0), [Event(2.0, 9.0, 5.0)])
    tally = score([unit], 0.9, 1, 0.0)
    assert (tally.false_alarms, tally.caught, tally.recall) == (0, 0, 0.0)


def test_cooldown_and_sustain_follow_the_agents_rule() -> None:
    hot = np.array([1, 1, 1, 1, 1, 1, 0, 1, 1], dtype=bool)
    assert alarm_times(np.arange(9.0) * 10, hot, 2, 25.0) == [10.0, 40.0, 80.0]


def test_a_factory_recording_replays_with_new_keys_after_each_restart(tmp_path: Path) -> None:
    plant = FactoryPlant(4, 3, START_TS, 120.0, faults_per_device_day=6.0)
    truth = record_factory(plant, 2160, tmp_path)
    replay = read_factory(tmp_path, settle_s=7200.0, lead_s=1800.0)
    assert [u.asset_type for u in replay.units] == ["pump", "motor", "pump", "motor"]
    assert replay.n_points == sum(u.ts.shape[0] * (6 if u.asset_type == "pump" else 4) for u in replay.units)
    lives = {u: 1 for u in ("pump-001", "motor-002", "pump-003", "motor-004")}
    for line in (tmp_path / "events.jsonl").read_text().splitlines():
        event = json.loads(line)
        if event["kind"] in ("repaired", "started"):
            lives[event["device"]] += 1
    assert max(lives.values()) > 1  # the case under test: a device that failed and came back
    # every life has keys of its own (a life cut short by the recording's end, or by a failure with no warning
    # right after a repair, may hold no data: its keys stay unused)
    assert replay.groups.shape[0] == sum(n * (6 if d.startswith("pump") else 4) for d, n in lives.items())
    assert int(replay.keys.max()) < replay.groups.shape[0]
    developing = sum(1 for f in truth["faults"] if f["developing"])
    assert sum(1 for u in replay.units for e in u.events if e.deadline is not None) == developing
    assert np.all(np.diff(replay.ts) >= 0)
