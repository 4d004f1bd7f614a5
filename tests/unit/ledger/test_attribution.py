"""Attribution: one test per rule, linking, and the live path giving the replayed entries."""

from __future__ import annotations

from decimal import Decimal

import pytest
from tests.unit.ledger.builders import H, decision, outcome

from edgeloop.ledger import Arm, Attribution, EntryKind, HoldoutRecord, SiteEconomics, Usage, attribute
from edgeloop.model import Decision, DecisionStatus


@pytest.fixture
def books(economics: SiteEconomics, holdout: HoldoutRecord) -> Attribution:
    return Attribution(economics, holdout)


def test_f1_failure_books_repair_plus_downtime(books: Attribution) -> None:
    (entry,) = books.on_outcome(outcome("p1", 100.0, "failure", downtime_s=5 * H))

    assert (entry.kind, entry.rule, entry.amount, entry.quantity) == (EntryKind.FAILURE, "F1", Decimal(-13000), 5.0)
    assert entry.decision is None


def test_f1_failure_without_downtime_uses_the_typical_downtime(books: Attribution) -> None:
    (entry,) = books.on_outcome(outcome("m1", 100.0, "failure"))

    assert entry.amount == Decimal(-(5000 + 10 * 500))


def test_f1_failure_links_the_decision_in_the_window(books: Attribution) -> None:
    books.on_decision(decision("p1", 0.0, name="reduce_speed"))
    books.on_decision(decision("p1", 30 * H))

    (entry,) = books.on_outcome(outcome("p1", 40 * H, "failure", downtime_s=H))

    assert (entry.decision, entry.action) == ("d-p1-108000.0", "schedule_maintenance")


def test_f1_failure_after_the_window_links_nothing(books: Attribution) -> None:
    books.on_decision(decision("p1", 0.0))

    (entry,) = books.on_outcome(outcome("p1", 25 * H, "failure", downtime_s=H))

    assert (entry.decision, entry.action) == (None, None)


def test_m1_found_failure_mode_books_avoided_failure_and_maintenance(books: Attribution) -> None:
    books.on_decision(decision("p1", 0.0))

    avoided, cost = books.on_outcome(outcome("p1", H, "maintenance_started", "d-p1-0.0", found="bearing_wear"))

    assert (avoided.kind, avoided.rule, avoided.amount) == (EntryKind.AVOIDED_FAILURE, "M1", Decimal(24000))
    assert (cost.kind, cost.rule, cost.amount) == (EntryKind.MAINTENANCE, "M1", Decimal(-1500))
    assert avoided.decision == cost.decision == "d-p1-0.0"
    assert avoided.outcome == cost.outcome == f"maintenance_started/p1/{H:.3f}"


def test_m2_found_a_sensor_fault_books_maintenance_only(books: Attribution) -> None:
    books.on_decision(decision("p1", 0.0))

    (entry,) = books.on_outcome(outcome("p1", H, "maintenance_started", found="stuck"))

    assert (entry.kind, entry.rule, entry.amount) == (EntryKind.MAINTENANCE, "M2", Decimal(-1500))


def test_m3_found_nothing_after_an_agent_decision_is_a_false_alarm(books: Attribution) -> None:
    books.on_decision(decision("p1", 0.0))

    cost, alarm = books.on_outcome(outcome("p1", H, "maintenance_started", found=None))

    assert (cost.rule, cost.amount) == ("M3", Decimal(-1500))
    assert (alarm.kind, alarm.rule, alarm.amount, alarm.decision) == (
        EntryKind.FALSE_ALARM, "M3", Decimal(-300), "d-p1-0.0"
    )  # fmt: skip


def test_m3_routine_maintenance_without_decision_is_no_false_alarm(books: Attribution) -> None:
    (cost,) = books.on_outcome(outcome("p1", H, "maintenance_started", found=None))

    assert cost.kind is EntryKind.MAINTENANCE


def test_m3_held_out_decision_causes_no_false_alarm(books: Attribution) -> None:
    books.on_decision(decision("p2", 0.0, DecisionStatus.HELD_OUT))

    (cost,) = books.on_outcome(outcome("p2", H, "maintenance_started", found=None))

    assert (cost.kind, cost.arm) == (EntryKind.MAINTENANCE, Arm.HOLDOUT)


def test_maintenance_is_booked_once_from_start_and_repaired(books: Attribution) -> None:
    first = books.on_outcome(outcome("p1", H, "maintenance_started", found="stuck"))
    second = books.on_outcome(outcome("p1", 2 * H, "repaired", reason="maintenance", found="stuck"))

    assert (len(first), second) == (1, [])


def test_maintenance_is_booked_at_repaired_when_its_start_was_not_seen(books: Attribution) -> None:
    entries = books.on_outcome(outcome("p1", 2 * H, "repaired", reason="maintenance", found="cavitation"))

    assert [e.kind for e in entries] == [EntryKind.AVOIDED_FAILURE, EntryKind.MAINTENANCE]


def test_repaired_after_a_failure_books_nothing(books: Attribution) -> None:
    books.on_outcome(outcome("p1", H, "failure", downtime_s=H))

    assert books.on_outcome(outcome("p1", 2 * H, "repaired", found=None)) == []


def test_i1_inspection_books_its_cost(books: Attribution) -> None:
    (entry,) = books.on_outcome(outcome("m1", H, "inspection", found="bearing_wear"))

    assert (entry.kind, entry.rule, entry.amount) == (EntryKind.INSPECTION, "I1", Decimal(-100))


def test_i2_inspection_finding_nothing_after_a_recommendation_is_a_false_alarm(books: Attribution) -> None:
    books.on_decision(decision("m1", 0.0, DecisionStatus.RECOMMENDED, name="inspect"))

    entries = books.on_outcome(outcome("m1", H, "inspection", found=None))

    assert [(e.rule, e.amount) for e in entries] == [("I1", Decimal(-100)), ("I2", Decimal(-200))]


def test_e1_energy_is_booked_per_device_day(books: Attribution) -> None:
    (entry,) = books.on_usage(Usage("p1", day=19_000, energy_kwh=812.5))

    assert (entry.kind, entry.rule, entry.amount, entry.ts) == (
        EntryKind.ENERGY, "E1", Decimal("-162.50"), 19_000 * 86_400.0
    )  # fmt: skip


def test_s1_slowdown_books_lost_production_against_its_decision(books: Attribution) -> None:
    _, slow = books.on_usage(Usage("p1", day=19_000, energy_kwh=1.0, slowdown_h=1.5, decision="d-7"))

    assert (slow.kind, slow.amount, slow.decision, slow.action) == (
        EntryKind.SLOWDOWN, Decimal(-1500), "d-7", "reduce_speed"
    )  # fmt: skip


@pytest.mark.parametrize("status", ["done", "rejected", "timeout"])
def test_acks_book_nothing(books: Attribution, status: str) -> None:
    assert books.on_outcome(outcome("p1", H, "ack", status=status)) == []


def test_holdout_failure_is_booked_to_the_holdout_with_what_was_not_sent(books: Attribution) -> None:
    books.on_decision(decision("p2", 0.0, DecisionStatus.HELD_OUT))

    (entry,) = books.on_outcome(outcome("p2", H, "failure", downtime_s=H))

    assert (entry.arm, entry.decision, entry.action) == (Arm.HOLDOUT, "d-p2-0.0", "schedule_maintenance")
    assert "held out" in entry.note


def test_unassigned_device_is_refused(books: Attribution) -> None:
    with pytest.raises(ValueError, match="no holdout assignment"):
        books.on_outcome(outcome("x9", H, "failure"))


def test_live_booking_equals_replay(economics: SiteEconomics, holdout: HoldoutRecord) -> None:
    decisions = [decision("p1", 0.0), decision("p2", 0.0, DecisionStatus.HELD_OUT), decision("m1", 5 * H)]
    outcomes = [
        outcome("p1", H, "maintenance_started", found="bearing_wear"),
        outcome("p1", 2 * H, "repaired", reason="maintenance", found="bearing_wear"),
        outcome("p2", 3 * H, "failure", downtime_s=9 * H),
        outcome("p2", 12 * H, "repaired", reason="failure"),
        outcome("m1", 6 * H, "maintenance_started", found=None),
    ]
    live = Attribution(economics, holdout)
    booked = []
    for event in sorted([*decisions, *outcomes], key=lambda e: (e.ts, type(e).__name__ != "Decision")):
        booked += live.on_decision(event) if isinstance(event, Decision) else live.on_outcome(event)

    assert booked == attribute(economics, holdout, reversed(decisions), reversed(outcomes))
