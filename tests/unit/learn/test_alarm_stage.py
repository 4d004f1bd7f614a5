"""The alarm stage with plain arrays: no broker, no store, no event loop."""

from __future__ import annotations

import copy
import pickle

import numpy as np

from edgeloop.learn.alarm import Alarm, AlarmStage, Note
from edgeloop.learn.alarm.watches import Doubt

KEYS = {"vibration": 0, "temp": 1}


def stage(**kw: float) -> AlarmStage:
    s = AlarmStage(threshold=0.9, sustain=int(kw.pop("sustain", 2)), cooldown_s=kw.pop("cooldown_s", 600.0), **kw)
    s.on_device(0, "p1", "pump", KEYS)
    return s


def batch(scores: list[tuple[float, float]], t0: float = 0.0, step: float = 15.0) -> tuple[np.ndarray, ...]:
    """Samples of device 0, two metrics each: (device, ts, start, series, scores)."""
    n = len(scores)
    return (
        np.zeros(n, dtype=np.int64),
        t0 + step * np.arange(n, dtype=np.float64),
        2 * np.arange(n, dtype=np.int64),
        np.tile(np.array([0, 1], dtype=np.int64), n),
        np.array(scores, dtype=np.float64).ravel(),
    )


def alarms(events: list[Alarm | Note]) -> list[Alarm]:
    return [e for e in events if isinstance(e, Alarm)]


def test_a_sustained_run_alarms_once_at_the_sample_that_completes_it() -> None:
    s = stage(sustain=3)

    result = s.on_batch(*batch([(0.95, 0.1), (0.97, 0.1), (0.99, 0.2), (0.99, 0.2)]))

    assert [(a.ts, a.score) for a in alarms(result.events)] == [(30.0, 0.99)]
    assert result.anomalous == 4


def test_an_interrupted_run_does_not_alarm() -> None:
    result = stage(sustain=2).on_batch(*batch([(0.95, 0.1), (0.5, 0.1), (0.97, 0.1), (0.2, 0.1)]))

    assert alarms(result.events) == []


def test_a_run_carries_over_from_one_batch_to_the_next() -> None:
    s = stage(sustain=2)

    first = s.on_batch(*batch([(0.1, 0.1), (0.95, 0.1)]))
    second = s.on_batch(*batch([(0.96, 0.1)], t0=30.0))

    assert alarms(first.events) == []
    assert [a.ts for a in alarms(second.events)] == [30.0]


def test_the_cooldown_holds_back_a_second_alarm_until_it_is_over() -> None:
    s = stage(sustain=1, cooldown_s=100.0)

    result = s.on_batch(*batch([(0.95, 0.1)] * 10))  # every 15 s

    assert [a.ts for a in alarms(result.events)] == [0.0, 105.0]


def test_a_device_that_is_down_or_settling_raises_nothing() -> None:
    s = stage(sustain=1)
    s.on_down(0, failed=True, found=False, ts=0.0)
    down = s.on_batch(*batch([(0.99, 0.99)] * 3))
    s.on_restart(0, ts=100.0, settle_s=200.0)
    settling = s.on_batch(*batch([(0.99, 0.1)] * 3, t0=150.0))
    settled = s.on_batch(*batch([(0.99, 0.1)], t0=300.0))

    assert alarms(down.events) == alarms(settling.events) == []
    assert [a.ts for a in alarms(settled.events)] == [300.0]


def test_a_class_that_learnt_an_on_delay_holds_its_next_alarm_and_raises_it_if_the_anomaly_outlasts_it() -> None:
    s = stage(sustain=1, cooldown_s=0.0)
    s.feedback.transient(Doubt("d0", "p1", "pump/vibration", 0.0), lasted=180.0)  # a glitch of 3 minutes
    wait = s.feedback.on_delay.delay("pump/vibration")

    result = s.on_batch(*batch([(0.99, 0.1)] * 30, t0=1000.0))  # 7.5 minutes of one metric anomalous

    kinds = [e.kind if isinstance(e, Note) else "alarm" for e in result.events]
    assert kinds[0] == "alarm_delayed"
    raised = alarms(result.events)
    assert raised[0].on_delay_s >= wait > 0.0


def test_a_true_fault_moves_the_thresholds_of_the_type_and_says_so() -> None:
    s = stage()
    s.on_device(1, "p2", "pump", {"vibration": 2})
    s.feedback.note_decision("d1", "p1", ts=0.0, key="pump/vibration", since=0.0)
    s.answered("d0", "p1", right=False, source="verdict", alarm=None)

    notes = s.answered("d1", "p1", right=True, source="verdict", alarm=s.feedback.alarm_of("d1"))

    assert [n.kind for n in notes] == ["feedback"]
    assert notes[0].body["alarm_was_right"] is True
    assert s.threshold_of(0) == s.threshold_of(1) == 0.9  # back where it was after the false alarm
    assert s.answered("d1", "p1", right=True, source="verdict", alarm=None) == []  # an answer counts once


def test_a_snapshot_restored_into_a_new_stage_goes_on_exactly_as_the_original() -> None:
    rng = np.random.default_rng(0)
    scores = [(float(a), float(b)) for a, b in rng.uniform(0.5, 1.0, size=(400, 2))]
    original = stage(sustain=2, cooldown_s=120.0)
    original.feedback.transient(Doubt("d0", "p1", "pump/temp", 0.0), lasted=60.0)
    original.on_batch(*batch(scores[:200]))
    state = pickle.loads(pickle.dumps(original.snapshot()))
    restored = AlarmStage(threshold=0.9, sustain=2, cooldown_s=120.0)

    restored.restore(state)
    going_on = original.on_batch(*batch(scores[200:], t0=3000.0))
    after_restore = restored.on_batch(*batch(scores[200:], t0=3000.0))

    assert after_restore.events == going_on.events
    assert restored.snapshot() == original.snapshot()


def test_one_batch_and_the_same_samples_split_in_two_raise_the_same_alarms() -> None:
    rng = np.random.default_rng(1)
    scores = [(float(a), float(b)) for a, b in rng.uniform(0.6, 1.0, size=(300, 2))]
    whole, halves = stage(sustain=3, cooldown_s=60.0), stage(sustain=3, cooldown_s=60.0)

    at_once = whole.on_batch(*batch(scores)).events
    split = halves.on_batch(*batch(scores[:137])).events + halves.on_batch(*batch(scores[137:], t0=137 * 15.0)).events

    assert at_once == split
    assert copy.deepcopy(whole.snapshot()) == halves.snapshot()
