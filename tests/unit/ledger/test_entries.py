"""Entries: exact money, append-only sequence, JSON round trip."""

from __future__ import annotations

from decimal import Decimal

from edgeloop.ledger import Arm, Draft, Entry, EntryKind, Ledger


def test_amounts_are_rounded_to_the_cent_and_sum_exactly() -> None:
    ledger = Ledger()
    for _ in range(10):
        ledger.append(Draft("p1", "pump", Arm.TREATED, 0.0, EntryKind.ENERGY, Decimal("0.1"), "E1"))

    assert ledger.total() == Decimal("1.00")


def test_entry_round_trips_through_json() -> None:
    entry = Ledger().append(
        Draft("p1", "pump", Arm.HOLDOUT, 5.0, EntryKind.FAILURE, Decimal("-12.345"), "F1", "d1", "o1", "stop", 2.0)
    )

    assert Entry.from_json(entry.to_json()) == entry
    assert entry.to_json()["amount"] == "-12.34"
