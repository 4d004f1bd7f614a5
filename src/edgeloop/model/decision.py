"""Decisions, the actions they send, and the outcomes that follow."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from enum import IntEnum, StrEnum
from typing import Any


class AutonomyLevel(IntEnum):
    """How far the agent may go on its own at a site or for an asset type."""

    OBSERVE = 0
    RECOMMEND = 1
    APPROVE = 2
    ACT = 3


class DecisionStatus(StrEnum):
    """What became of a decision's action."""

    OBSERVED = "observed"  # autonomy 0: logged only
    RECOMMENDED = "recommended"  # autonomy 1: shown to an operator, nothing sent
    PENDING_APPROVAL = "pending_approval"  # autonomy 2: waits for an operator
    HELD_OUT = "held_out"  # the device is in the holdout: decided, not acted on
    BLOCKED = "blocked"  # a guardrail stopped the action
    SENT = "sent"  # the command went to the device


class AckStatus(StrEnum):
    DONE = "done"
    REJECTED = "rejected"
    TIMEOUT = "timeout"  # no ack within the deadline: recorded by the agent, never by a device


@dataclass(frozen=True, slots=True)
class Command:
    """A command sent on `edgeloop/v1/{site}/{device}/cmd`."""

    id: str
    site: str
    device: str
    name: str
    args: Mapping[str, float]
    decision: str

    def payload(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "args": dict(self.args), "decision": self.decision}


@dataclass(frozen=True, slots=True)
class Decision:
    """What the agent concluded about one device and what it chose to do.

    `ts` is the data time of the telemetry that triggered it; `at` the agent's wall-clock time.
    """

    id: str
    site: str
    device: str
    asset_type: str
    ts: float
    at: float
    score: float
    evidence: Mapping[str, float]
    model: str
    rule: str
    autonomy: AutonomyLevel
    status: DecisionStatus
    action: Command | None = None
    reason: str = ""
    guardrails: tuple[Mapping[str, Any], ...] = ()  # every guardrail checked: {name, passed, detail}
    on_delay_s: float = 0.0  # data-time seconds the alarm waited in its class's on-delay before it was raised

    def to_record(self) -> dict[str, Any]:
        """The decision as logged and as published on `_agent/decision`."""
        record = asdict(self)
        record["autonomy"] = int(self.autonomy)
        record["status"] = str(self.status)
        record["evidence"] = dict(self.evidence)
        record["guardrails"] = [dict(g) for g in self.guardrails]
        record["action"] = None if self.action is None else asdict(self.action)
        if self.action is not None:
            record["action"]["args"] = dict(self.action.args)
        return record

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> Decision:
        """The decision back from its record (e.g. read from the store on restart).

        >>> d = Decision("d1", "s", "p1", "pump", 1.0, 2.0, 0.97, {"vibration": 0.97}, "ewma", "r",
        ...              AutonomyLevel.ACT, DecisionStatus.SENT, Command("c1", "s", "p1", "stop", {}, "d1"))
        >>> Decision.from_record(d.to_record()) == d
        True
        """
        action = record.get("action")
        fields = {k: record[k] for k in cls.__dataclass_fields__ if k in record}
        fields.update(
            evidence=dict(record.get("evidence", {})),
            guardrails=tuple(dict(g) for g in record.get("guardrails", ())),
            autonomy=AutonomyLevel(int(record["autonomy"])),
            status=DecisionStatus(record["status"]),
            action=None if action is None else Command(**{**action, "args": dict(action["args"])}),
        )
        return cls(**fields)


@dataclass(frozen=True, slots=True)
class Outcome:
    """Something that happened after (and maybe because of) a decision: an ack, a failure, a repair."""

    site: str
    device: str
    ts: float
    kind: str
    decision: str | None = None
    detail: Mapping[str, Any] = field(default_factory=dict)
