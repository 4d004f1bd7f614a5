"""`StoreReads` on PostgreSQL: the same reads as the SQLite store's, each limited to this store's site."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import orjson

from edgeloop.io.store.approvals import InboxRow, approval_item
from edgeloop.io.store.decisions import event_of
from edgeloop.io.store.ledger import fold_log
from edgeloop.io.store.outbox import Unsent
from edgeloop.io.store.schema import AuditedRows, Row
from edgeloop.io.store.state import Champion
from edgeloop.io.store.telemetry import Chunk, Series, SeriesName, SeriesNames, gather_series
from edgeloop.io.store.telemetry import _chunks as chunks

_COMMAND = ("id", "name", "args", "sent_at", "status", "acked_at", "detail")
_VERDICT = ("verdict", "by", "why", "at")
_LAST = ("id", "ts", "status", "score")
_APPROVAL = ("decision", "device", "command", "requested", "expires", "answer", "by", "why", "answered")
_ENTRY = ("seq", "device", "asset_type", "arm", "ts", "kind", "amount", "rule", "decision", "outcome", "action",
          "quantity", "note")  # fmt: skip
_CHUNK = "SELECT run, keys, ts, vals, scores FROM telemetry WHERE site = %s"


class PgReads:
    """Reads through `_fetch`, which the subclass implements over its connection or pool."""

    site: str

    def _fetch(self, query: str, args: tuple[Any, ...] = ()) -> list[Row]:
        raise NotImplementedError

    def _value(self, query: str, *args: Any) -> Any:
        rows = self._fetch(query, (self.site, *args))
        return rows[0][0] if rows else None

    # -- telemetry --------------------------------------------------------------------------------------------------

    def points(self) -> int:
        return int(self._value("SELECT COALESCE(SUM(n), 0) FROM telemetry WHERE site = %s"))

    def data_until(self) -> float | None:
        newest = self._value("SELECT MAX(t1) FROM telemetry WHERE site = %s")
        return None if newest is None else float(newest)

    def read_series(self, device: str, metric: str, t_from: float = -np.inf, t_to: float = np.inf) -> Series:
        """Timestamps, values and scores of one metric of one device, over all runs, in time order."""
        return self.read_many_series([(device, metric)], t_from, t_to)[device, metric]

    def read_many_series(
        self, names: Iterable[SeriesName], t_from: float = -np.inf, t_to: float = np.inf
    ) -> dict[SeriesName, Series]:
        """`read_series` of each of `names` (empty where none is stored), reading each bucket's rows once."""
        t_from, t_to, wanted = float(t_from), float(t_to), set(names)
        if len(wanted) == 1:
            ((device, metric),) = wanted
            keys = self._fetch("SELECT run, bucket, key, device, metric FROM series WHERE site=%s AND device=%s "
                               "AND metric=%s", (self.site, device, metric))  # fmt: skip
        else:
            keys = self._fetch("SELECT run, bucket, key, device, metric FROM series WHERE site=%s", (self.site,))

        def rows(run: int, bucket: int) -> list[Row]:
            query = "SELECT keys, ts, vals, scores FROM telemetry WHERE site=%s AND run=%s AND bucket=%s AND t1>=%s "
            return self._fetch(query + "AND t0<=%s ORDER BY t0, id", (self.site, run, bucket, t_from, t_to))

        return gather_series(wanted, keys, rows, t_from, t_to)

    def read_series_names(self) -> SeriesNames:
        rows = self._fetch("SELECT run, key, device, metric FROM series WHERE site = %s", (self.site,))
        return {(int(r), int(k)): (d, m) for r, k, d, m in rows}

    def telemetry_mark(self) -> int:
        return int(self._value("SELECT COALESCE(MAX(id), 0) FROM telemetry WHERE site = %s"))

    def read_chunks_after(self, mark: int) -> list[Chunk]:
        return chunks(self._fetch(_CHUNK + " AND id > %s ORDER BY id", (self.site, mark)))

    def read_run_chunks(self, run: int, skip: int) -> list[Chunk]:
        return chunks(self._fetch(_CHUNK + " AND run = %s ORDER BY id OFFSET %s", (self.site, run, skip)))

    def read_newest_chunks(self, n: int) -> list[Chunk]:
        return chunks(reversed(self._fetch(_CHUNK + " ORDER BY id DESC LIMIT %s", (self.site, n))))

    def read_chunks_between(self, t_from: float, t_to: float) -> list[Chunk]:
        return chunks(self._fetch(_CHUNK + " AND t1 >= %s AND t0 <= %s ORDER BY id",
                                  (self.site, float(t_from), float(t_to))))  # fmt: skip

    # -- devices and quarantine -------------------------------------------------------------------------------------

    def count_devices(self) -> int:
        return int(self._value("SELECT COUNT(*) FROM devices WHERE site = %s"))

    @staticmethod
    def _device(row: Row) -> dict[str, Any]:
        device, asset_type, meta, updated = row
        return {"device": device, "asset_type": asset_type, "meta": orjson.loads(meta), "updated": updated}

    def read_devices(self, limit: int, offset: int) -> list[dict[str, Any]]:
        rows = self._fetch("SELECT device, asset_type, meta, updated FROM devices WHERE site = %s ORDER BY device "
                           "LIMIT %s OFFSET %s", (self.site, limit, offset))  # fmt: skip
        return [self._device(row) for row in rows]

    def read_device(self, device: str) -> dict[str, Any] | None:
        rows = self._fetch("SELECT device, asset_type, meta, updated FROM devices WHERE site=%s AND device=%s",
                           (self.site, device))  # fmt: skip
        return self._device(rows[0]) if rows else None

    def has_device(self, device: str) -> bool:
        return bool(self._fetch("SELECT 1 FROM devices WHERE site=%s AND device=%s", (self.site, device)))

    def count_quarantined(self) -> int:
        return int(self._value("SELECT COUNT(*) FROM quarantine WHERE site = %s"))

    def read_quarantine(self, limit: int, offset: int) -> list[dict[str, Any]]:
        rows = self._fetch("SELECT at, topic, device, reason, raw FROM quarantine WHERE site = %s ORDER BY id DESC "
                           "LIMIT %s OFFSET %s", (self.site, limit, offset))  # fmt: skip
        return [{"at": at, "topic": topic, "device": device, "reason": reason, "raw": bytes(raw)}
                for at, topic, device, reason, raw in rows]  # fmt: skip

    # -- decisions, commands, outcomes, verdicts --------------------------------------------------------------------

    def read_decision(self, decision_id: str) -> dict[str, Any] | None:
        record = self._value("SELECT record FROM decisions WHERE site = %s AND id = %s", decision_id)
        return None if record is None else dict(orjson.loads(record))

    def read_unsettled_commands(self) -> list[tuple[str, str, str, str, dict[str, Any], float]]:
        """Commands sent and neither acked nor timed out: (id, decision, device, name, args, sent_at)."""
        rows = self._fetch("SELECT id, decision, device, name, args, sent_at FROM commands "
                           "WHERE site = %s AND status = 'sent' ORDER BY sent_at", (self.site,))  # fmt: skip
        return [(str(i), str(d), str(v), str(n), dict(orjson.loads(a)), float(t)) for i, d, v, n, a, t in rows]

    def read_decisions(self, since_ts: float = -np.inf) -> list[dict[str, Any]]:
        rows = self._fetch("SELECT record FROM decisions WHERE site = %s AND ts >= %s ORDER BY ts, seq",
                           (self.site, float(since_ts)))  # fmt: skip
        return [dict(orjson.loads(r[0])) for r in rows]

    def _where(self, device: str | None, status: str | None) -> tuple[str, list[Any]]:
        cond, args = " WHERE site = %s", [self.site]
        if device:
            cond, args = cond + " AND device = %s", [*args, device]
        if status:
            cond, args = cond + " AND status = %s", [*args, status]
        return cond, args

    def count_decisions(self, device: str | None = None, status: str | None = None) -> int:
        cond, args = self._where(device, status)
        return int(self._fetch("SELECT COUNT(*) FROM decisions" + cond, tuple(args))[0][0])

    def read_newest_decisions(
        self, limit: int, offset: int, device: str | None = None, status: str | None = None
    ) -> list[dict[str, Any]]:
        cond, args = self._where(device, status)
        rows = self._fetch(f"SELECT record FROM decisions{cond} ORDER BY ts DESC, at DESC LIMIT %s OFFSET %s",
                           (*args, limit, offset))  # fmt: skip
        return [dict(orjson.loads(r[0])) for r in rows]

    def read_decision_statuses(self) -> list[str]:
        return [str(r[0]) for r in self._fetch("SELECT status FROM decisions WHERE site = %s ORDER BY seq",
                                               (self.site,))]  # fmt: skip

    def _by_status(self, table: str) -> list[tuple[str, int]]:
        rows = self._fetch(f"SELECT status, COUNT(*) FROM {table} WHERE site = %s GROUP BY status", (self.site,))
        return [(s, int(n)) for s, n in rows]

    def count_decisions_by_status(self) -> list[tuple[str, int]]:
        return self._by_status("decisions")

    def read_last_decision(self, device: str) -> dict[str, Any] | None:
        rows = self._fetch("SELECT id, ts, status, score FROM decisions WHERE site=%s AND device=%s "
                           "ORDER BY ts DESC LIMIT 1", (self.site, device))  # fmt: skip
        return dict(zip(_LAST, rows[0], strict=True)) if rows else None

    def decision_mark(self) -> int:
        return int(self._value("SELECT COALESCE(MAX(seq), 0) FROM decisions WHERE site = %s"))

    def read_decisions_after(self, mark: int) -> list[tuple[int, dict[str, Any]]]:
        rows = self._fetch("SELECT seq, record FROM decisions WHERE site = %s AND seq > %s ORDER BY seq",
                           (self.site, mark))  # fmt: skip
        return [(int(seq), dict(orjson.loads(record))) for seq, record in rows]

    def read_commands_of(self, decision_id: str) -> list[dict[str, Any]]:
        rows = self._fetch("SELECT id, name, args, sent_at, status, acked_at, detail FROM commands "
                           "WHERE site = %s AND decision = %s", (self.site, decision_id))  # fmt: skip
        return [dict(zip(_COMMAND, row, strict=True)) for row in rows]

    def count_commands(self, status: str) -> int:
        return int(self._value("SELECT COUNT(*) FROM commands WHERE site = %s AND status = %s", status))

    def count_commands_by_status(self) -> list[tuple[str, int]]:
        return self._by_status("commands")

    def count_outcomes(self, kind: str) -> int:
        return int(self._value("SELECT COUNT(*) FROM outcomes WHERE site = %s AND kind = %s", kind))

    def read_last_event(self, device: str) -> tuple[str, float] | None:
        rows = self._fetch("SELECT kind, ts FROM outcomes WHERE site=%s AND device=%s AND kind NOT LIKE 'ack_%%' "
                           "AND kind != 'usage' ORDER BY ts DESC LIMIT 1", (self.site, device))  # fmt: skip
        return (rows[0][0], rows[0][1]) if rows else None

    def has_outcome(self, device: str, ts: float, kind: str) -> bool:
        query = "SELECT 1 FROM outcomes WHERE site=%s AND device=%s AND ts=%s AND kind=%s LIMIT 1"
        return bool(self._fetch(query, (self.site, device, ts, kind)))

    def read_events(self, device: str, limit: int) -> list[dict[str, Any]]:
        rows = self._fetch("SELECT kind, ts, at, decision, detail FROM outcomes WHERE site=%s AND device=%s AND kind "
                           "NOT LIKE 'ack_%%' AND kind != 'usage' ORDER BY ts DESC, id DESC LIMIT %s",
                           (self.site, device, limit))  # fmt: skip
        return [event_of(tuple(r)) for r in rows]

    def read_verdicts_of(self, decision_id: str) -> list[dict[str, Any]]:
        rows = self._fetch("SELECT verdict, by, why, at FROM verdicts WHERE site = %s AND decision = %s ORDER BY id",
                           (self.site, decision_id))  # fmt: skip
        return [dict(zip(_VERDICT, row, strict=True)) for row in rows]

    # -- approvals and the inbox ------------------------------------------------------------------------------------

    @staticmethod
    def _answered(pending_only: bool) -> str:
        return " AND a.answer IS NULL" if pending_only else ""

    def count_approvals(self, pending_only: bool) -> int:
        return int(self._value(f"SELECT COUNT(*) FROM approvals a WHERE a.site = %s{self._answered(pending_only)}"))

    _SELECT = (
        f"SELECT {', '.join('a.' + c for c in _APPROVAL)}, c.status, d.record FROM approvals a LEFT JOIN commands c "
        "ON c.site = a.site AND c.decision = a.decision LEFT JOIN decisions d ON d.site = a.site AND d.id = a.decision "
    )

    def read_approvals(self, pending_only: bool, limit: int, offset: int) -> list[dict[str, Any]]:
        rows = self._fetch(
            f"{self._SELECT}WHERE a.site = %s{self._answered(pending_only)} "
            "ORDER BY a.requested DESC LIMIT %s OFFSET %s",
            (self.site, limit, offset),
        )
        return [approval_item(row) for row in rows]

    def read_approval(self, decision: str) -> dict[str, Any] | None:
        rows = self._fetch(f"{self._SELECT}WHERE a.site = %s AND a.decision = %s", (self.site, decision))
        return approval_item(rows[0]) if rows else None

    def read_approval_states(self, limit: int = 200) -> list[tuple[str, str | None, str | None]]:
        rows = self._fetch("SELECT a.decision, a.answer, c.status FROM approvals a LEFT JOIN commands c "
                           "ON c.site = a.site AND c.decision = a.decision WHERE a.site = %s "
                           "ORDER BY a.requested DESC LIMIT %s", (self.site, limit))  # fmt: skip
        return [(d, a, s) for d, a, s in rows]

    def read_pending_approvals(self) -> list[tuple[str, dict[str, Any], float]]:
        rows = self._fetch("SELECT decision, command, expires FROM approvals WHERE site = %s AND answer IS NULL",
                           (self.site,))  # fmt: skip
        return [(str(d), dict(orjson.loads(c)), float(e)) for d, c, e in rows]

    def read_untaken_answers(self) -> list[InboxRow]:
        rows = self._fetch("SELECT id, kind, decision, answer, by, why FROM inbox WHERE site = %s AND taken IS NULL "
                           "ORDER BY id", (self.site,))  # fmt: skip
        return [(int(i), k, d, a, b, w) for i, k, d, a, b, w in rows]

    def read_answer_result(self, row_id: int) -> str | None:
        result = self._value("SELECT result FROM inbox WHERE site = %s AND id = %s", row_id)
        return str(result) if result else None

    # -- ledger -----------------------------------------------------------------------------------------------------

    def read_entries(self, since_ts: float = -np.inf) -> list[dict[str, Any]]:
        rows = self._fetch(f"SELECT {', '.join(_ENTRY)} FROM ledger WHERE site = %s AND ts >= %s ORDER BY seq",
                           (self.site, float(since_ts)))  # fmt: skip
        return [dict(zip(_ENTRY, row, strict=True)) for row in rows]

    def read_unsent(self) -> list[Unsent]:
        rows = self._fetch("SELECT id, topic, payload, qos, retain FROM outbox WHERE site = %s AND sent IS NULL "
                           "ORDER BY seq", (self.site,))  # fmt: skip
        return [(str(i), str(t), bytes(p), int(q), bool(r)) for i, t, p, q, r in rows]

    def read_audited(self) -> AuditedRows:
        """The rows that carry the hash of their audit record: decisions and ledger entries."""
        decisions = self._fetch("SELECT id, record, audit FROM decisions WHERE site = %s ORDER BY id", (self.site,))
        ledger = self._fetch(f"SELECT {', '.join(_ENTRY)}, audit FROM ledger WHERE site = %s ORDER BY seq",
                             (self.site,))  # fmt: skip
        return AuditedRows(
            [(str(i), str(r), a) for i, r, a in decisions],
            [(dict(zip(_ENTRY, row[:-1], strict=True)), row[-1]) for row in ledger],
        )

    def read_holdout(self) -> dict[str, Any] | None:
        """The whole holdout record, folded from its logged batches."""
        rows = self._fetch("SELECT record FROM holdout WHERE site = %s ORDER BY id DESC", (self.site,))
        return fold_log(orjson.loads(row[0]) for row in rows)

    def read_days(self) -> list[int]:
        return [int(r[0]) for r in self._fetch("SELECT day FROM data_days WHERE site = %s ORDER BY day", (self.site,))]

    # -- the agent's state ------------------------------------------------------------------------------------------

    def read_site_policy(self) -> tuple[float, str, dict[str, Any]] | None:
        rows = self._fetch("SELECT at, source, policy FROM site_policy WHERE site = %s", (self.site,))
        return (rows[0][0], rows[0][1], orjson.loads(rows[0][2])) if rows else None

    def read_guard_state(self) -> dict[str, Any] | None:
        state = self._value("SELECT state FROM guard_state WHERE site = %s")
        return None if state is None else dict(orjson.loads(state))

    def read_learnt(self, name: str) -> dict[str, Any] | None:
        state = self._value("SELECT state FROM learnt_state WHERE site = %s AND name = %s", name)
        return None if state is None else dict(orjson.loads(state))

    def read_champions(self) -> list[Champion]:
        rows = self._fetch("SELECT asset_type, learner, threshold, sustain FROM champions WHERE site = %s",
                           (self.site,))  # fmt: skip
        return [(str(t), str(n), float(x), int(k)) for t, n, x, k in rows]
