"""The agent's console: each decision as one line an operator reads."""

from __future__ import annotations

from dataclasses import replace

from tests.unit.ledger.builders import decision

from edgeloop.cli.agent import decision_line


def test_a_decision_is_one_line_with_device_score_metric_status_action_and_reason() -> None:
    d = replace(decision("pump-7", 1_700_000_000.0), evidence={"vibration": 0.99, "current": 0.2}, reason="act")

    line = decision_line(d)

    assert "\n" not in line
    assert line == "2023-11-14 22:13 pump-7: score 0.99 (vibration) -> sent schedule_maintenance: act"
