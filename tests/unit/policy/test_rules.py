"""Rules: first match wins; score, asset type and fault kind conditions; no match means no action."""

from __future__ import annotations

import pytest
from tests.unit.policy.builders import NOON, ctx, policy

from edgeloop.model import DecisionStatus
from edgeloop.policy import DecisionContext, GuardState, PolicyEngine

RULES = [
    {"name": "bearing", "when": {"asset_type": "pump", "fault_kind": "bearing_wear"}, "action": "stop"},
    {"name": "known", "when": {"min_score": 0.95, "fault_kind": ["any"]}, "action": "reduce_speed",
     "args": {"factor": 0.5}},
    {"name": "unknown", "when": {"min_score": 0.95, "fault_kind": ["unknown"]}, "action": "schedule_maintenance",
     "args": {"within_h": 1}},
    {"name": "default", "when": {"min_score": 0.9}, "action": "schedule_maintenance", "args": {"within_h": 8}},
]  # fmt: skip


def rule_for(asset_type: str = "pump", score: float = 0.97, fault_kind: str | None = None) -> str | None:
    context = ctx(asset_type=asset_type, score=score, fault_kind=fault_kind)
    return PolicyEngine(policy(rules=RULES)).decide(context, GuardState(), NOON).rule


def test_the_first_matching_rule_wins() -> None:
    assert rule_for(fault_kind="bearing_wear", score=0.99) == "bearing"


def test_a_later_rule_matches_when_earlier_ones_do_not() -> None:
    assert rule_for(asset_type="motor", fault_kind="bearing_wear", score=0.99) == "known"


def test_any_matches_a_known_fault_kind_only() -> None:
    assert rule_for(fault_kind="cavitation", score=0.97) == "known"


def test_unknown_matches_a_missing_fault_kind() -> None:
    assert rule_for(fault_kind=None, score=0.97) == "unknown"


def test_min_score_is_inclusive_and_below_it_falls_through() -> None:
    assert rule_for(fault_kind="cavitation", score=0.95) == "known"
    assert rule_for(fault_kind="cavitation", score=0.94) == "default"


def test_the_matched_rule_gives_the_action_and_its_args() -> None:
    verdict = PolicyEngine(policy(rules=RULES)).decide(ctx(fault_kind="cavitation"), GuardState(), NOON)

    assert (verdict.action, dict(verdict.args)) == ("reduce_speed", {"factor": 0.5})


def test_no_matching_rule_means_no_action() -> None:
    verdict = PolicyEngine(policy(rules=RULES)).decide(ctx(score=0.5), GuardState(), NOON)

    assert verdict.rule is None
    assert verdict.action is None
    assert verdict.status is DecisionStatus.OBSERVED
    assert verdict.reason.startswith("no rule matched")


def test_a_score_outside_0_1_is_refused() -> None:
    with pytest.raises(ValueError, match="anomaly likelihood"):
        DecisionContext("p1", "pump", 1.5, ctx().meta)
