"""Shadow testing through the agent: a challenger that catches what the champion misses is promoted, the
promotion is in the verified audit log, and the new champion decides from then on, across restarts."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from edgeloop.agent.ledger_writer import LedgerWriter
from edgeloop.agent.service import make_learner, make_policy, site_key
from edgeloop.agent.site import SiteAgent
from edgeloop.audit import AuditLog
from edgeloop.audit.directory import LOG_FILE
from edgeloop.cli import app
from edgeloop.io.loopback import Loopback
from edgeloop.io.store import SqliteStore
from edgeloop.settings import Settings, load_settings

from .test_ledger_writer import SITE, T0, announce, telemetry

# the champion needs 1,000 anomalous samples in a row: it misses every fault of this test
SELECTION = """
data: test
asset_types:
  pump: {learner: robust_ewma, threshold: 0.9, sustain: 1000}
"""
DEVICES = [f"pump-{i}" for i in range(5)]


def settings_in(tmp_path: Path, **agent: object) -> Settings:
    selection = tmp_path / "selection.yaml"
    selection.write_text(SELECTION)
    cfg = {"site": SITE, "data_dir": tmp_path, "autonomy": 3, "selection": selection, "promote_min_labels": 3,
           "challengers": ["ewma_noise"], **agent}  # fmt: skip
    return load_settings(None, agent=cfg, ledger={"holdout_fraction": 0.0})


def open_agent(settings: Settings, store: SqliteStore, audit: AuditLog | None = None) -> tuple[SiteAgent, Loopback]:
    link = Loopback()
    books = LedgerWriter.open(store, settings.ledger)
    agent = SiteAgent(settings.agent, link, store, make_learner(settings.agent), make_policy(settings.agent),
                      books, audit, clock=lambda: T0 + 1e6)  # fmt: skip
    return agent, link


def fail(agent: SiteAgent, link: Loopback, device: str, step: int) -> None:
    event = {"ts": T0 + 15 * step, "kind": "failure", "downtime_s": 3600}
    link.deliver(f"edgeloop/v1/{SITE}/{device}/event", orjson.dumps(event))
    agent.handle_batch(link.drain(100))


@pytest.fixture
def run(tmp_path: Path) -> tuple[Settings, SqliteStore, SiteAgent, AuditLog]:
    """Three faults the champion misses and the challenger catches, each followed by the device's failure."""
    settings = settings_in(tmp_path)
    store = SqliteStore(settings.agent.db_path, SITE)
    audit = AuditLog.open(settings.agent.audit_dir, site_key(settings.agent))
    agent, link = open_agent(settings, store, audit)
    announce(agent, link, DEVICES)
    telemetry(link, DEVICES, [4.0 + 0.05 * (i % 3) for i in range(200)], 0)
    agent.handle_batch(link.drain(10_000))
    for k, device in enumerate(DEVICES[:3]):
        step = 200 + 20 * k
        telemetry(link, [device], [20.0] * 6, step)
        agent.handle_batch(link.drain(10_000))
        fail(agent, link, device, step + 10)
    return settings, store, agent, audit


def test_challengers_only_score_until_promoted(run: tuple[Settings, SqliteStore, SiteAgent, AuditLog]) -> None:
    _, store, _agent, audit = run
    store.flush()
    shadow = store.query("SELECT device, learner FROM shadow ORDER BY ts")
    assert shadow == [(d, "ewma_noise") for d in DEVICES[:3]]
    assert store.count("decisions") == 0  # the champion missed them all, and the challenger never acts
    audit.close()


def test_a_challenger_that_catches_what_the_champion_misses_is_promoted(
    run: tuple[Settings, SqliteStore, SiteAgent, AuditLog], tmp_path: Path
) -> None:
    settings, _store, agent, audit = run
    assert agent.models is not None
    assert agent.models.champion_of("pump").learner == "ewma_noise"
    audit.close()
    lines = (settings.agent.audit_dir / LOG_FILE).read_bytes().splitlines()
    records = [orjson.loads(line) for line in lines]
    promotions = [r for r in records if r["kind"] == "promotion"]
    assert len(promotions) == 1
    body = promotions[0]["body"]
    assert (body["promoted"]["learner"], body["promoted"]["true_alarms"]) == ("ewma_noise", 3)
    assert (body["demoted"]["learner"], body["demoted"]["misses"]) == ("robust_ewma", 3)
    assert sum(1 for r in records if r["kind"] == "shadow_decision") == 3
    result = CliRunner().invoke(
        app, ["audit", "verify", "--data-dir", str(settings.agent.data_dir), "--site", settings.agent.site]
    )
    assert result.exit_code == 0, result.output


def test_the_new_champion_decides_and_stays_champion_after_a_restart(
    run: tuple[Settings, SqliteStore, SiteAgent, AuditLog],
) -> None:
    settings, store, agent, audit = run
    link = agent.client
    assert isinstance(link, Loopback)
    telemetry(link, [DEVICES[3]], [20.0] * 6, 300)
    agent.handle_batch(link.drain(10_000))
    store.flush()
    assert [r[0] for r in store.query("SELECT json_extract(record, '$.model') FROM decisions")] == ["ewma_noise"]
    audit.close()

    restarted, link = open_agent(settings, store)
    announce(restarted, link, DEVICES)
    assert restarted.models is not None
    assert restarted.models.champion_of("pump").learner == "ewma_noise"
    store.close()
