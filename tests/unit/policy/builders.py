"""Plain objects for the policy tests: a pump's meta, policies built in code, contexts, UTC timestamps."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from edgeloop.model import ArgSpec, CommandSpec, DeviceMeta, MetricSpec
from edgeloop.policy import DecisionContext, Policy

COMMANDS = (
    CommandSpec("schedule_maintenance", (ArgSpec("within_h", 0.0, 24.0),)),
    CommandSpec("stop"),
    CommandSpec("reduce_speed", (ArgSpec("factor", 0.3, 1.0),)),
)
NOON = datetime(2024, 3, 5, 12, 0, tzinfo=UTC).timestamp()


def meta(device: str = "p1", asset_type: str = "pump", commands: tuple[CommandSpec, ...] = COMMANDS) -> DeviceMeta:
    return DeviceMeta(device, asset_type, (MetricSpec("flow", "m3/h", 0, 100),), commands)


def ctx(
    device: str = "p1",
    asset_type: str = "pump",
    score: float = 0.97,
    fault_kind: str | None = None,
    held_out: bool = False,
    commands: tuple[CommandSpec, ...] = COMMANDS,
) -> DecisionContext:
    return DecisionContext(device, asset_type, score, meta(device, asset_type, commands), fault_kind, held_out)


def policy(
    *,
    site: int = 3,
    asset_types: dict[str, int] | None = None,
    actions: dict[str, int] | None = None,
    rules: list[dict[str, Any]] | None = None,
    **guardrails: Any,
) -> Policy:
    """A policy with one catch-all rule (schedule_maintenance within 2 h) unless `rules` are given."""
    return Policy.model_validate(
        {
            "autonomy": {"site": site, "asset_types": asset_types or {}, "actions": actions or {}},
            "rules": rules
            if rules is not None
            else [{"name": "any", "action": "schedule_maintenance", "args": {"within_h": 2}}],
            "guardrails": guardrails,
        }
    )


def stop_rule(cost: float | None = None) -> dict[str, Any]:
    return {"name": "stop-it", "action": "stop", **({} if cost is None else {"cost": cost})}


def utc(hour: int, minute: int = 0) -> float:
    return datetime(2024, 3, 5, hour, minute, tzinfo=UTC).timestamp()
