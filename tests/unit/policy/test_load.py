"""Loading a policy: the shipped default, and every bad file named by field and YAML line."""

from __future__ import annotations

from pathlib import Path

import pytest

from edgeloop.model import AutonomyLevel
from edgeloop.policy import PolicyError, load_policy, parse_policy

GOOD = """\
version: 1
autonomy:
  site: 1
  asset_types: {pump: 3}
  actions: {stop: 2}
rules:
  - name: bearing-wear-pumps
    when: {asset_type: pump, min_score: 0.95, fault_kind: [bearing_wear, any]}
    action: schedule_maintenance
    args: {within_h: 0.5}
    cost: 1500
  - name: default
    when: {min_score: 0.9}
    action: schedule_maintenance
    args: {within_h: 2}
guardrails:
  rate_limit:
    per_device: {max: 2, per_h: 24}
    per_site: {max: 20, per_h: 1}
  max_stopped: 3
  stopping_actions: [stop]
  quiet_hours: {start: "22:00", end: "06:00", tz: "UTC", allow: [schedule_maintenance]}
  approval_above_cost: 5000
approvals:
  expire_after_h: 4
"""


def error_of(text: str) -> PolicyError:
    with pytest.raises(PolicyError) as caught:
        parse_policy(text, "site.yaml")
    return caught.value


def test_the_documented_example_loads() -> None:
    policy = parse_policy(GOOD)

    assert [r.name for r in policy.rules] == ["bearing-wear-pumps", "default"]
    assert policy.autonomy.asset_types == {"pump": AutonomyLevel.ACT}
    assert policy.guardrails.quiet_hours is not None
    assert policy.guardrails.quiet_hours.allow == ["schedule_maintenance"]


def test_the_default_policy_is_todays_behaviour() -> None:
    policy = load_policy()

    assert policy.autonomy.site is AutonomyLevel.RECOMMEND
    assert [(r.when.min_score, r.action, r.args) for r in policy.rules] == [
        (0.9, "schedule_maintenance", {"within_h": 0.5})
    ]
    rates = policy.guardrails.rate_limit
    assert rates.per_device is not None
    assert (rates.per_device.max, rates.per_device.per_h) == (2, 24)
    assert rates.per_site is not None
    assert (rates.per_site.max, rates.per_site.per_h) == (30, 1)
    assert policy.guardrails.max_stopped == 5
    assert policy.guardrails.quiet_hours is None
    assert policy.guardrails.approval_above_cost == 10000
    assert policy.approvals.expire_after_h == 4


def test_load_policy_reads_a_file(tmp_path: Path) -> None:
    path = tmp_path / "site.yaml"
    path.write_text(GOOD)

    assert len(load_policy(path).rules) == 2


def test_an_autonomy_level_of_5_names_its_line() -> None:
    error = error_of(GOOD.replace("asset_types: {pump: 3}", "asset_types: {pump: 5}"))

    assert error.field == "autonomy.asset_types.pump"
    assert error.line == 4
    assert "site.yaml line 4" in str(error)


def test_an_unknown_key_names_its_line() -> None:
    error = error_of(GOOD.replace("  max_stopped: 3\n", "  max_stoped: 3\n"))

    assert error.field == "guardrails.max_stoped"
    assert error.line == 20
    assert "Extra inputs are not permitted" in error.reason


def test_an_unknown_key_with_a_block_value_names_the_key_line_not_the_value_line() -> None:
    error = error_of(GOOD.replace("approvals:\n  expire_after_h: 4\n", "aprovals:\n  expire_after_h: 4\n"))

    assert error.field == "aprovals"
    assert error.line == 24


def test_a_missing_action_names_the_rule_line() -> None:
    error = error_of(GOOD.replace("    action: schedule_maintenance\n    args: {within_h: 2}\n", ""))

    assert error.field == "rules.1.action"
    assert error.line == 12


def test_a_min_score_above_1_names_its_line() -> None:
    error = error_of(GOOD.replace("min_score: 0.9}", "min_score: 1.5}"))

    assert error.field == "rules.1.when.min_score"
    assert error.line == 13


def test_a_bad_quiet_hours_clock_is_refused() -> None:
    error = error_of(GOOD.replace('start: "22:00"', 'start: "24:00"'))

    assert error.field == "guardrails.quiet_hours.start"
    assert error.line == 22
    assert "HH:MM" in error.reason


def test_an_unknown_time_zone_is_refused() -> None:
    error = error_of(GOOD.replace('tz: "UTC"', 'tz: "Mars/Olympus"'))

    assert error.field == "guardrails.quiet_hours.tz"
    assert "unknown time zone" in error.reason


def test_two_rules_with_one_name_are_refused() -> None:
    error = error_of(GOOD.replace("name: default", "name: bearing-wear-pumps"))

    assert error.field == "rules"
    assert "used by rules 0 and 1" in error.reason


def test_a_key_given_twice_is_refused_at_its_second_line() -> None:
    error = error_of(GOOD.replace("  max_stopped: 3\n", "  max_stopped: 3\n  max_stopped: 30\n"))

    assert error.field == "guardrails.max_stopped"
    assert error.line == 21


def test_an_unsupported_version_is_refused() -> None:
    error = error_of(GOOD.replace("version: 1", "version: 2"))

    assert error.field == "version"
    assert error.line == 1


def test_broken_yaml_names_its_line() -> None:
    error = error_of("version: 1\nrules: [\n  {name: a\n")

    assert error.field == "(file)"
    assert error.line is not None
    assert "not valid YAML" in error.reason


def test_a_file_that_is_not_a_mapping_is_refused() -> None:
    assert error_of("- just\n- a list\n").field == "(file)"
