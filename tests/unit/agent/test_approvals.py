"""Approvals and verdicts: the operator answers through the store's inbox, the agent acts and logs."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import orjson
import pytest
from typer.testing import CliRunner, Result

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
    return cli_run(tmp_path, *args).exit_code


def cli_run(tmp_path: Path, *args: str) -> Result:
    wait = ["--wait", "0"] if args[:2] != ("approvals", "list") else []
    return runner.invoke(app, [*args, "--site", SITE, "--data-dir", str(tmp_path), *wait])


def device_event(agent: SiteAgent, link: Loopback, device: str, kind: str) -> None:
    link.deliver(f"edgeloop/v1/{SITE}/{device}/event", orjson.dumps({"ts": T0 + 15 * 110, "kind": kind}))
    agent.handle_batch(link.drain(100))
    agent.sweep_timeouts()
    agent.store.flush()


def audit_records(audit: AuditLog, kind: str) -> list[dict[str, object]]:
    records = [orjson.loads(line) for line in audit.path.read_text().splitlines()]
    return [r for r in records if r.get("kind") == kind]


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
    assert "vibration is real" in approvals[0]  # the operator's why is in the signed record of the answer


def test_a_rejected_decision_sends_nothing(site: Site, tmp_path: Path) -> None:
    agent, link, _, _ = site
    decision = pending_decision(agent, link)
    assert cli(tmp_path, "approvals", "reject", decision, "--by", "ana") == 0
    agent.sweep_timeouts()
    agent.store.flush()
    assert sent_commands(link) == []
    assert agent.store.query("SELECT answer FROM approvals") == [("rejected",)]


def test_an_approval_not_answered_in_time_expires_and_cannot_be_approved_later(site: Site, tmp_path: Path) -> None:
    agent, link, clock, _ = site
    decision = pending_decision(agent, link)
    clock.now += 4 * 3600 + 1  # past approval_expiry_h
    agent.sweep_timeouts()
    agent.store.flush()
    assert agent.store.query("SELECT answer, by, why FROM approvals") == [("expired", "edgeloop", "no answer in time")]

    late = cli_run(tmp_path, "approvals", "approve", decision, "--by", "late")

    assert late.exit_code == 1
    assert "the approval expired (no answer in time)" in late.output
    assert agent.store.count("inbox") == 0  # refused before anything was queued
    assert sent_commands(link) == []


@pytest.mark.parametrize(
    ("kind", "reason"),
    [("failure", "device failed"), ("repaired", "device repaired"), ("maintenance_started", "maintenance started")],
)
def test_a_device_event_expires_its_pending_approval_with_the_reason(
    site: Site, tmp_path: Path, kind: str, reason: str
) -> None:
    agent, link, _, audit = site
    decision = pending_decision(agent, link)
    device = agent.store.query("SELECT device FROM approvals")[0][0]

    device_event(agent, link, device, kind)

    assert agent.store.query("SELECT answer, by, why FROM approvals") == [("expired", "edgeloop", reason)]
    assert agent.approvals.open_for(device) is None
    [record] = audit_records(audit, "approval")
    assert (record["body"], record["kind"]) == (
        {"decision": decision, "device": device, "answer": "expired", "by": "edgeloop", "why": reason,
         "command": record["body"]["command"]},  # type: ignore[index]
        "approval",
    )  # fmt: skip
    late = cli_run(tmp_path, "approvals", "approve", decision, "--by", "ana")
    assert late.exit_code == 1
    assert f"the approval expired ({reason})" in late.output
    assert sent_commands(link) == []


def test_an_event_of_another_device_leaves_the_approval_pending(site: Site) -> None:
    agent, link, _, _ = site
    pending_decision(agent, link)
    device = agent.store.query("SELECT device FROM approvals")[0][0]
    other = next(f"pump-{i}" for i in range(10) if f"pump-{i}" != device)

    device_event(agent, link, other, "failure")

    assert agent.store.query("SELECT answer FROM approvals") == [(None,)]
    assert agent.approvals.open_for(device) is not None


def test_an_answer_queued_before_the_device_failed_is_refused_with_the_reason(site: Site, tmp_path: Path) -> None:
    agent, link, _, _ = site
    decision = pending_decision(agent, link)
    device = agent.store.query("SELECT device FROM approvals")[0][0]
    assert cli(tmp_path, "approvals", "approve", decision, "--by", "ana") == 0  # queued: the agent has not read it

    device_event(agent, link, device, "failure")  # the event comes first, then the agent reads its inbox
    agent.approvals._next_poll = 0.0
    agent.sweep_timeouts()
    agent.store.flush()

    assert agent.store.query("SELECT result FROM inbox") == [("refused: the approval expired (device failed)",)]
    assert sent_commands(link) == []


def test_an_answered_approval_is_refused_a_second_time_naming_who_answered(site: Site, tmp_path: Path) -> None:
    agent, link, _, _ = site
    decision = pending_decision(agent, link)
    assert cli(tmp_path, "approvals", "reject", decision, "--by", "ana", "--why", "planned stop tonight") == 0
    agent.sweep_timeouts()
    agent.store.flush()

    again = cli_run(tmp_path, "approvals", "approve", decision, "--by", "bo")

    assert again.exit_code == 1
    assert "already rejected by ana" in again.output
    assert agent.store.query("SELECT why FROM approvals") == [("planned stop tonight",)]


def test_the_list_shows_score_metric_command_rule_and_state_within_80_columns(site: Site, tmp_path: Path) -> None:
    agent, link, _, _ = site
    decision = pending_decision(agent, link)
    record = agent.store.read_decision(decision)
    assert record is not None

    listed = cli_run(tmp_path, "approvals", "list")

    assert listed.exit_code == 0, listed.output
    lines = listed.output.splitlines()
    assert max(len(line) for line in lines) <= 80
    text = " ".join(lines)
    for shown in (decision[:8], record["device"], f"{record['score']:.2f}", "vibration", "schedule_maintenance",
                  record["rule"], "pending until"):  # fmt: skip
        assert shown in text


def test_the_list_by_its_short_id_is_enough_to_answer(site: Site, tmp_path: Path) -> None:
    agent, link, _, _ = site
    decision = pending_decision(agent, link)

    assert cli(tmp_path, "approvals", "approve", decision[:8], "--by", "ana") == 0
    agent.sweep_timeouts()
    agent.store.flush()

    assert agent.store.query("SELECT decision, answer FROM approvals") == [(decision, "approved")]


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
