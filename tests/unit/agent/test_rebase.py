"""A gated learner under a false-alarm budget: a lasting anomaly holds its normal model, and an operator's
`new_normal` verdict re-bases it, with a record in the audit log."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import orjson

from edgeloop.agent.ledger_writer import LedgerWriter
from edgeloop.agent.service import make_learner, make_policy
from edgeloop.agent.site import SiteAgent
from edgeloop.io.loopback import Loopback
from edgeloop.io.store import SqliteStore
from edgeloop.learn.calibrated import Calibrated
from edgeloop.learn.catalog import commissioned_parts
from edgeloop.settings import load_settings

T0 = 1_700_006_400.0
META = {"device": "pump-1", "asset_type": "pump", "metrics": {"vibration": {"unit": "mm/s", "low": 0, "high": 50}},
        "commands": {"schedule_maintenance": {"args": {"within_h": {"low": 0, "high": 24}}}}}  # fmt: skip


def test_a_new_normal_verdict_rebases_the_held_device_and_is_logged(tmp_path: Path) -> None:
    agent_settings = {"site": "s1", "data_dir": tmp_path, "learner": "ewma_noise_timed_spot",
                      "false_alarms_per_device_day": 1.0}  # fmt: skip
    settings = load_settings(None, agent=agent_settings, ledger={"holdout_fraction": 0.0})
    store = SqliteStore(settings.agent.db_path, "s1")
    link, now = Loopback(), T0
    agent = SiteAgent(settings.agent, link, store, make_learner(settings.agent), make_policy(settings.agent),
                      LedgerWriter.open(store, settings.ledger), clock=lambda: now)  # fmt: skip
    records: list[tuple[str, dict[str, Any]]] = []
    agent.record = lambda kind, body, at: records.append((kind, body))  # type: ignore[method-assign]
    link.deliver("edgeloop/v1/s1/pump-1/meta", orjson.dumps(META), retain=True)
    rng = np.random.default_rng(0)
    values = np.r_[3 + rng.normal(0, 0.2, 1500), 9 + rng.normal(0, 0.2, 300)]  # a lasting jump at the end
    for i, v in enumerate(values.tolist()):
        ts = T0 - 15 * (len(values) - i)
        link.deliver("edgeloop/v1/s1/pump-1/telemetry", orjson.dumps({"ts": ts, "metrics": {"vibration": v}}))
    agent.handle_batch(link.drain(10_000))
    (gated,) = [agent.learner] if isinstance(agent.learner, Calibrated) else []
    key = np.array(list(agent.registry.get("pump-1").keys.values()))  # type: ignore[union-attr]
    decision = agent.dispatcher.last_decision.get("pump-1")

    assert decision is not None
    assert gated.held(key).all()
    agent.store.flush()
    assert agent.approvals.take("verdict", decision, "new_normal", "op", "retooled", now) == "recorded"
    assert not gated.held(key).any()
    assert ("rebase", {"device": "pump-1", "ts": T0 - 15, "reason": "new_normal",
                       "metrics": ["vibration"]}) in records  # fmt: skip
    store.close()


def test_a_new_normal_verdict_makes_a_commissioned_model_learn_afresh(tmp_path: Path) -> None:
    meta = {**META, "metrics": {"current": {"unit": "A", "low": 0, "high": 500},
                                "flow": {"unit": "m3/h", "low": 0, "high": 500}}}  # fmt: skip
    agent_settings = {"site": "s1", "data_dir": tmp_path, "learner": "device_pca_trained"}
    settings = load_settings(None, agent=agent_settings, ledger={"holdout_fraction": 0.0})
    store = SqliteStore(settings.agent.db_path, "s1")
    link, now = Loopback(), T0
    agent = SiteAgent(settings.agent, link, store, make_learner(settings.agent), make_policy(settings.agent),
                      LedgerWriter.open(store, settings.ledger), clock=lambda: now)  # fmt: skip
    (model,) = commissioned_parts(agent.learner)
    model.commission(300)
    records: list[tuple[str, dict[str, Any]]] = []
    agent.record = lambda kind, body, at: records.append((kind, body))  # type: ignore[method-assign]
    link.deliver("edgeloop/v1/s1/pump-1/meta", orjson.dumps(meta), retain=True)
    rng = np.random.default_rng(0)
    load = rng.normal(100, 10, 800)
    current = 2 * load + rng.normal(0, 1, 800)
    current[600:] += 40  # current up against the flow, for good: the pump was retooled
    for i in range(800):
        ts = T0 - 15 * (800 - i)
        body = {"ts": ts, "metrics": {"current": float(current[i]), "flow": float(load[i])}}
        link.deliver("edgeloop/v1/s1/pump-1/telemetry", orjson.dumps(body))
    agent.handle_batch(link.drain(10_000))
    decision = agent.dispatcher.last_decision.get("pump-1")

    assert decision is not None
    assert int(model._seen[0]) == 300  # the commissioning rows only: the fault was not learnt
    agent.store.flush()
    assert agent.approvals.take("verdict", decision, "new_normal", "op", "retooled", now) == "recorded"
    assert int(model._seen[0]) == 0
    assert ("rebase", {"device": "pump-1", "ts": T0 - 15, "reason": "new_normal",
                       "metrics": ["current", "flow"]}) in records  # fmt: skip
    store.close()
