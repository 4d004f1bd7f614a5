"""No single message stops the agent: hostile numbers are refused at the edge, a failure while handling one
message quarantines that message, and a store that cannot be used is refused with its reason and path."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from edgeloop.agent.ledger_writer import LedgerWriter
from edgeloop.agent.service import make_learner, make_policy
from edgeloop.agent.site import SiteAgent
from edgeloop.io.loopback import Loopback
from edgeloop.io.store import SqliteStore, StoreError
from edgeloop.settings import load_settings

T0 = 1_700_006_400.0
META = {"device": "pump-1", "asset_type": "pump", "metrics": {"vibration": {"unit": "mm/s", "low": 0, "high": 50}},
        "commands": {}}  # fmt: skip


@pytest.fixture
def site(tmp_path: Path) -> Iterator[tuple[SiteAgent, Loopback]]:
    settings = load_settings(None, agent={"site": "s1", "data_dir": tmp_path})
    store = SqliteStore(settings.agent.db_path, "s1")
    link = Loopback()
    agent = SiteAgent(settings.agent, link, store, make_learner(settings.agent), make_policy(settings.agent),
                      LedgerWriter.open(store, settings.ledger), clock=lambda: T0)  # fmt: skip
    link.deliver("edgeloop/v1/s1/pump-1/meta", orjson.dumps(META), retain=True)
    agent.handle_batch(link.drain(10))
    yield agent, link
    store.close()


def deliver(agent: SiteAgent, link: Loopback, channel: str, payload: object) -> None:
    link.deliver(f"edgeloop/v1/s1/pump-1/{channel}", orjson.dumps(payload), retain=channel == "event")
    agent.handle_batch(link.drain(100))


def reasons(agent: SiteAgent) -> list[str]:
    agent.store.flush()
    return [str(r[0]) for r in agent.store.query("SELECT reason FROM quarantine ORDER BY rowid")]


@pytest.mark.parametrize(
    ("channel", "payload", "reason"),
    [
        ("event", {"kind": "failure", "ts": T0, "downtime_s": 1e30}, "'downtime_s' must be a number of seconds in"),
        ("event", {"kind": "usage", "ts": T0, "energy_kwh": 1e308}, "usage out of range"),
        ("event", {"kind": "failure", "ts": 1e308}, "is outside"),
        ("telemetry", {"ts": -1e24, "metrics": {"vibration": 3.0}}, "timestamp too old"),
        ("telemetry", {"ts": T0, "seq": -1, "metrics": {"vibration": 3.0}}, "'seq' must be a non-negative"),
        ("telemetry", [], "an empty list holds no telemetry"),
    ],
)
def test_a_hostile_number_is_quarantined_and_the_agent_goes_on(
    site: tuple[SiteAgent, Loopback], channel: str, payload: object, reason: str
) -> None:
    agent, link = site

    deliver(agent, link, channel, payload)
    deliver(agent, link, "telemetry", {"ts": T0 + 1, "metrics": {"vibration": 3.0}})

    assert any(reason in r for r in reasons(agent))
    assert agent.stats.points == 1
    agent.store.check()  # the writer is alive


def test_one_bad_item_rejects_its_whole_telemetry_message(site: tuple[SiteAgent, Loopback]) -> None:
    agent, link = site

    deliver(agent, link, "telemetry", [{"ts": T0, "metrics": {"vibration": 3.0}},
                                       {"ts": T0 + 1, "metrics": {"vibration": 999.0}}])  # fmt: skip

    assert agent.stats.points == 0
    assert [r for r in reasons(agent) if "out of range" in r] == ["out of range: vibration=999.0 outside [0.0, 50.0]"]


def test_a_failure_while_handling_a_message_quarantines_it_with_the_exception_class(
    site: tuple[SiteAgent, Loopback],
) -> None:
    agent, link = site

    def broken(*_: object) -> None:
        raise ArithmeticError("a bug nobody foresaw")

    agent.outcomes.on_event = broken  # type: ignore[method-assign]
    deliver(agent, link, "event", {"kind": "failure", "ts": T0})
    deliver(agent, link, "telemetry", {"ts": T0 + 1, "metrics": {"vibration": 3.0}})

    assert "bad event: internal error: ArithmeticError: a bug nobody foresaw" in reasons(agent)
    assert agent.stats.points == 1


def test_a_store_file_that_is_not_a_database_is_refused_and_left_as_it_is(tmp_path: Path) -> None:
    path = tmp_path / "edgeloop.db"
    path.write_bytes(b"this is not SQLite" * 100)
    before = path.read_bytes()

    with pytest.raises(StoreError, match=f"cannot open the site store {path}"):
        SqliteStore(path, "s1")

    assert path.read_bytes() == before


def test_a_write_that_cannot_be_done_stops_intake_with_its_reason(site: tuple[SiteAgent, Loopback]) -> None:
    agent, link = site

    agent.store.write("INSERT INTO no_such_table VALUES (?)", [(1,)])
    agent.store.flush(timeout=5)

    with pytest.raises(StoreError, match="no such table"):
        deliver(agent, link, "telemetry", {"ts": T0 + 1, "metrics": {"vibration": 3.0}})


def test_an_audit_log_that_cannot_be_written_stops_intake_instead_of_blaming_the_batch(
    site: tuple[SiteAgent, Loopback], tmp_path: Path
) -> None:
    from edgeloop.audit import AuditError, AuditLog, load_or_create_key

    agent, link = site
    agent.audit = AuditLog.open(tmp_path / "audit", load_or_create_key(tmp_path / "audit"))
    agent.audit.close()  # as on a full disk: every append fails

    with pytest.raises(AuditError):
        deliver(agent, link, "event", {"kind": "failure", "ts": T0})

    assert not any("internal error" in r for r in reasons(agent))
