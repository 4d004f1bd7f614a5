"""The ROI ledger's rows, its holdout record and the days the site had data (tables `ledger`, `holdout`,
`data_days`). The ledger itself is pure (`edgeloop.ledger`); these are its write-through and read-back."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import orjson

from edgeloop.io.store.schema import Write

_ENTRY = ("seq", "device", "asset_type", "arm", "ts", "kind", "amount", "rule", "decision", "outcome", "action",
          "quantity", "note")  # fmt: skip


def write_entries(entries: list[dict[str, Any]], audit: str | None = None) -> Write:
    """Append ledger entries (`Entry.to_json()` dicts); a sequence number already taken is an error. `audit` is
    the hash of the audit record that booked them."""
    return (
        "INSERT INTO ledger(seq, device, asset_type, arm, ts, day, kind, amount, rule, decision, outcome, action, "
        "quantity, note, audit) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [(e["seq"], e["device"], e["asset_type"], e["arm"], e["ts"], int(e["ts"] // 86_400), e["kind"],
          e["amount"], e["rule"], e["decision"], e["outcome"], e["action"], e["quantity"], e["note"], audit)
         for e in entries],
    )  # fmt: skip


def read_audited(conn: sqlite3.Connection) -> list[tuple[dict[str, Any], str | None]]:
    """Every ledger row as `(entry, audit hash)`: what `audit verify --store` checks."""
    rows = conn.execute(f"SELECT {', '.join(_ENTRY)}, audit FROM ledger ORDER BY seq").fetchall()
    return [(dict(zip(_ENTRY, row[:-1], strict=True)), row[-1]) for row in rows]


def write_holdout(record: dict[str, Any], at: float) -> Write:
    """Log the assignments of one batch (`HoldoutRecord.logged`); `devices` is the count assigned so far."""
    return (
        "INSERT INTO holdout(at, devices, record) VALUES (?, ?, ?)",
        [(at, record.get("first", 0) + len(record["assignments"]), orjson.dumps(record).decode())],
    )


def write_day(day: int) -> Write:
    """Mark a UTC day index as one the site had data on."""
    return "INSERT OR IGNORE INTO data_days VALUES (?)", [(day,)]


def read_entries(conn: sqlite3.Connection, since_ts: float = -np.inf) -> list[dict[str, Any]]:
    """Ledger entries in sequence order, as `Entry.from_json` takes them."""
    rows = conn.execute(f"SELECT {', '.join(_ENTRY)} FROM ledger WHERE ts >= ? ORDER BY seq", (since_ts,))
    return [dict(zip(_ENTRY, row, strict=True)) for row in rows.fetchall()]


def read_holdout(conn: sqlite3.Connection) -> dict[str, Any] | None:
    """The whole holdout record, folded from its logged batches (read newest first, as far back as needed)."""
    rows = conn.execute("SELECT record FROM holdout ORDER BY id DESC")
    return fold_log(orjson.loads(row[0]) for row in rows)


def read_days(conn: sqlite3.Connection) -> list[int]:
    return [int(r[0]) for r in conn.execute("SELECT day FROM data_days ORDER BY day").fetchall()]


def fold_log(newest_first: Iterable[Mapping[str, Any]]) -> dict[str, Any] | None:
    """The whole holdout record from its logged rows, read newest first: back to the last row that starts at
    position 0 (a record logged whole, as earlier versions did, counts as one).

    >>> fold_log([{"seed": 1, "first": 1, "assignments": ["b", "c"]}, {"seed": 1, "first": 0, "assignments": ["a"]},
    ...           {"seed": 1, "assignments": ["old"]}])
    {'seed': 1, 'assignments': ['a', 'b', 'c']}
    >>> fold_log([{"seed": 1, "first": 2, "assignments": ["c"]}, {"seed": 1, "assignments": ["a"]}])
    Traceback (most recent call last):
    ValueError: the holdout log is broken: a row starts at position 2 after 1 assignments
    """
    rows: list[Mapping[str, Any]] = []
    for row in newest_first:
        rows.append(row)
        if int(row.get("first", 0)) == 0:
            break
    if not rows:
        return None
    oldest, *later = reversed(rows)
    if int(oldest.get("first", 0)) != 0:
        raise ValueError(f"the holdout log is broken: its oldest row starts at position {oldest['first']}, not 0")
    whole = {k: v for k, v in oldest.items() if k != "first"}
    assignments = list(whole["assignments"])
    for row in later:
        if int(row["first"]) != len(assignments):
            raise ValueError(
                f"the holdout log is broken: a row starts at position {row['first']} after {len(assignments)} "
                "assignments"
            )
        assignments.extend(row["assignments"])
    whole["assignments"] = assignments
    return whole
