"""GuardState: what the agent persists between runs, and its eviction rule."""

from __future__ import annotations

import json

import pytest
from tests.unit.policy.builders import policy

from edgeloop.policy import GuardState, PolicyEngine


def test_guard_state_survives_a_json_round_trip() -> None:
    state = GuardState()
    state.record_action("p1", "stop", 100.0)
    state.record_action("p2", "schedule_maintenance", 250.5)
    state.device_stopped("p1")

    again = GuardState.from_json(json.loads(json.dumps(state.to_json())))

    assert again == state


def test_a_guard_state_of_another_format_is_refused() -> None:
    with pytest.raises(ValueError, match="format"):
        GuardState.from_json({"format": 99, "actions": [], "stopped": []})


def test_a_malformed_guard_state_is_refused() -> None:
    with pytest.raises(ValueError, match="bad guard state"):
        GuardState.from_json({"format": 1, "actions": [["p1", "stop"]], "stopped": []})


def test_prune_forgets_only_actions_at_or_before_the_cut() -> None:
    state = GuardState()
    for ts in (10.0, 20.0, 30.0):
        state.record_action("p1", "stop", ts)

    gone = state.prune(before=20.0)

    assert gone == 2
    assert [a.ts for a in state.actions] == [30.0]


def test_the_horizon_is_the_longest_rate_limit_window() -> None:
    limits = {"per_device": {"max": 2, "per_h": 24}, "per_site": {"max": 9, "per_h": 1}}
    engine = PolicyEngine(policy(rate_limit=limits))

    assert engine.horizon_s == 24 * 3600


def test_record_sent_marks_a_stopping_action_stopped() -> None:
    state = GuardState()

    PolicyEngine(policy()).record_sent(state, "p1", "stop", 5.0)

    assert state.stopped == {"p1"}
