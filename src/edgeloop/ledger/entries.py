"""Ledger entries: append-only, exact money, each linking the decision and the outcome it books.

An entry's `amount` is signed from the site's point of view: a cost is negative, value gained is positive.
Entries are never changed or removed; a correction is a new entry.

>>> ledger = Ledger()
>>> e = ledger.append(Draft("pump-1", "pump", Arm.TREATED, 3600.0, EntryKind.MAINTENANCE, money(-1500), "R2"))
>>> e.seq, ledger.total()
(0, Decimal('-1500.00'))
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, replace
from decimal import Decimal
from enum import StrEnum
from typing import Any

from edgeloop.ledger.holdout import Arm
from edgeloop.ledger.money import ZERO, money

DAY = 86_400.0


class EntryKind(StrEnum):
    FAILURE = "failure"  # repair + downtime x production value: an actual cost
    AVOIDED_FAILURE = "avoided_failure"  # the failure a found developing fault would have become: a claim
    MAINTENANCE = "maintenance"
    FALSE_ALARM = "false_alarm"
    INSPECTION = "inspection"
    ENERGY = "energy"
    SLOWDOWN = "slowdown"  # production lost to a commanded slower speed

    @property
    def counterfactual(self) -> bool:
        """True for value claimed for something that did not happen; the measured uplift leaves it out."""
        return self is EntryKind.AVOIDED_FAILURE


@dataclass(frozen=True, slots=True)
class Draft:
    """An entry before the ledger gives it its sequence number."""

    device: str
    asset_type: str
    arm: Arm
    ts: float  # data time of what is booked
    kind: EntryKind
    amount: Decimal
    rule: str  # the attribution rule that booked it (see `attribution`)
    decision: str | None = None  # the decision it is linked to
    outcome: str | None = None  # the outcome it books (see `attribution.outcome_ref`)
    action: str | None = None  # the command the linked decision sent (or would have sent, for the holdout)
    quantity: float = 0.0  # hours of downtime or slowdown, kWh of energy
    note: str = ""


@dataclass(frozen=True, slots=True)
class Entry:
    seq: int
    device: str
    asset_type: str
    arm: Arm
    ts: float
    kind: EntryKind
    amount: Decimal
    rule: str
    decision: str | None
    outcome: str | None
    action: str | None
    quantity: float
    note: str

    @property
    def day(self) -> int:
        """The UTC day index (days since 1970-01-01) the entry falls on."""
        return int(self.ts // DAY)

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict; the amount is a string so it stays exact."""
        record = asdict(self)
        record.update(arm=str(self.arm), kind=str(self.kind), amount=str(self.amount))
        return record

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Entry:
        return cls(
            **{**data, "arm": Arm(data["arm"]), "kind": EntryKind(data["kind"]), "amount": money(data["amount"])}
        )


class Ledger:
    """An append-only sequence of entries."""

    def __init__(self, entries: Iterable[Entry] = ()) -> None:
        self._entries: list[Entry] = []
        for entry in entries:
            if entry.seq != len(self._entries):
                raise ValueError(f"entry seq {entry.seq} where {len(self._entries)} was expected")
            self._entries.append(entry)

    def append(self, draft: Draft) -> Entry:
        entry = Entry(seq=len(self._entries), **{f: getattr(draft, f) for f in Draft.__dataclass_fields__})
        entry = replace(entry, amount=money(entry.amount))
        self._entries.append(entry)
        return entry

    def extend(self, drafts: Iterable[Draft]) -> list[Entry]:
        return [self.append(d) for d in drafts]

    @property
    def entries(self) -> tuple[Entry, ...]:
        return tuple(self._entries)

    def __iter__(self) -> Iterator[Entry]:
        return iter(tuple(self._entries))

    def __len__(self) -> int:
        return len(self._entries)

    def total(self) -> Decimal:
        return sum((e.amount for e in self._entries), ZERO)
