"""Decisions and outcomes as the agent would hand them to the ledger."""

from __future__ import annotations

from typing import Any

from edgeloop.model import AutonomyLevel, Command, Decision, DecisionStatus, Outcome

H = 3600.0


def decision(
    device: str, ts: float, status: DecisionStatus = DecisionStatus.SENT, name: str = "schedule_maintenance"
) -> Decision:
    command = Command(f"c-{device}-{ts}", "s", device, name, {}, f"d-{device}-{ts}")
    return Decision(
        id=f"d-{device}-{ts}", site="s", device=device, asset_type="pump", ts=ts, at=ts, score=0.99,
        evidence={}, model="ewma", rule="sustained", autonomy=AutonomyLevel.ACT, status=status, action=command,
    )  # fmt: skip


def outcome(device: str, ts: float, kind: str, decision_id: str | None = None, **detail: Any) -> Outcome:
    return Outcome("s", device, ts, kind, decision_id, detail)
