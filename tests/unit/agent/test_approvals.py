"""Approvals and verdicts: the operator answers through the store's inbox, the agent acts and logs."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import orjson
import pytest
from typer.testing import CliRunner

from edgeloop.agent.ledger_writer import LedgerWriter
from edgeloop.agent.service import make_learner, make_policy
from edgeloop.agent.site import SiteAgent
from edgeloop.audit import AuditLog, load_or_create_key, load_public_key, verify_file
from edgeloop.cli import app
from edgeloop.io.loopback import Loopback
from edgeloop.ledger import Arm
from edgeloop.settings import load_settings

from .test_ledger_writer import SITE, T0, announce, telemetry

if TYPE_CHECKING:
    from tests.conftest import StoreBackend

runner = CliRunner()
Site = tuple[SiteAgent, Loopback, "Clock", AuditLog]


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def site(
    tmp_path: Path, request: pytest.FixtureRequest, store_backend: StoreBackend, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Site]:
    extra = getattr(request, "param", {})  # more agent settings, by indirect parametrization
    if store_backend.url:  # the CLI the operator answers with finds the same store
        monkeypatch.setenv("EDGELOOP_STORE__URL", store_backend.url)
    settings = load_settings(None, agent={"site": SITE, "autonomy": 2, "data_dir": tmp_path, **extra})
    cfg = settings.agent
    store_backend.path = cfg.db_path  # SQLite: where the CLI looks for it
    store = store_backend.agent_store(SITE)
    audit = AuditLog.open(cfg.audit_dir, load_or_create_key(cfg.audit_dir))
    clock = Clock(T0 + 1e6)
    policy = make_policy(settings.agent)
    books = LedgerWriter.open(store, settings.ledger)
    link = Loopback()
    agent = SiteAgent(cfg, link, store, make_learner(), policy, books, audit, clock=clock)
    yield agent, link, clock, audit
    audit.close()
    store.close()


def pending_decision(agent: SiteAgent, link: Loopback) -> str:
    """One treated device with a sustained anomaly: its decision waits for approval."""
    devices = [f"pump-{i}" for i in range(10)]
    announce(agent, link, devices)
    assert agent.books is not None
    treated = next(d for d in devices if agent.books.arm(d) is Arm.TREATED)
    telemetry(link, [treated], [4.0 + 0.05 * (i % 3) for i in range(100)] + [20.0] * 6, 0)
    agent.handle_batch(link.drain(10_000))
    agent.store.flush()
    rows = agent.store.query("SELECT id, status FROM decisions")
    assert [s for _, s in rows] == ["pending_approval"]
    return str(rows[0][0])


def sent_commands(link: Loopback) -> list[dict[str, object]]:
    return [orjson.loads(m.payload) for m in link.take_sent() if m.topic.endswith("/cmd")]


def cli(tmp_path: Path, *args: str) -> int:
    result = runner.invoke(app, [*args, "--site", SITE, "--data-dir", str(tmp_path), "--wait", "0"])
    return result.exit_code


def test_an_approved_decision_sends_its_command_and_is_logged(site: Site, tmp_path: Path) -> None:
    agent, link, _, audit = site
    decision = pending_decision(agent, link)
    assert sent_commands(link) == []

    assert cli(tmp_path, "approvals", "approve", decision, "--by", "ana", "--why", "vibration is real") == 0
    agent.sweep_timeouts()
    agent.store.flush()

    commands = sent_commands(link)
    assert [c["decision"] for c in commands] == [decision]
    assert agent.store.query("SELECT answer, by FROM approvals") == [("approved", "ana")]
    approvals = [line for line in (audit.path.read_text().splitlines()) if '"kind":"approval"' in line]
    assert len(approvals) == 1
    assert "ana" in approvals[0]


def test_a_rejected_decision_sends_nothing(site: Site, tmp_path: Path) -> None:
    agent, link, _, _ = site
    decision = pending_decision(agent, link)
    assert cli(tmp_path, "approvals", "reject", decision, "--by", "ana") == 0
    agent.sweep_timeouts()
    agent.store.flush()
    assert sent_commands(link) == []
    assert agent.store.query("SELECT answer FROM approvals") == [("rejected",)]


def test_an_expired_approval_is_rejected_and_cannot_be_approved_later(site: Site, tmp_path: Path) -> None:
    agent, link, clock, _ = site
    decision = pending_decision(agent, link)
    clock.now += 4 * 3600 + 1  # past approval_expiry_h
    agent.sweep_timeouts()
    agent.store.flush()
    assert agent.store.query("SELECT answer, by FROM approvals") == [("rejected", "edgeloop")]

    cli(tmp_path, "approvals", "approve", decision, "--by", "late")
    agent.approvals._next_poll = 0.0  # read the inbox now, not in a second
    agent.sweep_timeouts()
    agent.store.flush()
    assert sent_commands(link) == []
    result = agent.store.query("SELECT result FROM inbox")
    assert result[0][0].startswith("refused")


def test_a_verdict_is_recorded_logged_and_counted(site: Site, tmp_path: Path) -> None:
    agent, link, _, audit = site
    decision = pending_decision(agent, link)
    assert cli(tmp_path, "verdict", decision, "false_alarm", "--by", "ana") == 0
    agent.sweep_timeouts()
    agent.store.flush()
    assert agent.store.query("SELECT verdict, by FROM verdicts") == [("false_alarm", "ana")]
    assert agent.stats.verdicts == 1
    audit.close()
    assert verify_file(audit.path, load_public_key(audit.path.parent / "audit.pub")).ok


def test_an_unknown_verdict_word_is_refused_by_the_cli(site: Site, tmp_path: Path) -> None:
    assert cli(tmp_path, "verdict", "some-decision", "maybe", "--by", "ana") == 2


@pytest.mark.parametrize("site", [{"cooldown_s": 60}], indirect=True)
def test_a_device_still_anomalous_while_its_approval_waits_gets_no_second_request(site: Site) -> None:
    agent, link, _, _ = site
    first = pending_decision(agent, link)
    device = agent.store.query("SELECT device FROM decisions")[0][0]

    telemetry(link, [device], [20.0] * 12, 106)  # past the 60 s cooldown, still anomalous
    agent.handle_batch(link.drain(10_000))
    agent.store.flush()

    rows = agent.store.query("SELECT id, status, record FROM decisions ORDER BY ts")
    statuses = [status for _, status, _ in rows]
    assert statuses[0] == "pending_approval"
    assert len(statuses) >= 2
    assert set(statuses[1:]) == {"blocked"}
    assert orjson.loads(rows[1][2])["reason"] == (
        f"guardrail open_approval: decision {first} about {device} waits for approval"
    )
    assert agent.store.count("approvals") == 1
    assert sent_commands(link) == []
