"""The agent's one send path goes through the policy's guardrails; a block is a decision with its reason."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import orjson
import pytest
from typer.testing import CliRunner

from edgeloop.agent.ledger_writer import LedgerWriter
from edgeloop.agent.service import make_learner, make_policy
from edgeloop.agent.site import SiteAgent
from edgeloop.cli import app
from edgeloop.io.loopback import Loopback
from edgeloop.settings import load_settings

from .test_ledger_writer import SITE, T0, announce, telemetry

if TYPE_CHECKING:
    from tests.conftest import StoreBackend

POLICY = """
version: 1
autonomy: {site: 3}
rules:
  - {name: any-anomaly, when: {min_score: 0.9}, action: schedule_maintenance, args: {within_h: 0.5}}
guardrails:
  rate_limit:
    per_device: {max: 1, per_h: 24}
"""


def test_a_second_action_within_the_rate_limit_is_blocked_and_explained(
    tmp_path: Path, store_backend: StoreBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    if store_backend.url:  # `edgeloop policy explain` reads the same store
        monkeypatch.setenv("EDGELOOP_STORE__URL", store_backend.url)
    policy_file = tmp_path / "policy.yaml"
    policy_file.write_text(POLICY)
    agent_cfg = {"site": SITE, "data_dir": tmp_path, "policy": policy_file, "cooldown_s": 0}
    settings = load_settings(None, agent=agent_cfg, ledger={"holdout_fraction": 0.0})
    store_backend.path = settings.agent.db_path
    store = store_backend.agent_store(SITE)
    link = Loopback()
    agent = SiteAgent(settings.agent, link, store, make_learner(), make_policy(settings.agent),
                      LedgerWriter.open(store, settings.ledger), clock=lambda: T0 + 1e6)  # fmt: skip
    announce(agent, link, ["pump-1"])
    normal = [4.0 + 0.05 * (i % 3) for i in range(100)]
    telemetry(link, ["pump-1"], [*normal, *[20.0] * 4, *normal[:10], *[40.0] * 4], 0)
    agent.handle_batch(link.drain(10_000))
    store.flush()

    rows = store.query("SELECT id, status, record FROM decisions ORDER BY ts")  # type: ignore[attr-defined]
    store.close()
    assert [r[1] for r in rows] == ["sent", "blocked"]
    assert agent.stats.blocked == 1
    assert "rate_limit.per_device" in rows[1][2]
    result = CliRunner().invoke(app, ["policy", "explain", rows[1][0], "--site", SITE, "--data-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "rate_limit.per_device" in result.output


def test_a_blocked_decision_carries_the_action_it_proposed_and_sends_nothing(
    tmp_path: Path, store_backend: StoreBackend
) -> None:
    policy_file = tmp_path / "policy.yaml"
    policy_file.write_text(POLICY)
    agent_cfg = {"site": SITE, "data_dir": tmp_path, "policy": policy_file, "cooldown_s": 0}
    settings = load_settings(None, agent=agent_cfg, ledger={"holdout_fraction": 0.0})
    store_backend.path = settings.agent.db_path
    store = store_backend.agent_store(SITE)
    link = Loopback()
    agent = SiteAgent(settings.agent, link, store, make_learner(), make_policy(settings.agent),
                      LedgerWriter.open(store, settings.ledger), clock=lambda: T0 + 1e6)  # fmt: skip
    announce(agent, link, ["pump-1"])
    normal = [4.0 + 0.05 * (i % 3) for i in range(100)]
    telemetry(link, ["pump-1"], [*normal, *[20.0] * 4, *normal[:10], *[40.0] * 4], 0)
    agent.handle_batch(link.drain(10_000))
    store.flush()

    rows = store.query("SELECT status, record FROM decisions ORDER BY ts")  # type: ignore[attr-defined]
    store.close()
    blocked = orjson.loads(rows[1][1])
    assert rows[1][0] == "blocked"
    assert blocked["action"]["name"] == "schedule_maintenance"
    assert agent.stats.commands_sent == 1
