"""One test per guardrail: each blocks what it must, lets through what it may, and says so in its check."""

from __future__ import annotations

from dataclasses import replace

from tests.unit.policy.builders import NOON, ctx, policy, stop_rule, utc

from edgeloop.model import CommandSpec, DecisionStatus
from edgeloop.policy import GuardCheck, GuardState, PolicyEngine, PolicyVerdict

DAY = 24 * 3600.0


def check(verdict: PolicyVerdict, name: str) -> GuardCheck:
    return next(c for c in verdict.guardrails if c.name == name)


# -- envelope ---------------------------------------------------------------------------------------------------


def test_envelope_blocks_args_outside_the_device_limits() -> None:
    rules = [{"name": "late", "action": "schedule_maintenance", "args": {"within_h": 48}}]

    verdict = PolicyEngine(policy(rules=rules)).decide(ctx(), GuardState(), NOON)

    assert verdict.status is DecisionStatus.BLOCKED
    assert verdict.reason == "guardrail envelope: schedule_maintenance: within_h=48.0 outside [0.0, 24.0]"


def test_envelope_blocks_a_command_the_device_lacks() -> None:
    verdict = PolicyEngine(policy()).decide(ctx(commands=(CommandSpec("stop"),)), GuardState(), NOON)

    assert verdict.status is DecisionStatus.BLOCKED
    assert "has no command 'schedule_maintenance'" in check(verdict, "envelope").detail


def test_envelope_blocks_even_when_only_observing() -> None:
    rules = [{"name": "late", "action": "schedule_maintenance", "args": {"within_h": 48}}]

    verdict = PolicyEngine(policy(site=0, rules=rules)).decide(ctx(), GuardState(), NOON)

    assert verdict.status is DecisionStatus.BLOCKED


# -- rate limits ------------------------------------------------------------------------------------------------


def test_per_device_rate_limit_blocks_the_third_action_in_24_h() -> None:
    engine = PolicyEngine(policy(rate_limit={"per_device": {"max": 2, "per_h": 24}}))
    state = GuardState()
    engine.record_sent(state, "p1", "schedule_maintenance", NOON - 3600)
    engine.record_sent(state, "p1", "schedule_maintenance", NOON - 60)

    verdict = engine.decide(ctx(device="p1"), state, NOON)

    assert verdict.status is DecisionStatus.BLOCKED
    assert verdict.reason == "guardrail rate_limit.per_device: p1: 2 actions in the last 24 h, limit 2"


def test_per_device_rate_limit_counts_only_that_device_and_only_the_window() -> None:
    engine = PolicyEngine(policy(rate_limit={"per_device": {"max": 2, "per_h": 24}}))
    state = GuardState()
    engine.record_sent(state, "p1", "schedule_maintenance", NOON - DAY)  # just outside the window
    engine.record_sent(state, "p2", "schedule_maintenance", NOON - 60)
    engine.record_sent(state, "p1", "schedule_maintenance", NOON - 60)

    verdict = engine.decide(ctx(device="p1"), state, NOON)

    assert verdict.status is DecisionStatus.SENT
    assert check(verdict, "rate_limit.per_device").passed


def test_per_site_rate_limit_counts_every_device() -> None:
    engine = PolicyEngine(policy(rate_limit={"per_site": {"max": 3, "per_h": 1}}))
    state = GuardState()
    for device in ("p2", "p3", "p4"):
        engine.record_sent(state, device, "schedule_maintenance", NOON - 600)

    verdict = engine.decide(ctx(device="p1"), state, NOON)

    assert verdict.status is DecisionStatus.BLOCKED
    assert verdict.reason == "guardrail rate_limit.per_site: site: 3 actions in the last 1 h, limit 3"


def test_per_site_rate_limit_forgets_actions_older_than_its_window() -> None:
    engine = PolicyEngine(policy(rate_limit={"per_site": {"max": 3, "per_h": 1}}))
    state = GuardState()
    for device in ("p2", "p3", "p4"):
        engine.record_sent(state, device, "schedule_maintenance", NOON - 3601)

    assert engine.decide(ctx(device="p1"), state, NOON).status is DecisionStatus.SENT


# -- max stopped ------------------------------------------------------------------------------------------------


def test_max_stopped_blocks_stopping_one_device_too_many() -> None:
    engine = PolicyEngine(policy(max_stopped=2, rules=[stop_rule()]))
    state = GuardState()
    engine.record_sent(state, "p2", "stop", NOON - 600)
    engine.record_sent(state, "p3", "stop", NOON - 600)

    verdict = engine.decide(ctx(device="p1"), state, NOON)

    assert verdict.status is DecisionStatus.BLOCKED
    assert verdict.reason == "guardrail max_stopped: 2 devices stopped, limit 2"


def test_max_stopped_frees_a_place_when_a_device_starts_again() -> None:
    engine = PolicyEngine(policy(max_stopped=2, rules=[stop_rule()]))
    state = GuardState()
    engine.record_sent(state, "p2", "stop", NOON - 600)
    engine.record_sent(state, "p3", "stop", NOON - 600)
    state.device_started("p3")

    assert engine.decide(ctx(device="p1"), state, NOON).status is DecisionStatus.SENT


def test_max_stopped_lets_an_already_stopped_device_be_stopped_again() -> None:
    engine = PolicyEngine(policy(max_stopped=1, rules=[stop_rule()]))
    state = GuardState()
    engine.record_sent(state, "p1", "stop", NOON - 600)

    verdict = engine.decide(ctx(device="p1"), state, NOON)

    assert verdict.status is DecisionStatus.SENT
    assert check(verdict, "max_stopped").detail == "p1 is already stopped"


def test_max_stopped_does_not_count_actions_that_do_not_stop() -> None:
    engine = PolicyEngine(policy(max_stopped=0))

    verdict = engine.decide(ctx(), GuardState(), NOON)

    assert verdict.status is DecisionStatus.SENT
    assert check(verdict, "max_stopped").detail == "schedule_maintenance does not stop a device"


# -- quiet hours ------------------------------------------------------------------------------------------------

QUIET = {"start": "22:00", "end": "06:00", "tz": "UTC", "allow": ["schedule_maintenance"]}


def test_quiet_hours_block_a_disallowed_action_after_midnight() -> None:
    engine = PolicyEngine(policy(quiet_hours=QUIET, rules=[stop_rule()]))

    verdict = engine.decide(ctx(), GuardState(), utc(3, 30))

    assert verdict.status is DecisionStatus.BLOCKED
    assert verdict.reason == (
        "guardrail quiet_hours: local time 03:30 UTC is inside quiet hours 22:00-06:00, where stop is not allowed"
    )


def test_quiet_hours_block_before_midnight_too() -> None:
    engine = PolicyEngine(policy(quiet_hours=QUIET, rules=[stop_rule()]))

    assert engine.decide(ctx(), GuardState(), utc(22, 0)).status is DecisionStatus.BLOCKED


def test_quiet_hours_end_at_their_end_time() -> None:
    engine = PolicyEngine(policy(quiet_hours=QUIET, rules=[stop_rule()]))

    assert engine.decide(ctx(), GuardState(), utc(6, 0)).status is DecisionStatus.SENT


def test_quiet_hours_let_allowed_actions_through() -> None:
    engine = PolicyEngine(policy(quiet_hours=QUIET))

    verdict = engine.decide(ctx(), GuardState(), utc(23, 0))

    assert verdict.status is DecisionStatus.SENT
    assert "where schedule_maintenance is allowed" in check(verdict, "quiet_hours").detail


def test_quiet_hours_follow_the_local_time_zone() -> None:
    berlin = {**QUIET, "tz": "Europe/Berlin", "allow": []}
    engine = PolicyEngine(policy(quiet_hours=berlin))

    verdict = engine.decide(ctx(), GuardState(), utc(21, 30))  # 22:30 in Berlin in March (CET)

    assert verdict.status is DecisionStatus.BLOCKED
    assert "local time 22:30 Europe/Berlin" in verdict.reason


# -- an approval still open ------------------------------------------------------------------------------------


def test_an_open_approval_blocks_a_second_request_for_the_same_device() -> None:
    waiting = replace(ctx(), awaiting_approval="d1")

    verdict = PolicyEngine(policy(site=2)).decide(waiting, GuardState(), NOON)

    assert verdict.status is DecisionStatus.BLOCKED
    assert verdict.reason == "guardrail open_approval: decision d1 about p1 waits for approval"


def test_an_open_approval_does_not_block_a_recommendation() -> None:
    waiting = replace(ctx(), awaiting_approval="d1")

    verdict = PolicyEngine(policy(site=1)).decide(waiting, GuardState(), NOON)

    assert verdict.status is DecisionStatus.RECOMMENDED
    assert verdict.reason.endswith("acting on it now would be blocked by open_approval")


# -- how guardrails combine -------------------------------------------------------------------------------------


def test_every_guardrail_evaluated_is_listed_in_order() -> None:
    verdict = PolicyEngine(policy()).decide(ctx(), GuardState(), NOON)

    assert [c.name for c in verdict.guardrails] == [
        "envelope",
        "approval_above_cost",
        "rate_limit.per_device",
        "rate_limit.per_site",
        "max_stopped",
        "quiet_hours",
        "open_approval",
    ]
    assert all(c.passed for c in verdict.guardrails)


def test_a_block_names_every_failing_guardrail() -> None:
    engine = PolicyEngine(policy(max_stopped=0, quiet_hours={**QUIET, "allow": []}, rules=[stop_rule()]))

    verdict = engine.decide(ctx(), GuardState(), utc(23, 0))

    assert [c.name for c in verdict.failed] == ["max_stopped", "quiet_hours"]
    assert verdict.reason.endswith("(also quiet_hours)")


def test_guardrails_do_not_block_a_recommendation_but_are_named() -> None:
    engine = PolicyEngine(policy(site=1, quiet_hours={**QUIET, "allow": []}))

    verdict = engine.decide(ctx(), GuardState(), utc(23, 0))

    assert verdict.status is DecisionStatus.RECOMMENDED
    assert verdict.reason.endswith("acting on it now would be blocked by quiet_hours")


def test_guardrails_block_a_request_for_approval() -> None:
    engine = PolicyEngine(policy(site=2, quiet_hours={**QUIET, "allow": []}))

    assert engine.decide(ctx(), GuardState(), utc(23, 0)).status is DecisionStatus.BLOCKED


def test_deciding_never_changes_the_guard_state() -> None:
    engine = PolicyEngine(policy(rate_limit={"per_device": {"max": 5, "per_h": 24}}))
    state = GuardState()
    engine.record_sent(state, "p1", "schedule_maintenance", NOON - 60)
    before = state.to_json()

    engine.decide(ctx(), state, NOON)

    assert state.to_json() == before
