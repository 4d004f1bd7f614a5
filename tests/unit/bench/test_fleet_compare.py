"""`bench fleet`'s comparison of two runs: what each run draws afresh (ids, wall-clock times, the order entries were
booked in) is left out, and anything the agents decided or booked differently is counted per site."""

from __future__ import annotations

import copy
from typing import Any

from edgeloop.bench.scale_fleet import FleetRun, decided_alike, differences, stable_entries

DECISION = {"id": "d1", "at": 100.0, "device": "pump-001", "ts": 50.0, "status": "sent", "score": 0.99,
            "action": {"id": "c1", "decision": "d1", "name": "stop", "args": {}}}  # fmt: skip
ENTRY = {"seq": 1, "device": "pump-001", "ts": 60.0, "kind": "failure", "rule": "F1", "amount": "-100.00",
         "decision": "d1", "arm": "treated"}  # fmt: skip


def run_of(decisions: list[dict[str, Any]], entries: list[dict[str, Any]]) -> FleetRun:
    run = FleetRun("test")
    run.records["s"] = {"decisions": decisions, "entries": entries, "holdout": {"seed": 0}, "days": [1]}
    return run


def fresh_ids(decision: dict[str, Any], entry: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The same decision and entry as another run records them: other uuids, another wall clock, another seq."""
    d = copy.deepcopy(decision) | {"id": "d2", "at": 999.0}
    d["action"] |= {"id": "c2", "decision": "d2"}
    return d, entry | {"seq": 7, "decision": "d2"}


def test_the_same_decisions_and_entries_under_other_ids_and_wall_times_are_equal() -> None:
    d, e = fresh_ids(DECISION, ENTRY)

    assert differences(run_of([DECISION], [ENTRY]), run_of([d], [e])) == {}


def test_a_decision_taken_at_another_data_time_differs_and_so_does_the_entry_linked_to_it() -> None:
    d, e = fresh_ids(DECISION, ENTRY)
    d["ts"] = 51.0

    assert differences(run_of([DECISION], [ENTRY]), run_of([d], [e])) == {"s": {"decisions": 2, "entries": 2}}


def test_an_entry_booked_twice_or_with_another_amount_is_counted() -> None:
    d, e = fresh_ids(DECISION, ENTRY)

    assert differences(run_of([DECISION], [ENTRY]), run_of([d], [e, e | {"seq": 8}])) == {"s": {"entries": 1}}
    assert differences(run_of([DECISION], [ENTRY]), run_of([d], [e | {"amount": "-99.00"}])) == {"s": {"entries": 2}}


def test_a_site_missing_from_one_run_is_named() -> None:
    assert differences(run_of([DECISION], [ENTRY]), FleetRun("empty")) == {"s": {"missing_site": 1}}


def test_an_entry_names_its_decision_by_device_and_data_time() -> None:
    assert stable_entries([ENTRY], [DECISION])[0]["decision"] == "pump-001@50.0"
    assert "seq" not in stable_entries([ENTRY], [DECISION])[0]


def test_the_same_decision_with_another_score_is_decided_alike_and_counted_apart() -> None:
    """Readings that came late are not learnt: the scores that follow differ in their last digits."""
    d, e = fresh_ids(DECISION, ENTRY)
    d["score"] = 0.9901

    diff = differences(run_of([DECISION], [ENTRY]), run_of([d], [e]))

    assert diff == {"s": {"scores": 1}}
    assert decided_alike(diff)
    assert not decided_alike({"s": {"scores": 1, "entries": 2}})
