"""Thresholds learn from verdicts and maintenance outcomes; the agent applies them."""

from __future__ import annotations

from pathlib import Path

import orjson

from edgeloop.agent.ledger_writer import LedgerWriter
from edgeloop.agent.service import make_learner, make_policy
from edgeloop.agent.site import SiteAgent
from edgeloop.io.loopback import Loopback
from edgeloop.io.store import SqliteStore
from edgeloop.learn.feedback import ThresholdFeedback
from edgeloop.settings import load_settings

SITE = "fb"
T0 = 1_700_006_400.0


def test_false_alarms_raise_the_device_threshold_more_than_the_asset_types() -> None:
    fb = ThresholdFeedback(base=0.9)
    for i in range(3):
        fb.false_alarm(f"d{i}", "p1", "pump")
    assert fb.threshold("p1", "pump") > fb.threshold("p2", "pump") > 0.9
    assert fb.threshold("m1", "motor") == 0.9


def test_one_false_alarm_between_true_faults_does_not_move_the_device() -> None:
    fb = ThresholdFeedback(base=0.9, type_step=0.0)
    fb.true_fault("d0", "p1", "pump")
    fb.false_alarm("d1", "p1", "pump")  # an operator's slip on a device that has real faults
    fb.true_fault("d2", "p1", "pump")
    fb.false_alarm("d3", "p1", "pump")

    assert fb.threshold("p1", "pump") == 0.9


def test_a_true_fault_never_lowers_a_threshold_below_the_base() -> None:
    fb = ThresholdFeedback(base=0.9)
    for i in range(5):
        fb.true_fault(f"d{i}", "p1", "pump")
    assert fb.threshold("p1", "pump") == 0.9


def test_maintenance_that_found_nothing_raises_the_devices_threshold_in_the_agent(tmp_path: Path) -> None:
    settings = load_settings(None, agent={"site": SITE, "autonomy": 3}, ledger={"holdout_fraction": 0.0})
    store = SqliteStore(tmp_path / "edgeloop.db", SITE)
    link = Loopback()
    policy = make_policy(settings.agent)
    agent = SiteAgent(settings.agent, link, store, make_learner(), policy, LedgerWriter.open(store, settings.ledger),
                      clock=lambda: T0 + 1e6)  # fmt: skip
    meta = {"device": "pump-1", "asset_type": "pump", "metrics": {"vibration": {"unit": "mm/s", "low": 0, "high": 50}},
            "commands": {"schedule_maintenance": {"args": {"within_h": {"low": 0, "high": 24}}}}}  # fmt: skip
    link.deliver(f"edgeloop/v1/{SITE}/pump-1/meta", orjson.dumps(meta), retain=True)
    for i, v in enumerate([4.0 + 0.05 * (i % 3) for i in range(100)] + [20.0] * 6):
        link.deliver(
            f"edgeloop/v1/{SITE}/pump-1/telemetry", orjson.dumps({"ts": T0 + 15 * i, "metrics": {"vibration": v}})
        )
    agent.handle_batch(link.drain(1000))
    assert agent.stats.decisions == 1
    before = agent.stage.feedback.thresholds.threshold("pump-1", "pump")

    found_nothing = {"ts": T0 + 3000, "kind": "maintenance_started", "found": None}
    link.deliver(f"edgeloop/v1/{SITE}/pump-1/event", orjson.dumps(found_nothing))
    agent.handle_batch(link.drain(10))
    store.close()
    assert agent.stage.feedback.thresholds.threshold("pump-1", "pump") > before
