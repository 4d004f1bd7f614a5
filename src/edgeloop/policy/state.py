"""What the guardrails need to remember, as explicit state the agent owns, persists and passes in.

The engine only reads it. The agent records an action when it is actually sent (or when an approval is
granted), marks devices stopped and started, and prunes what is older than `PolicyEngine.horizon_s`.

>>> state = GuardState()
>>> state.record_action("p1", "stop", 100.0)
>>> state.device_stopped("p1")
>>> state.count(since=50.0, device="p1"), state.count(since=150.0), sorted(state.stopped)
(1, 0, ['p1'])
>>> GuardState.from_json(state.to_json()) == state
True
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

FORMAT = 1


class ActionRecord(NamedTuple):
    """One action that was sent (or approved) at data or wall time `ts`, whichever clock the agent decides on."""

    device: str
    action: str
    ts: float


@dataclass(slots=True)
class GuardState:
    """Recent actions of the site (each tagged with its device) and the devices stopped now."""

    actions: list[ActionRecord] = field(default_factory=list)
    stopped: set[str] = field(default_factory=set)

    def record_action(self, device: str, action: str, ts: float) -> None:
        self.actions.append(ActionRecord(device, action, float(ts)))

    def device_stopped(self, device: str) -> None:
        self.stopped.add(device)

    def device_started(self, device: str) -> None:
        self.stopped.discard(device)

    def count(self, since: float, device: str | None = None) -> int:
        """Actions after `since` (exclusive), of one device or (None) of the whole site."""
        return sum(1 for a in self.actions if a.ts > since and (device is None or a.device == device))

    def prune(self, before: float) -> int:
        """Forget actions at or before `before`; returns how many went. (Eviction rule: the agent calls this
        with `now - engine.horizon_s`, so no rate-limit window ever loses an action it still counts.)"""
        kept = [a for a in self.actions if a.ts > before]
        gone = len(self.actions) - len(kept)
        self.actions = kept
        return gone

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "actions": [[a.device, a.action, a.ts] for a in self.actions],
            "stopped": sorted(self.stopped),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> GuardState:
        """Back from `to_json`; raises ValueError saying what is wrong."""
        if data.get("format") != FORMAT:
            raise ValueError(f"guard state format {data.get('format')!r} is not {FORMAT}")
        try:
            actions = [ActionRecord(str(d), str(a), float(t)) for d, a, t in data["actions"]]
            stopped = {str(d) for d in data["stopped"]}
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"bad guard state: {exc!r}") from exc
        return cls(actions, stopped)
