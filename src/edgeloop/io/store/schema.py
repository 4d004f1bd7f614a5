"""Every table of a site store, in SQLite's dialect.

The agent creates `SCHEMA` when it opens its store. The API's own tables (tokens, users, sessions) are created
by the API the first time it needs them, so a site whose API never made a token holds none of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs(run INTEGER PRIMARY KEY, site TEXT, started REAL);
CREATE TABLE IF NOT EXISTS devices(device TEXT PRIMARY KEY, asset_type TEXT, meta TEXT, updated REAL);
CREATE TABLE IF NOT EXISTS series(
    run INTEGER, key INTEGER, device TEXT, metric TEXT, bucket INTEGER, PRIMARY KEY(run, key));
CREATE INDEX IF NOT EXISTS series_device ON series(device, metric);
CREATE TABLE IF NOT EXISTS telemetry(
    run INTEGER, bucket INTEGER, t0 REAL, t1 REAL, n INTEGER, keys BLOB, ts BLOB, vals BLOB, scores BLOB);
CREATE INDEX IF NOT EXISTS telemetry_bucket_t0 ON telemetry(run, bucket, t0);
CREATE TABLE IF NOT EXISTS quarantine(
    id INTEGER PRIMARY KEY, at REAL, topic TEXT, device TEXT, reason TEXT, raw BLOB);
CREATE TABLE IF NOT EXISTS decisions(
    id TEXT PRIMARY KEY, device TEXT, ts REAL, at REAL, score REAL, status TEXT, rule TEXT, record TEXT,
    audit TEXT);
CREATE TABLE IF NOT EXISTS commands(
    id TEXT PRIMARY KEY, decision TEXT, device TEXT, name TEXT, args TEXT, sent_at REAL,
    status TEXT, acked_at REAL, detail TEXT);
CREATE TABLE IF NOT EXISTS outcomes(
    id INTEGER PRIMARY KEY, device TEXT, ts REAL, at REAL, kind TEXT, decision TEXT, detail TEXT);
CREATE TABLE IF NOT EXISTS holdout(id INTEGER PRIMARY KEY, at REAL, devices INTEGER, record TEXT);
CREATE TABLE IF NOT EXISTS ledger(
    seq INTEGER PRIMARY KEY, device TEXT, asset_type TEXT, arm TEXT, ts REAL, day INTEGER, kind TEXT,
    amount TEXT, rule TEXT, decision TEXT, outcome TEXT, action TEXT, quantity REAL, note TEXT, audit TEXT);
CREATE TABLE IF NOT EXISTS data_days(day INTEGER PRIMARY KEY);
CREATE TABLE IF NOT EXISTS approvals(
    decision TEXT PRIMARY KEY, device TEXT, command TEXT, requested REAL, expires REAL,
    answer TEXT, by TEXT, why TEXT, answered REAL);
CREATE TABLE IF NOT EXISTS verdicts(id INTEGER PRIMARY KEY, decision TEXT, device TEXT, verdict TEXT, by TEXT,
    why TEXT, at REAL);
CREATE TABLE IF NOT EXISTS site_policy(id INTEGER PRIMARY KEY CHECK (id = 1), at REAL, source TEXT, policy TEXT);
CREATE TABLE IF NOT EXISTS shadow(device TEXT, asset_type TEXT, learner TEXT, ts REAL, at REAL, score REAL);
CREATE TABLE IF NOT EXISTS champions(asset_type TEXT PRIMARY KEY, learner TEXT, threshold REAL, sustain INTEGER,
                                     at REAL);
CREATE TABLE IF NOT EXISTS guard_state(id INTEGER PRIMARY KEY CHECK (id = 1), at REAL, state TEXT);
CREATE TABLE IF NOT EXISTS learnt_state(name TEXT PRIMARY KEY, at REAL, state TEXT);
CREATE TABLE IF NOT EXISTS outbox(
    seq INTEGER PRIMARY KEY, id TEXT UNIQUE, at REAL, topic TEXT, payload BLOB, qos INTEGER, retain INTEGER,
    sent REAL);
CREATE INDEX IF NOT EXISTS outbox_unsent ON outbox(sent, seq);
CREATE TABLE IF NOT EXISTS inbox(
    id INTEGER PRIMARY KEY, at REAL, kind TEXT, decision TEXT, answer TEXT, by TEXT, why TEXT,
    taken REAL, result TEXT);
"""

TOKENS_SCHEMA = """CREATE TABLE IF NOT EXISTS api_tokens(
    id TEXT PRIMARY KEY, sha256 TEXT UNIQUE, role TEXT, name TEXT, created REAL, revoked REAL, expires REAL)"""

USERS_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS api_users(name TEXT PRIMARY KEY, role TEXT, salt BLOB, hash BLOB, created REAL)",
    "CREATE TABLE IF NOT EXISTS api_sessions(sha256 TEXT PRIMARY KEY, user TEXT, created REAL, expires REAL)",
)

#: columns added after a table was first shipped: (table, column, type), added to an older store when it opens
ADDED_COLUMNS = (
    ("decisions", "audit", "TEXT"),  # the hash of the decision's audit record
    ("ledger", "audit", "TEXT"),  # the hash of the `ledger` audit record that booked the entry
)

Row = tuple[Any, ...]


@dataclass(frozen=True, slots=True)
class AuditedRows:
    """The store's rows that carry the hash of their audit record, as `edgeloop audit verify --store` reads them."""

    decisions: list[tuple[str, str, str | None]]  # (id, record JSON, audit hash)
    ledger: list[tuple[dict[str, Any], str | None]]  # (entry as `Entry.to_json()` gives it, audit hash)


Write = tuple[str, list[Row]]  # a statement and its rows, for the agent's writer thread to run in one go
