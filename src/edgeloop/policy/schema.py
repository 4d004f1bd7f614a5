"""The policy file as validated data: autonomy levels, rules, guardrails, approvals.

A `Policy` is built from YAML by `parse_policy` / `load_policy` (see `load.py`), or directly in code:

>>> policy = Policy.model_validate({"rules": [{"name": "r", "action": "stop", "when": {"min_score": 0.9}}]})
>>> policy.autonomy.level("pump", "stop")
<AutonomyLevel.RECOMMEND: 1>
>>> policy.rules[0].when.matches("pump", 0.95, None)
True
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from edgeloop.model import AutonomyLevel

ANY_FAULT = "any"  # in `when.fault_kind`: any known fault kind
UNKNOWN_FAULT = "unknown"  # in `when.fault_kind`: the fault kind is not known (None)
_CLOCK = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")
Name = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _as_list(value: Any) -> Any:
    """A single name is a list of one, so `asset_type: pump` and `asset_type: [pump, motor]` both work."""
    return [value] if isinstance(value, str) else value


class Autonomy(_Strict):
    """How far the agent may go: a site default, replaced per asset type, capped per action."""

    site: AutonomyLevel = AutonomyLevel.RECOMMEND
    asset_types: dict[Name, AutonomyLevel] = Field(default_factory=dict)
    actions: dict[Name, AutonomyLevel] = Field(default_factory=dict)

    def level(self, asset_type: str, action: str | None) -> AutonomyLevel:
        """The asset type's level (the site's when it has none), lowered by the action's level if that is lower.

        >>> a = Autonomy(site=AutonomyLevel.RECOMMEND, asset_types={"pump": AutonomyLevel.ACT},
        ...              actions={"stop": AutonomyLevel.APPROVE})
        >>> int(a.level("pump", "schedule_maintenance")), int(a.level("pump", "stop")), int(a.level("motor", "stop"))
        (3, 2, 1)
        """
        base = self.asset_types.get(asset_type, self.site)
        if action is None:
            return base
        return min(base, self.actions.get(action, base))


class When(_Strict):
    """The conditions of a rule; every one that is given must hold, an empty `when` matches everything."""

    asset_type: list[Name] | None = None
    min_score: float | None = Field(None, ge=0, le=1)
    fault_kind: list[Name] | None = None

    @field_validator("asset_type", "fault_kind", mode="before")
    @classmethod
    def _lists(cls, value: Any) -> Any:
        return _as_list(value)

    def matches(self, asset_type: str, score: float, fault_kind: str | None) -> bool:
        """`fault_kind` lists kinds; `any` stands for any known kind and `unknown` for a kind not known (None).

        >>> When(fault_kind=["any"]).matches("pump", 1.0, None), When(fault_kind=["unknown"]).matches("pump", 1.0, None)
        (False, True)
        """
        if self.asset_type is not None and asset_type not in self.asset_type:
            return False
        if self.min_score is not None and score < self.min_score:
            return False
        if self.fault_kind is not None:
            if fault_kind is None:
                return UNKNOWN_FAULT in self.fault_kind
            return fault_kind in self.fault_kind or ANY_FAULT in self.fault_kind
        return True


class Rule(_Strict):
    """Maps (anomaly likelihood, fault kind, asset type) to one action with its arguments."""

    name: Name
    when: When = Field(default_factory=When)
    action: Name
    args: dict[Name, Annotated[float, Field(allow_inf_nan=False)]] = Field(default_factory=dict)
    cost: float | None = Field(None, ge=0, description="expected cost of the action, for approval_above_cost")


class RateLimit(_Strict):
    """At most `max` actions within any `per_h` hours."""

    max: int = Field(ge=1)
    per_h: float = Field(gt=0, le=24 * 366)

    @property
    def window_s(self) -> float:
        return self.per_h * 3600.0


class RateLimits(_Strict):
    per_device: RateLimit | None = None
    per_site: RateLimit | None = None


class QuietHours(_Strict):
    """A daily window of local time [start, end) in which only the `allow`ed actions may be sent or asked for.

    >>> q = QuietHours(start="22:00", end="06:00", tz="UTC")
    >>> q.contains(23 * 60), q.contains(5 * 60 + 59), q.contains(6 * 60)
    (True, True, False)
    """

    start: str
    end: str
    tz: str = "UTC"
    allow: list[Name] = Field(default_factory=list)

    @field_validator("start", "end")
    @classmethod
    def _clock(cls, value: str) -> str:
        if not _CLOCK.match(value):
            raise ValueError(f"{value!r} is not a time of day HH:MM (00:00 to 23:59)")
        return value

    @field_validator("tz")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (use an IANA name such as UTC or Europe/Berlin)") from None
        return value

    @model_validator(mode="after")
    def _not_empty(self) -> QuietHours:
        if self.start == self.end:
            raise ValueError("start and end are equal: the window would be empty (or the whole day)")
        return self

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.tz)

    def contains(self, minute_of_day: int) -> bool:
        """Whether a local minute of the day (0..1439) lies in the window; a window may cross midnight."""
        start, end = _minutes(self.start), _minutes(self.end)
        if start < end:
            return start <= minute_of_day < end
        return minute_of_day >= start or minute_of_day < end


class Guardrails(_Strict):
    """Limits no rule can bypass. Every one is optional; an absent one never blocks."""

    rate_limit: RateLimits = Field(default_factory=RateLimits)
    max_stopped: int | None = Field(None, ge=0, description="most devices stopped at once")
    stopping_actions: list[Name] = Field(default_factory=lambda: ["stop"])
    quiet_hours: QuietHours | None = None
    approval_above_cost: float | None = Field(None, ge=0, description="dearer actions always wait for approval")


class Approvals(_Strict):
    """How long an approval request stays open."""

    expire_after_h: float = Field(4.0, gt=0, le=24 * 366)

    def expires_at(self, decided_at: float) -> float:
        """When a request made at `decided_at` (unix s) lapses unanswered.

        >>> Approvals(expire_after_h=4).expires_at(1000.0)
        15400.0
        """
        return decided_at + self.expire_after_h * 3600.0

    def expired(self, decided_at: float, now: float) -> bool:
        return now >= self.expires_at(decided_at)


class Policy(_Strict):
    """A whole policy file. Rules are tried in order; the first that matches decides."""

    version: Literal[1] = 1
    autonomy: Autonomy = Field(default_factory=Autonomy)
    rules: list[Rule] = Field(default_factory=list)
    guardrails: Guardrails = Field(default_factory=Guardrails)
    approvals: Approvals = Field(default_factory=Approvals)

    @field_validator("rules")
    @classmethod
    def _unique_names(cls, rules: list[Rule]) -> list[Rule]:
        seen: dict[str, int] = {}
        for i, rule in enumerate(rules):
            if rule.name in seen:
                raise ValueError(f"rule name {rule.name!r} is used by rules {seen[rule.name]} and {i}")
            seen[rule.name] = i
        return rules

    def first_match(self, asset_type: str, score: float, fault_kind: str | None) -> Rule | None:
        return next((r for r in self.rules if r.when.matches(asset_type, score, fault_kind)), None)


def _minutes(clock: str) -> int:
    hours, minutes = clock.split(":")
    return int(hours) * 60 + int(minutes)
