"""The minimal site policy: a sustained anomaly leads to one action, within the site's autonomy level and
the device's own command envelope. (Rules per asset type, guardrails and approvals grow here.)"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from edgeloop.model import AutonomyLevel, DecisionStatus, DeviceMeta


@dataclass(frozen=True, slots=True)
class Verdict:
    """What the policy allows for one decision."""

    status: DecisionStatus
    command: str | None
    args: Mapping[str, float]
    rule: str
    reason: str


@dataclass(frozen=True, slots=True)
class SitePolicy:
    """
    >>> from edgeloop.model import ArgSpec, CommandSpec, MetricSpec
    >>> meta = DeviceMeta("p1", "pump", (MetricSpec("flow", "m3/h", 0, 100),),
    ...                   (CommandSpec("schedule_maintenance", (ArgSpec("within_h", 0.0, 24.0),)),))
    >>> SitePolicy(AutonomyLevel.ACT, "schedule_maintenance", {"within_h": 0.5}).decide(meta).status
    <DecisionStatus.SENT: 'sent'>
    >>> SitePolicy(AutonomyLevel.ACT, "schedule_maintenance", {"within_h": 48}).decide(meta).reason
    'guardrail: within_h=48 outside [0.0, 24.0]'
    """

    autonomy: AutonomyLevel
    action: str
    action_args: Mapping[str, float] = field(default_factory=dict)
    rule: str = "sustained_anomaly"

    def decide(self, meta: DeviceMeta, held_out: bool = False) -> Verdict:
        spec = meta.command(self.action)
        if spec is None:
            return self._verdict(DecisionStatus.BLOCKED, f"guardrail: device has no command {self.action!r}")
        broken = spec.check_args(self.action_args)
        if broken is not None:
            return self._verdict(DecisionStatus.BLOCKED, f"guardrail: {broken}")
        if self.autonomy is AutonomyLevel.OBSERVE:
            return self._verdict(DecisionStatus.OBSERVED, "autonomy 0: observe only")
        if self.autonomy is AutonomyLevel.RECOMMEND:
            return self._verdict(DecisionStatus.RECOMMENDED, "autonomy 1: recommended to an operator")
        if self.autonomy is AutonomyLevel.APPROVE:
            return self._verdict(DecisionStatus.PENDING_APPROVAL, "autonomy 2: waits for approval")
        if held_out:
            return self._verdict(DecisionStatus.HELD_OUT, "holdout device: decided, not acted on")
        return self._verdict(DecisionStatus.SENT, "autonomy 3: act")

    def _verdict(self, status: DecisionStatus, reason: str) -> Verdict:
        return Verdict(status, self.action, dict(self.action_args), self.rule, reason)
