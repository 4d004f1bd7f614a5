"""The policy engine: one pure function from (what the agent saw, guard state, time) to a verdict.

Order: first matching rule -> the device's command envelope -> effective autonomy (capped at 2 above
`approval_above_cost`) -> autonomy 0 observes -> a held-out device is never acted on -> rate limits, max stopped,
quiet hours, an approval still open for the device -> recommend (1), ask for approval (2) or send (3).
Recommendations are informational: the time- and count-based guardrails are evaluated and named in the reason
but do not block them, since nothing is sent.

>>> from edgeloop.model import ArgSpec, CommandSpec, MetricSpec
>>> meta = DeviceMeta("p1", "pump", (MetricSpec("flow", "m3/h", 0, 100),),
...                   (CommandSpec("schedule_maintenance", (ArgSpec("within_h", 0, 24),)),))
>>> policy = Policy.model_validate({"autonomy": {"site": 3}, "rules": [{"name": "wear", "when": {"min_score": 0.9},
...     "action": "schedule_maintenance", "args": {"within_h": 2}}],
...     "guardrails": {"rate_limit": {"per_device": {"max": 1, "per_h": 24}}}})
>>> engine, state = PolicyEngine(policy), GuardState()
>>> verdict = engine.decide(DecisionContext("p1", "pump", 0.97, meta), state, now=1000.0)
>>> verdict.status, verdict.rule, verdict.reason
(<DecisionStatus.SENT: 'sent'>, 'wear', 'autonomy 3 (site 3): act')
>>> engine.record_sent(state, "p1", "schedule_maintenance", 1000.0)
>>> engine.decide(DecisionContext("p1", "pump", 0.97, meta), state, now=2000.0).reason
'guardrail rate_limit.per_device: p1: 1 action in the last 24 h, limit 1'
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from edgeloop.model import AutonomyLevel, DecisionStatus, DeviceMeta
from edgeloop.policy.schema import Policy, RateLimit, Rule
from edgeloop.policy.state import GuardState

ENVELOPE = "envelope"
APPROVAL_ABOVE_COST = "approval_above_cost"
RATE_PER_DEVICE = "rate_limit.per_device"
RATE_PER_SITE = "rate_limit.per_site"
MAX_STOPPED = "max_stopped"
QUIET_HOURS = "quiet_hours"
OPEN_APPROVAL = "open_approval"
_WOULD = {AutonomyLevel.RECOMMEND: "recommended", AutonomyLevel.APPROVE: "asked approval for"}


@dataclass(frozen=True, slots=True)
class DecisionContext:
    """What the agent knows when it decides about one device. `score` is the anomaly likelihood in [0, 1]."""

    device: str
    asset_type: str
    score: float
    meta: DeviceMeta
    fault_kind: str | None = None  # None: not known
    held_out: bool = False
    awaiting_approval: str | None = None  # a decision about this device that still waits for an operator

    def __post_init__(self) -> None:
        if not 0.0 <= self.score <= 1.0:  # also refuses NaN
            raise ValueError(f"score {self.score} is not an anomaly likelihood in [0, 1]")


@dataclass(frozen=True, slots=True)
class GuardCheck:
    """One guardrail's answer. A failed check blocks the action, except `approval_above_cost`, which caps
    autonomy at 2 instead."""

    name: str
    passed: bool
    detail: str

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "passed": self.passed, "detail": self.detail}


@dataclass(frozen=True, slots=True)
class PolicyVerdict:
    """What the policy decided for one decision; `guardrails` lists every check evaluated, in order."""

    status: DecisionStatus
    rule: str | None  # None: no rule matched, so no action
    action: str | None
    args: Mapping[str, float]
    autonomy: AutonomyLevel
    reason: str
    guardrails: tuple[GuardCheck, ...] = ()
    expires_at: float | None = None  # when a pending approval lapses

    @property
    def failed(self) -> tuple[GuardCheck, ...]:
        return tuple(c for c in self.guardrails if not c.passed)

    def to_record(self) -> dict[str, Any]:
        """JSON-ready; the agent stores `guardrails` in the decision record for `edgeloop policy explain`."""
        return {
            "status": str(self.status),
            "rule": self.rule,
            "action": self.action,
            "args": dict(self.args),
            "autonomy": int(self.autonomy),
            "reason": self.reason,
            "guardrails": [c.to_json() for c in self.guardrails],
            "expires_at": self.expires_at,
        }


@dataclass(frozen=True, slots=True)
class PolicyEngine:
    """Evaluates a `Policy`. Never changes the `GuardState` it is given; `record_sent` is the one method that
    does, for the agent to call when an action is really sent or approved."""

    policy: Policy
    _stopping: frozenset[str] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_stopping", frozenset(self.policy.guardrails.stopping_actions))

    @property
    def horizon_s(self) -> float:
        """The longest rate-limit window: actions older than this no longer count (see `GuardState.prune`)."""
        limits = self.policy.guardrails.rate_limit
        return max((r.window_s for r in (limits.per_device, limits.per_site) if r is not None), default=0.0)

    def record_sent(self, state: GuardState, device: str, action: str, ts: float) -> None:
        """Count an action against the rate limits and, if it stops the device, against `max_stopped`."""
        state.record_action(device, action, ts)
        if action in self._stopping:
            state.device_stopped(device)

    def expires_at(self, decided_at: float) -> float:
        return self.policy.approvals.expires_at(decided_at)

    def decide(
        self, ctx: DecisionContext, state: GuardState, now: float, expires_from: float | None = None
    ) -> PolicyVerdict:
        """The verdict on `ctx` at time `now` (what rate limits and quiet hours count in); an approval it asks
        for expires `approvals.expire_after_h` after `expires_from` (default `now`), the clock operators live by."""
        autonomy = self.policy.autonomy
        rule = self.policy.first_match(ctx.asset_type, ctx.score, ctx.fault_kind)
        if rule is None:
            kind = ctx.fault_kind or "unknown"
            return PolicyVerdict(
                DecisionStatus.OBSERVED,
                None,
                None,
                {},
                autonomy.level(ctx.asset_type, None),
                f"no rule matched (score {ctx.score:.3f}, fault kind {kind}, asset type {ctx.asset_type})",
            )
        static = (_envelope(rule, ctx.meta), self._cost(rule))
        level, source = self._autonomy(ctx.asset_type, rule)

        def verdict(status: DecisionStatus, reason: str, checks: tuple[GuardCheck, ...] = static) -> PolicyVerdict:
            start = now if expires_from is None else expires_from
            expires = self.expires_at(start) if status is DecisionStatus.PENDING_APPROVAL else None
            return PolicyVerdict(status, rule.name, rule.action, dict(rule.args), level, reason, checks, expires)

        if not static[0].passed:
            return verdict(DecisionStatus.BLOCKED, f"guardrail {ENVELOPE}: {static[0].detail}")
        if level is AutonomyLevel.OBSERVE:
            return verdict(DecisionStatus.OBSERVED, f"autonomy 0 ({source}): observe only, would be {rule.action}")
        if ctx.held_out:  # neither sent nor shown to anyone who could act on it: the holdout stays untouched
            done = _WOULD.get(level, "sent")
            return verdict(DecisionStatus.HELD_OUT, f"holdout device: would have {done} {rule.action}")
        dynamic = (
            _rate(RATE_PER_DEVICE, self.policy.guardrails.rate_limit.per_device, state, now, ctx.device),
            _rate(RATE_PER_SITE, self.policy.guardrails.rate_limit.per_site, state, now, None),
            self._max_stopped(rule.action, ctx.device, state),
            self._quiet_hours(rule.action, now),
            _open_approval(ctx),
        )
        checks = static + dynamic
        failed = [c for c in dynamic if not c.passed]
        head = f"autonomy {int(level)} ({source})"
        if level is AutonomyLevel.RECOMMEND:
            note = f"; acting on it now would be blocked by {', '.join(c.name for c in failed)}" if failed else ""
            return verdict(DecisionStatus.RECOMMENDED, f"{head}: recommended to an operator{note}", checks)
        if failed:
            also = f" (also {', '.join(c.name for c in failed[1:])})" if len(failed) > 1 else ""
            return verdict(DecisionStatus.BLOCKED, f"guardrail {failed[0].name}: {failed[0].detail}{also}", checks)
        if level is AutonomyLevel.APPROVE:
            return verdict(DecisionStatus.PENDING_APPROVAL, f"{head}: waits for approval", checks)
        return verdict(DecisionStatus.SENT, f"{head}: act", checks)

    # -- the parts ------------------------------------------------------------------------------------------------

    def _autonomy(self, asset_type: str, rule: Rule) -> tuple[AutonomyLevel, str]:
        """The effective level and, in words, where it came from."""
        autonomy = self.policy.autonomy
        if asset_type in autonomy.asset_types:
            base = autonomy.asset_types[asset_type]
            parts = [f"asset type {asset_type} {int(base)}"]
        else:
            base, parts = autonomy.site, [f"site {int(autonomy.site)}"]
        level = autonomy.level(asset_type, rule.action)
        if level < base:
            parts.append(f"action {rule.action} {int(level)}")
        threshold = self.policy.guardrails.approval_above_cost
        if rule.cost is not None and threshold is not None and rule.cost > threshold and level > AutonomyLevel.APPROVE:
            level = AutonomyLevel.APPROVE
            parts.append(f"cost {rule.cost:g} above {threshold:g}")
        return level, ", ".join(parts)

    def _cost(self, rule: Rule) -> GuardCheck:
        threshold = self.policy.guardrails.approval_above_cost
        if threshold is None:
            return GuardCheck(APPROVAL_ABOVE_COST, True, "no cost threshold set")
        if rule.cost is None:
            return GuardCheck(APPROVAL_ABOVE_COST, True, f"rule {rule.name} states no cost")
        if rule.cost > threshold:
            return GuardCheck(APPROVAL_ABOVE_COST, False, f"cost {rule.cost:g} above {threshold:g}: autonomy at most 2")
        return GuardCheck(APPROVAL_ABOVE_COST, True, f"cost {rule.cost:g} within {threshold:g}")

    def _max_stopped(self, action: str, device: str, state: GuardState) -> GuardCheck:
        limit = self.policy.guardrails.max_stopped
        if limit is None:
            return GuardCheck(MAX_STOPPED, True, "no limit set")
        if action not in self._stopping:
            return GuardCheck(MAX_STOPPED, True, f"{action} does not stop a device")
        if device in state.stopped:
            return GuardCheck(MAX_STOPPED, True, f"{device} is already stopped")
        stopped = len(state.stopped)
        devices = "device" if stopped == 1 else "devices"
        return GuardCheck(MAX_STOPPED, stopped < limit, f"{stopped} {devices} stopped, limit {limit}")

    def _quiet_hours(self, action: str, now: float) -> GuardCheck:
        quiet = self.policy.guardrails.quiet_hours
        if quiet is None:
            return GuardCheck(QUIET_HOURS, True, "no quiet hours set")
        local = datetime.fromtimestamp(now, quiet.zone)
        at = f"local time {local:%H:%M} {quiet.tz}"
        window = f"quiet hours {quiet.start}-{quiet.end}"
        if not quiet.contains(local.hour * 60 + local.minute):
            return GuardCheck(QUIET_HOURS, True, f"{at} is outside {window}")
        if action in quiet.allow:
            return GuardCheck(QUIET_HOURS, True, f"{at} is inside {window}, where {action} is allowed")
        return GuardCheck(QUIET_HOURS, False, f"{at} is inside {window}, where {action} is not allowed")


def _envelope(rule: Rule, meta: DeviceMeta) -> GuardCheck:
    spec = meta.command(rule.action)
    if spec is None:
        return GuardCheck(ENVELOPE, False, f"device {meta.device} has no command {rule.action!r}")
    broken = spec.check_args(rule.args)
    if broken is not None:
        return GuardCheck(ENVELOPE, False, f"{rule.action}: {broken}")
    return GuardCheck(ENVELOPE, True, f"{rule.action} {dict(rule.args)} within the device's limits")


def _open_approval(ctx: DecisionContext) -> GuardCheck:
    """One question to an operator per device at a time: a device still anomalous while its last decision waits
    for approval gets no second request (nor an action past the operator, if the autonomy went up meanwhile)."""
    if ctx.awaiting_approval is None:
        return GuardCheck(OPEN_APPROVAL, True, f"no approval open for {ctx.device}")
    return GuardCheck(OPEN_APPROVAL, False, f"decision {ctx.awaiting_approval} about {ctx.device} waits for approval")


def _rate(name: str, limit: RateLimit | None, state: GuardState, now: float, device: str | None) -> GuardCheck:
    if limit is None:
        return GuardCheck(name, True, "no limit set")
    done = state.count(since=now - limit.window_s, device=device)
    who = device if device is not None else "site"
    plural = "action" if done == 1 else "actions"
    detail = f"{who}: {done} {plural} in the last {limit.per_h:g} h, limit {limit.max}"
    return GuardCheck(name, done < limit.max, detail)
