"""The agent's writes in PostgreSQL's dialect: each takes the site and returns a statement and its rows for
the writer to run in a group (`Write`), as the SQLite table modules do for theirs. Telemetry is not here: it
goes in by `COPY` (see `store.py`)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import orjson

from edgeloop.io.store.outbox import OutboxRow
from edgeloop.io.store.schema import Write
from edgeloop.io.store.state import ShadowRow


def _json(value: Any) -> str:
    return orjson.dumps(value).decode()


def _upsert(table: str, columns: str, key: str) -> str:
    """INSERT OR REPLACE: the row of that key is replaced whole."""
    names = [c.strip() for c in columns.split(",")]
    keys = {k.strip() for k in key.split(",")}
    marks = ", ".join(["%s"] * len(names))
    sets = ", ".join(f"{c} = EXCLUDED.{c}" for c in names if c not in keys)
    return f"INSERT INTO {table}({columns}) VALUES ({marks}) ON CONFLICT ({key}) DO UPDATE SET {sets}"


SERIES = _upsert("series", "site, run, key, device, metric, bucket", "site, run, key")
DEVICE = _upsert("devices", "site, device, asset_type, meta, updated", "site, device")
#: a decision written again (its status moved on) is stored anew: it comes after the mark again, as in SQLite
DECISION = (
    _upsert("decisions", "site, id, device, ts, at, score, status, rule, record, audit", "site, id") + ", seq = DEFAULT"
)
SITE_POLICY = _upsert("site_policy", "site, at, source, policy", "site")
GUARD_STATE = _upsert("guard_state", "site, at, state", "site")
LEARNT = _upsert("learnt_state", "site, name, at, state", "site, name")
CHAMPION = _upsert("champions", "site, asset_type, learner, threshold, sustain, at", "site, asset_type")


def write_series(site: str, run: int, rows: Iterable[tuple[int, str, str, int]]) -> Write:
    return SERIES, [(site, run, key, device, metric, bucket) for key, device, metric, bucket in rows]


def write_device(site: str, device: str, asset_type: str, meta: dict[str, Any], at: float) -> Write:
    return DEVICE, [(site, device, asset_type, _json(meta), at)]


def write_quarantine(site: str, rows: list[tuple[float, str, str | None, str, bytes]]) -> Write:
    return "INSERT INTO quarantine(site, at, topic, device, reason, raw) VALUES (%s, %s, %s, %s, %s, %s)", [
        (site, *row) for row in rows
    ]


def write_decision(site: str, record: dict[str, Any], audit: str | None = None) -> Write:
    return DECISION, [(site, record["id"], record["device"], record["ts"], record["at"], record["score"],
                       record["status"], record["rule"], _json(record), audit)]  # fmt: skip


def write_command(site: str, cmd_id: str, decision: str, device: str, name: str, args: dict[str, float],
                  at: float) -> Write:  # fmt: skip
    return (
        "INSERT INTO commands VALUES (%s, %s, %s, %s, %s, %s, %s, 'sent', NULL, NULL)",
        [(site, cmd_id, decision, device, name, _json(args), at)],
    )


def write_ack(site: str, cmd_id: str, status: str, at: float, detail: str) -> Write:
    return "UPDATE commands SET status=%s, acked_at=%s, detail=%s WHERE site=%s AND id=%s", [
        (status, at, detail, site, cmd_id)
    ]


def write_outcome(site: str, device: str, ts: float, at: float, kind: str, decision: str | None,
                  detail: dict[str, Any]) -> Write:  # fmt: skip
    return (
        "INSERT INTO outcomes(site, device, ts, at, kind, decision, detail) VALUES (%s, %s, %s, %s, %s, %s, %s)",
        [(site, device, ts, at, kind, decision, _json(detail))],
    )


def write_verdict(site: str, decision: str, device: str, verdict: str, by: str, why: str, at: float) -> Write:
    return (
        "INSERT INTO verdicts(site, decision, device, verdict, by, why, at) VALUES (%s, %s, %s, %s, %s, %s, %s)",
        [(site, decision, device, verdict, by, why, at)],
    )


def write_approval_request(site: str, decision: str, device: str, command: dict[str, Any], requested: float,
                           expires: float) -> Write:  # fmt: skip
    return (
        "INSERT INTO approvals(site, decision, device, command, requested, expires) VALUES (%s, %s, %s, %s, %s, %s)"
        " ON CONFLICT DO NOTHING",
        [(site, decision, device, _json(command), requested, expires)],
    )


def write_approval_answer(site: str, decision: str, answer: str, by: str, why: str, at: float) -> Write:
    return "UPDATE approvals SET answer=%s, by=%s, why=%s, answered=%s WHERE site=%s AND decision=%s", [
        (answer, by, why, at, site, decision)
    ]


def write_answer_taken(site: str, row_id: int, result: str, at: float) -> Write:
    return "UPDATE inbox SET taken=%s, result=%s WHERE site=%s AND id=%s", [(at, result, site, row_id)]


def write_holdout(site: str, record: dict[str, Any], at: float) -> Write:
    return "INSERT INTO holdout(site, at, devices, record) VALUES (%s, %s, %s, %s)", [
        (site, at, record.get("first", 0) + len(record["assignments"]), _json(record))
    ]


def write_entries(site: str, entries: list[dict[str, Any]], audit: str | None = None) -> Write:
    return (
        "INSERT INTO ledger(site, seq, device, asset_type, arm, ts, day, kind, amount, rule, decision, outcome, "
        "action, quantity, note, audit) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
        [(site, e["seq"], e["device"], e["asset_type"], e["arm"], e["ts"], int(e["ts"] // 86_400), e["kind"],
          e["amount"], e["rule"], e["decision"], e["outcome"], e["action"], e["quantity"], e["note"], audit)
         for e in entries],
    )  # fmt: skip


def write_day(site: str, day: int) -> Write:
    return "INSERT INTO data_days VALUES (%s, %s) ON CONFLICT DO NOTHING", [(site, day)]


def write_site_policy(site: str, policy: dict[str, Any], source: str, at: float) -> Write:
    return SITE_POLICY, [(site, at, source, _json(policy))]


def write_guard_state(site: str, state: dict[str, Any], at: float) -> Write:
    return GUARD_STATE, [(site, at, _json(state))]


def write_learnt(site: str, name: str, state: dict[str, Any], at: float) -> Write:
    return LEARNT, [(site, name, at, _json(state))]


def write_champion(site: str, asset_type: str, learner: str, threshold: float, sustain: int, at: float) -> Write:
    return CHAMPION, [(site, asset_type, learner, threshold, sustain, at)]


def write_shadow(site: str, rows: list[ShadowRow]) -> Write:
    return "INSERT INTO shadow VALUES (%s, %s, %s, %s, %s, %s, %s)", [(site, *row) for row in rows]


def write_outbox(site: str, rows: list[OutboxRow]) -> Write:
    return (
        "INSERT INTO outbox(site, id, at, topic, payload, qos, retain) VALUES (%s, %s, %s, %s, %s, %s, %s) "
        "ON CONFLICT DO NOTHING",
        [(site, i, at, topic, payload, qos, retain) for i, at, topic, payload, qos, retain in rows],
    )


def mark_sent(site: str, ids: list[str], at: float) -> Write:
    return "UPDATE outbox SET sent = %s WHERE site = %s AND id = %s", [(at, site, i) for i in ids]


def forget_sent(site: str, before: float) -> Write:
    return "DELETE FROM outbox WHERE site = %s AND sent < %s", [(site, before)]
