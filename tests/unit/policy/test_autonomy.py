"""Autonomy levels: each level's status, the asset-type and action overrides, and the cost cap."""

from __future__ import annotations

import pytest
from tests.unit.policy.builders import NOON, ctx, policy, stop_rule

from edgeloop.model import AutonomyLevel, DecisionStatus
from edgeloop.policy import GuardState, PolicyEngine


@pytest.mark.parametrize(
    ("level", "status"),
    [
        (0, DecisionStatus.OBSERVED),
        (1, DecisionStatus.RECOMMENDED),
        (2, DecisionStatus.PENDING_APPROVAL),
        (3, DecisionStatus.SENT),
    ],
)
def test_each_site_level_gives_its_status(level: int, status: DecisionStatus) -> None:
    verdict = PolicyEngine(policy(site=level)).decide(ctx(), GuardState(), NOON)

    assert verdict.status is status
    assert verdict.autonomy == level


def test_an_asset_type_level_replaces_the_site_level() -> None:
    engine = PolicyEngine(policy(site=1, asset_types={"pump": 3}))

    assert engine.decide(ctx(asset_type="pump"), GuardState(), NOON).status is DecisionStatus.SENT
    assert engine.decide(ctx(asset_type="motor"), GuardState(), NOON).status is DecisionStatus.RECOMMENDED


def test_an_action_level_lowers_the_asset_type_level() -> None:
    engine = PolicyEngine(policy(site=1, asset_types={"pump": 3}, actions={"stop": 2}, rules=[stop_rule()]))

    verdict = engine.decide(ctx(), GuardState(), NOON)

    assert verdict.status is DecisionStatus.PENDING_APPROVAL
    assert verdict.autonomy is AutonomyLevel.APPROVE
    assert "action stop 2" in verdict.reason


def test_an_action_level_never_raises_the_asset_type_level() -> None:
    engine = PolicyEngine(policy(site=1, actions={"stop": 3}, rules=[stop_rule()]))

    assert engine.decide(ctx(), GuardState(), NOON).status is DecisionStatus.RECOMMENDED


def test_a_cost_above_the_threshold_forces_approval_at_level_3() -> None:
    engine = PolicyEngine(policy(site=3, approval_above_cost=5000, rules=[stop_rule(cost=6000)]))

    verdict = engine.decide(ctx(), GuardState(), NOON)

    assert verdict.status is DecisionStatus.PENDING_APPROVAL
    assert verdict.autonomy is AutonomyLevel.APPROVE
    check = next(c for c in verdict.guardrails if c.name == "approval_above_cost")
    assert not check.passed
    assert "6000 above 5000" in check.detail


def test_a_cost_at_the_threshold_does_not_need_approval() -> None:
    engine = PolicyEngine(policy(site=3, approval_above_cost=5000, rules=[stop_rule(cost=5000)]))

    assert engine.decide(ctx(), GuardState(), NOON).status is DecisionStatus.SENT


def test_a_cost_cap_never_raises_a_lower_level() -> None:
    engine = PolicyEngine(policy(site=1, approval_above_cost=5000, rules=[stop_rule(cost=6000)]))

    assert engine.decide(ctx(), GuardState(), NOON).autonomy is AutonomyLevel.RECOMMEND


def test_a_pending_approval_expires_after_the_policy_hours() -> None:
    engine = PolicyEngine(policy(site=2))

    verdict = engine.decide(ctx(), GuardState(), NOON)

    assert verdict.expires_at == NOON + 4 * 3600


def test_only_a_pending_approval_carries_an_expiry() -> None:
    assert PolicyEngine(policy(site=3)).decide(ctx(), GuardState(), NOON).expires_at is None


def test_a_held_out_device_is_never_acted_on() -> None:
    verdict = PolicyEngine(policy(site=3)).decide(ctx(held_out=True), GuardState(), NOON)

    assert verdict.status is DecisionStatus.HELD_OUT
    assert verdict.reason == "holdout device: would have sent schedule_maintenance"


def test_a_held_out_device_is_not_recommended_either() -> None:
    verdict = PolicyEngine(policy(site=1)).decide(ctx(held_out=True), GuardState(), NOON)

    assert verdict.status is DecisionStatus.HELD_OUT
    assert "would have recommended" in verdict.reason


def test_observe_wins_over_holdout() -> None:
    verdict = PolicyEngine(policy(site=0)).decide(ctx(held_out=True), GuardState(), NOON)

    assert verdict.status is DecisionStatus.OBSERVED
