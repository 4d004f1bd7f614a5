"""Counters the agent keeps while it runs (shown live, returned in the summary)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(slots=True)
class AgentStats:
    messages: int = 0
    points: int = 0
    anomalous_samples: int = 0
    decisions: int = 0
    commands_sent: int = 0
    commands_acked: int = 0
    commands_rejected: int = 0
    commands_timed_out: int = 0
    commands_acked_late: int = 0  # acked after their timeout: counted as acked or rejected, no more as timed out
    quarantined: int = 0
    failures: int = 0
    repairs_found_fault: int = 0
    repairs_found_nothing: int = 0
    approvals_requested: int = 0
    blocked: int = 0
    verdicts: int = 0
    alarms_delayed: int = 0  # held for their class's on-delay (feedback)
    alarms_lapsed: int = 0  # of those, gone before the delay was over: never raised
    repeats_dropped: int = 0  # telemetry the broker sent again that the agent had handled (after a restart)
    late_readings: int = 0  # telemetry older than its series' newest handled, not a repeat
    late_placed: int = 0  # of those, readings put in their place and learnt (`agent/rewind.py`); the rest not learnt
    other_partitions: int = 0  # messages of devices another partition of the site runs (agent.partition)
    quarantine_reasons: dict[str, int] = field(default_factory=dict)
    decision_latency_s: list[float] = field(default_factory=list)

    def count_reason(self, reason: str) -> None:
        kind = reason.split(":", 1)[0]
        self.quarantine_reasons[kind] = self.quarantine_reasons.get(kind, 0) + 1
        self.quarantined += 1

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("decision_latency_s")
        return data
