"""Rules, guardrails and autonomy levels. Pure: no I/O, no wall clock (`load_policy` reads the one file)."""

from edgeloop.policy.engine import DecisionContext, GuardCheck, PolicyEngine, PolicyVerdict
from edgeloop.policy.load import PolicyError, load_policy, parse_policy
from edgeloop.policy.schema import (
    Approvals,
    Autonomy,
    Guardrails,
    Policy,
    QuietHours,
    RateLimit,
    RateLimits,
    Rule,
    When,
)
from edgeloop.policy.state import ActionRecord, GuardState

__all__ = [
    "ActionRecord",
    "Approvals",
    "Autonomy",
    "DecisionContext",
    "GuardCheck",
    "GuardState",
    "Guardrails",
    "Policy",
    "PolicyEngine",
    "PolicyError",
    "PolicyVerdict",
    "QuietHours",
    "RateLimit",
    "RateLimits",
    "Rule",
    "When",
    "load_policy",
    "parse_policy",
]
