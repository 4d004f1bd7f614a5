"""`edgeloop audit verify --store`: each decision row and ledger entry carries the hash of its audit record, so
a row edited, deleted or added in the store after the fact is found; on SQLite and on PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import orjson
import pytest
from typer.testing import CliRunner

from edgeloop.agent.ledger_writer import LedgerWriter
from edgeloop.agent.service import make_learner, make_policy, site_key
from edgeloop.agent.site import SiteAgent
from edgeloop.audit import AuditLog
from edgeloop.cli.audit import audit_app
from edgeloop.io.loopback import Loopback
from edgeloop.io.store import AgentStore
from edgeloop.settings import Settings, load_settings

from .test_ledger_writer import SITE, T0, announce, telemetry

if TYPE_CHECKING:
    from tests.conftest import StoreBackend

runner = CliRunner()


@pytest.fixture
def site(
    tmp_path: Path, store_backend: StoreBackend, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[Settings, AgentStore]]:
    """A site whose agent decided about 10 pumps and booked a failure and its ledger entries, then stopped."""
    if store_backend.url:
        monkeypatch.setenv("EDGELOOP_STORE__URL", store_backend.url)
    settings = load_settings(None, agent={"site": SITE, "autonomy": 3, "data_dir": tmp_path})
    cfg = settings.agent
    store_backend.path = cfg.db_path
    store = store_backend.agent_store(SITE)
    with AuditLog.open(cfg.audit_dir, site_key(cfg)) as audit:
        books = LedgerWriter.open(store, settings.ledger)
        link = Loopback()
        agent = SiteAgent(cfg, link, store, make_learner(), make_policy(cfg), books, audit, clock=lambda: T0 + 1e6)
        devices = [f"pump-{i}" for i in range(10)]
        announce(agent, link, devices)
        rng = np.random.default_rng(0)
        telemetry(link, devices, (4.0 + 0.05 * rng.standard_normal(100)).tolist(), 0)
        telemetry(link, devices, [20.0] * 6, 100)
        event = {"ts": T0 + 2000, "kind": "failure", "downtime_s": 7200}
        link.deliver(f"edgeloop/v1/{SITE}/pump-1/event", orjson.dumps(event))
        agent.handle_batch(link.drain(10_000))
        assert store.flush(10)
    yield settings, store
    store.close()


def tamper(store: AgentStore, sql: str, row: tuple[object, ...]) -> None:
    """Change the store behind the agent's back (PostgreSQL takes %s where SQLite takes ?)."""
    store.write(sql.replace("?", "%s") if type(store).__name__ == "PgStore" else sql, [row])
    assert store.flush(10)


def verify_store(settings: Settings) -> tuple[int, str]:
    result = runner.invoke(
        audit_app,
        [
            "verify",
            "--data-dir",
            str((settings.agent.audit_dir).parent.parent),
            "--site",
            (settings.agent.audit_dir).parent.name,
            "--store",
        ],
    )
    return result.exit_code, result.output


def test_a_store_as_the_agent_left_it_verifies(site: tuple[Settings, AgentStore]) -> None:
    settings, store = site

    code, out = verify_store(settings)

    assert code == 0, out
    assert store.query("SELECT COUNT(*) FROM decisions WHERE audit IS NULL") == [(0,)]
    assert store.query("SELECT COUNT(*) FROM ledger WHERE audit IS NULL") == [(0,)]
    [(decisions,)] = store.query("SELECT COUNT(*) FROM decisions")
    [(entries,)] = store.query("SELECT COUNT(*) FROM ledger")
    assert decisions > 0
    assert entries > 0
    assert f"{decisions} decisions and {entries} ledger entries checked against the log: OK" in out


def test_an_edited_ledger_amount_is_found(site: tuple[Settings, AgentStore]) -> None:
    settings, store = site
    tamper(store, "UPDATE ledger SET amount = ? WHERE seq = ?", ("20644.54", 0))

    code, out = verify_store(settings)

    assert code == 1
    assert "ledger entry 0: the store row differs" in out


def test_a_deleted_decision_is_found(site: tuple[Settings, AgentStore]) -> None:
    settings, store = site
    [(victim,)] = store.query("SELECT id FROM decisions ORDER BY id LIMIT 1")
    tamper(store, "DELETE FROM decisions WHERE id = ?", (victim,))

    code, out = verify_store(settings)

    assert code == 1
    assert f"decision {victim}: in the audit log, not in the store (deleted)" in out


def test_an_edited_decision_status_is_found(site: tuple[Settings, AgentStore]) -> None:
    settings, store = site
    [(victim, record)] = store.query("SELECT id, record FROM decisions ORDER BY id LIMIT 1")
    edited = orjson.dumps({**orjson.loads(record), "status": "blocked"}).decode()
    tamper(store, "UPDATE decisions SET record = ? WHERE id = ?", (edited, victim))

    code, out = verify_store(settings)

    assert code == 1
    assert f"decision {victim}: the store row differs" in out


def test_a_sqlite_store_of_an_older_version_gains_the_audit_columns(tmp_path: Path) -> None:
    import sqlite3

    from edgeloop.io.store import SqliteStore

    path = tmp_path / "old.db"
    with sqlite3.connect(path) as old:  # the tables as the release before this one made them
        old.execute("CREATE TABLE decisions(id TEXT PRIMARY KEY, device TEXT, ts REAL, at REAL, score REAL, "
                    "status TEXT, rule TEXT, record TEXT)")  # fmt: skip
        old.execute("CREATE TABLE ledger(seq INTEGER PRIMARY KEY, device TEXT, asset_type TEXT, arm TEXT, ts REAL, "
                    "day INTEGER, kind TEXT, amount TEXT, rule TEXT, decision TEXT, outcome TEXT, action TEXT, "
                    "quantity REAL, note TEXT)")  # fmt: skip
    old.close()

    store = SqliteStore(path, SITE)
    store.close()

    with sqlite3.connect(path) as conn:
        for table in ("decisions", "ledger"):
            assert "audit" in {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}
    conn.close()
