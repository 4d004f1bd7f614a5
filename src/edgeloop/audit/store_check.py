"""The store checked against the chain: each decision row and ledger entry must be what its audit record says.

A decision row carries the hash of its `decision` record and a ledger row the hash of the `ledger` record that
booked it (`{"entries": [...]}`). Given a log that verifies, a row is sound when its record is in the log and
says exactly what the row says. Found:

- **edited**: a row whose content differs from its record (or whose hash names no such record in the log);
- **deleted**: a decision or entry the log holds with no row in the store;
- **unrecorded**: a row with no record at all (added to the store behind the agent's back).

Rows written before the store carried hashes (`audit` empty) are matched by decision id or entry seq instead.

>>> from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
>>> from edgeloop.audit.record import GENESIS, seal
>>> key = Ed25519PrivateKey.generate()
>>> d = seal(0, 1.0, "decision", {"id": "d1", "status": "sent"}, GENESIS, key)
>>> check_store([d], [("d1", '{"id":"d1","status":"sent"}', d.hash)], []).ok
True
>>> check_store([d], [("d1", '{"id":"d1","status":"held_out"}', d.hash)], []).problems
['decision d1: the store row differs from its audit record (edited)']
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson

from edgeloop.audit.record import Kind, Record

#: at most this many problems are listed (all are counted)
SHOWN = 20


@dataclass(slots=True)
class StoreReport:
    decisions: int = 0  # decision rows checked
    entries: int = 0  # ledger rows checked
    edited: int = 0
    deleted: int = 0
    unrecorded: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.edited or self.deleted or self.unrecorded)

    def note(self, kind: str, problem: str) -> None:
        setattr(self, kind, getattr(self, kind) + 1)
        if len(self.problems) < SHOWN:
            self.problems.append(problem)

    def summary(self) -> str:
        counts = f"store: {self.decisions:,} decisions and {self.entries:,} ledger entries checked against the log"
        if self.ok:
            return f"{counts}: OK"
        return f"{counts}: FAILED, {self.edited} edited, {self.deleted} deleted, {self.unrecorded} not in the log"


def check_store(
    records: Iterable[Record],
    decisions: list[tuple[str, str, str | None]],
    ledger: list[tuple[dict[str, Any], str | None]],
) -> StoreReport:
    """Check the store's rows (as `read_audited` gives them) against the log's records (already verified)."""
    by_hash: dict[str, dict[str, Any]] = {}
    decision_hash: dict[str, str] = {}  # decision id -> hash of its latest record
    entry_hash: dict[int, str] = {}  # entry seq -> hash of the record that booked it
    booked: dict[tuple[str, int], dict[str, Any]] = {}
    for r in records:
        if r.kind == Kind.DECISION and "id" in r.body:
            by_hash[r.hash] = dict(r.body)
            decision_hash[str(r.body["id"])] = r.hash
        elif r.kind == Kind.LEDGER:
            for entry in r.body.get("entries", []):
                entry_hash[int(entry["seq"])] = r.hash
                booked[(r.hash, int(entry["seq"]))] = entry
    report = StoreReport()
    seen_decisions: set[str] = set()
    for decision_id, text, audit in decisions:
        report.decisions += 1
        seen_decisions.add(decision_id)
        audit = audit or decision_hash.get(decision_id)
        logged = by_hash.get(audit) if audit else None
        if logged is None:
            report.note("unrecorded", f"decision {decision_id}: no audit record (added or edited in the store)")
        elif orjson.loads(text) != logged:
            report.note("edited", f"decision {decision_id}: the store row differs from its audit record (edited)")
    for decision_id in decision_hash.keys() - seen_decisions:
        report.note("deleted", f"decision {decision_id}: in the audit log, not in the store (deleted)")
    seen_entries: set[int] = set()
    for entry, audit in ledger:
        report.entries += 1
        seq = int(entry["seq"])
        seen_entries.add(seq)
        audit = audit or entry_hash.get(seq)
        logged = booked.get((audit, seq)) if audit else None
        if logged is None:
            report.note("unrecorded", f"ledger entry {seq}: no audit record (added or edited in the store)")
        elif not _same_entry(entry, logged):
            report.note("edited", f"ledger entry {seq}: the store row differs from its audit record (edited)")
    for seq in sorted(entry_hash.keys() - seen_entries):
        report.note("deleted", f"ledger entry {seq}: in the audit log, not in the store (deleted)")
    return report


def _same_entry(row: dict[str, Any], logged: dict[str, Any]) -> bool:
    """Equal field by field; numbers compared as numbers (a store may give 3.0 for 3)."""
    return row.keys() <= logged.keys() and all(row[k] == logged[k] for k in row)
