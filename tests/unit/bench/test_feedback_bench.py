"""`edgeloop bench feedback`: how weeks are scored, and the command's JSON."""

from __future__ import annotations

import orjson
from typer.testing import CliRunner

from edgeloop.bench.backtest import DAY, START_TS
from edgeloop.bench.feedback import Week, targets_met, weekly
from edgeloop.cli import app


def fault(
    device: str, start_d: float, *, caught: bool, failed_d: float | None = None, kind: str = "bearing_wear"
) -> dict[str, object]:
    return {"device": device, "kind": kind, "developing": True, "start_ts": START_TS + start_d * DAY,
            "caught": caught, "failure_ts": None if failed_d is None else START_TS + failed_d * DAY,
            "cleared_ts": None}  # fmt: skip


def test_a_fault_still_developing_at_the_end_is_left_out_of_recall() -> None:
    truth = {"faults": [fault("p1", 1.0, caught=True), fault("p2", 2.0, caught=False, failed_d=2.3),
                        fault("p3", 6.99, caught=False)]}  # fmt: skip
    decisions = [{"device": "p1", "ts": START_TS + 1.1 * DAY}, {"device": "p9", "ts": START_TS + 3 * DAY}]

    (week,) = weekly(truth, decisions, 1)

    assert (week.alarms, week.false_alarms, week.precision) == (2, 1, 0.5)
    assert (week.developing_faults, week.caught_before_failure, week.censored, week.recall) == (3, 1, 1, 0.5)


def test_a_failure_with_no_precursor_counts_in_recall_all_only() -> None:
    truth = {"faults": [fault("p1", 1.0, caught=True), fault("p2", 2.0, caught=False, failed_d=2.4),
                        fault("p3", 3.0, caught=False, failed_d=3.0, kind="sudden_failure")]}  # fmt: skip

    (week,) = weekly(truth, [], 1)

    assert (week.developing_faults, week.no_precursor, week.censored) == (3, 1, 0)
    assert (week.recall, week.recall_all) == (0.5, 1 / 3)


def test_the_command_prints_weeks_and_what_was_learnt() -> None:
    """Without the control run, which doubles the time of a test already long (the control is the same back-test
    with the operator's feedback frozen; `edgeloop bench feedback` runs it by default)."""
    args = ["bench", "feedback", "--weeks", "2", "--devices", "10", "--json", "--no-control"]
    result = CliRunner().invoke(app, args)

    assert result.exit_code in (0, 1), result.output  # 1: targets missed, which 10 devices may well do
    doc = orjson.loads(result.stdout)
    assert len(doc["weeks"]) == 2
    assert "control" not in doc
    assert set(doc["learnt"]) == {"on_delay_s", "alarms_delayed", "alarms_lapsed"}
    assert doc["targets_met"] is (result.exit_code == 0)


def week(n: int, false_alarms: int, recall: float) -> Week:
    return Week(n, 20, false_alarms, 1 - false_alarms / 20, 10, int(recall * 10), 0, 0, recall, recall)


def test_the_false_alarm_target_is_half_of_week_one_or_none_when_week_one_had_none() -> None:
    assert targets_met([week(1, 4, 1.0), week(4, 2, 0.95)])
    assert not targets_met([week(1, 7, 1.0), week(4, 4, 0.95)])  # 43% fewer
    assert targets_met([week(1, 0, 1.0), week(4, 0, 0.95)])
    assert not targets_met([week(1, 0, 1.0), week(4, 1, 0.95)])
    assert not targets_met([week(1, 6, 1.0), week(4, 0, 0.85)])  # recall below 90%
