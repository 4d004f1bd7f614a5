"""What an approval row carries of its decision, for operators to judge it (`explain`, `approval_item`)."""

from __future__ import annotations

import orjson

from edgeloop.io.store.approvals import approval_item, explain

RECORD = {"id": "d1", "ts": 100.0, "score": 0.97, "evidence": {"temp": 0.4, "vibration": 0.97}, "rule": "hot",
          "reason": "rule hot: waits for approval", "asset_type": "pump"}  # fmt: skip
COMMAND = {"id": "c1", "site": "s", "device": "p1", "name": "stop", "args": {"within_h": 2.0}, "decision": "d1"}


def test_an_approval_shows_its_decisions_score_rule_reason_and_metrics_highest_first() -> None:
    why = explain(RECORD)
    assert why == {"ts": 100.0, "score": 0.97, "metrics": {"vibration": 0.97, "temp": 0.4}, "rule": "hot",
                   "reason": "rule hot: waits for approval", "asset_type": "pump"}  # fmt: skip
    assert list(why["metrics"]) == ["vibration", "temp"]


def test_an_approval_whose_decision_is_missing_shows_nothing_made_up() -> None:
    assert explain(None) == {"ts": None, "score": None, "metrics": {}, "rule": None, "reason": None,
                             "asset_type": None}  # fmt: skip


def test_a_row_becomes_the_approval_with_its_command_its_status_and_its_decisions_why() -> None:
    row = ("d1", "p1", orjson.dumps(COMMAND).decode(), 10.0, 20.0, "expired", "edgeloop", "device failed", 15.0,
           None, orjson.dumps(RECORD).decode())  # fmt: skip
    item = approval_item(row)
    assert (item["answer"], item["why"], item["command"], item["command_status"]) == (
        "expired", "device failed", COMMAND, None
    )  # fmt: skip
    assert (item["score"], item["rule"], item["metrics"]) == (0.97, "hot", {"vibration": 0.97, "temp": 0.4})
