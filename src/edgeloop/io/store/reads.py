"""`StoreReads` on one SQLite connection: each read is the table module's function of the same name."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from typing import Any

import numpy as np

from edgeloop.io.store import approvals, decisions, devices, ledger, outbox, quarantine, telemetry
from edgeloop.io.store import state as agent_state
from edgeloop.io.store.approvals import InboxRow
from edgeloop.io.store.outbox import Unsent
from edgeloop.io.store.schema import AuditedRows
from edgeloop.io.store.state import Champion
from edgeloop.io.store.telemetry import Chunk, Series, SeriesName, SeriesNames


class SqliteReads:
    """Reads through `_reader`, a connection the subclass opens."""

    _reader: sqlite3.Connection

    # -- telemetry --------------------------------------------------------------------------------------------------

    def points(self) -> int:
        return telemetry.points(self._reader)

    def data_until(self) -> float | None:
        return telemetry.data_until(self._reader)

    def read_series(self, device: str, metric: str, t_from: float = -np.inf, t_to: float = np.inf) -> Series:
        """Timestamps, values and scores of one metric of one device, over all runs, in time order."""
        return telemetry.read_series(self._reader, device, metric, t_from, t_to)

    def read_many_series(
        self, names: Iterable[SeriesName], t_from: float = -np.inf, t_to: float = np.inf
    ) -> dict[SeriesName, Series]:
        """`read_series` of each of `names` (empty where none is stored), reading each bucket's rows once."""
        return telemetry.read_many_series(self._reader, names, t_from, t_to)

    def read_series_names(self) -> SeriesNames:
        return telemetry.read_series_names(self._reader)

    def telemetry_mark(self) -> int:
        return telemetry.telemetry_mark(self._reader)

    def read_chunks_after(self, mark: int) -> list[Chunk]:
        return telemetry.read_chunks_after(self._reader, mark)

    def read_run_chunks(self, run: int, skip: int) -> list[Chunk]:
        return telemetry.read_run_chunks(self._reader, run, skip)

    def read_newest_chunks(self, n: int) -> list[Chunk]:
        return telemetry.read_newest_chunks(self._reader, n)

    def read_chunks_between(self, t_from: float, t_to: float) -> list[Chunk]:
        return telemetry.read_chunks_between(self._reader, t_from, t_to)

    # -- devices and quarantine -------------------------------------------------------------------------------------

    def count_devices(self) -> int:
        return devices.count_devices(self._reader)

    def read_devices(self, limit: int, offset: int) -> list[dict[str, Any]]:
        return devices.read_devices(self._reader, limit, offset)

    def read_device(self, device: str) -> dict[str, Any] | None:
        return devices.read_device(self._reader, device)

    def has_device(self, device: str) -> bool:
        return devices.has_device(self._reader, device)

    def count_quarantined(self) -> int:
        return quarantine.count_quarantined(self._reader)

    def read_quarantine(self, limit: int, offset: int) -> list[dict[str, Any]]:
        return quarantine.read_quarantine(self._reader, limit, offset)

    # -- decisions, commands, outcomes, verdicts --------------------------------------------------------------------

    def read_decision(self, decision_id: str) -> dict[str, Any] | None:
        return decisions.read_decision(self._reader, decision_id)

    def read_unsettled_commands(self) -> list[tuple[str, str, str, str, dict[str, Any], float]]:
        return decisions.read_unsettled_commands(self._reader)

    def read_decisions(self, since_ts: float = -np.inf) -> list[dict[str, Any]]:
        """Decision records in data-time order."""
        return decisions.read_decisions(self._reader, since_ts)

    def count_decisions(self, device: str | None = None, status: str | None = None) -> int:
        return decisions.count_decisions(self._reader, device, status)

    def read_newest_decisions(
        self, limit: int, offset: int, device: str | None = None, status: str | None = None
    ) -> list[dict[str, Any]]:
        return decisions.read_newest_decisions(self._reader, limit, offset, device, status)

    def read_decision_statuses(self) -> list[str]:
        return decisions.read_decision_statuses(self._reader)

    def count_decisions_by_status(self) -> list[tuple[str, int]]:
        return decisions.count_decisions_by_status(self._reader)

    def read_last_decision(self, device: str) -> dict[str, Any] | None:
        return decisions.read_last_decision(self._reader, device)

    def decision_mark(self) -> int:
        return decisions.decision_mark(self._reader)

    def read_decisions_after(self, mark: int) -> list[tuple[int, dict[str, Any]]]:
        return decisions.read_decisions_after(self._reader, mark)

    def read_commands_of(self, decision_id: str) -> list[dict[str, Any]]:
        return decisions.read_commands_of(self._reader, decision_id)

    def count_commands(self, status: str) -> int:
        return decisions.count_commands(self._reader, status)

    def count_commands_by_status(self) -> list[tuple[str, int]]:
        return decisions.count_commands_by_status(self._reader)

    def count_outcomes(self, kind: str) -> int:
        return decisions.count_outcomes(self._reader, kind)

    def count_device_events(self) -> int:
        """Distinct device events kept (device, ts, kind), acks left out: what a chaos run compares."""
        query = "SELECT COUNT(*) FROM (SELECT DISTINCT device, ts, kind FROM outcomes WHERE kind NOT LIKE 'ack%')"
        return int(self._reader.execute(query).fetchone()[0])

    def read_last_event(self, device: str) -> tuple[str, float] | None:
        return decisions.read_last_event(self._reader, device)

    def has_outcome(self, device: str, ts: float, kind: str) -> bool:
        return decisions.has_outcome(self._reader, device, ts, kind)

    def read_events(self, device: str, limit: int) -> list[dict[str, Any]]:
        return decisions.read_events(self._reader, device, limit)

    def read_verdicts_of(self, decision_id: str) -> list[dict[str, Any]]:
        return decisions.read_verdicts_of(self._reader, decision_id)

    # -- approvals and the inbox ------------------------------------------------------------------------------------

    def count_approvals(self, pending_only: bool) -> int:
        return approvals.count_approvals(self._reader, pending_only)

    def read_approvals(self, pending_only: bool, limit: int, offset: int) -> list[dict[str, Any]]:
        return approvals.read_approvals(self._reader, pending_only, limit, offset)

    def read_approval(self, decision: str) -> dict[str, Any] | None:
        return approvals.read_approval(self._reader, decision)

    def read_approval_states(self, limit: int = 200) -> list[tuple[str, str | None, str | None]]:
        return approvals.read_approval_states(self._reader, limit)

    def read_pending_approvals(self) -> list[tuple[str, dict[str, Any], float]]:
        return approvals.read_pending_approvals(self._reader)

    def read_untaken_answers(self) -> list[InboxRow]:
        return approvals.read_untaken_answers(self._reader)

    def read_answer_result(self, row_id: int) -> str | None:
        return approvals.read_answer_result(self._reader, row_id)

    # -- ledger -----------------------------------------------------------------------------------------------------

    def read_entries(self, since_ts: float = -np.inf) -> list[dict[str, Any]]:
        """Ledger entries in sequence order, as `Entry.from_json` takes them."""
        return ledger.read_entries(self._reader, since_ts)

    def read_holdout(self) -> dict[str, Any] | None:
        return ledger.read_holdout(self._reader)

    def read_unsent(self) -> list[Unsent]:
        """The outbox's messages not yet acknowledged by the broker, oldest first."""
        return outbox.read_unsent(self._reader)

    def read_audited(self) -> AuditedRows:
        """The rows that carry the hash of their audit record: decisions and ledger entries."""
        return AuditedRows(decisions.read_audited(self._reader), ledger.read_audited(self._reader))

    def read_days(self) -> list[int]:
        return ledger.read_days(self._reader)

    # -- the agent's state ------------------------------------------------------------------------------------------

    def read_site_policy(self) -> tuple[float, str, dict[str, Any]] | None:
        return agent_state.read_site_policy(self._reader)

    def read_guard_state(self) -> dict[str, Any] | None:
        return agent_state.read_guard_state(self._reader)

    def read_learnt(self, name: str) -> dict[str, Any] | None:
        return agent_state.read_learnt(self._reader, name)

    def read_champions(self) -> list[Champion]:
        return agent_state.read_champions(self._reader)
