"""The PostgreSQL store under bad input and faults: the database unreachable for a while, a wrong password,
a schema older or newer than the code, and many sites sharing one database."""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
import time
from collections.abc import Iterator

import numpy as np
import psycopg
import pytest
from tests.conftest import postgres_schema
from typer.testing import CliRunner

from edgeloop.cli import app
from edgeloop.io.store import StoreError, chunk_rows, open_store
from edgeloop.io.store.postgres import VERSION, PgOperatorStore, PgOperatorStores, PgStore, migrate
from edgeloop.settings import load_settings

RECORD = {"id": "d1", "device": "p1", "ts": 10.0, "at": 11.0, "score": 0.99, "status": "sent", "rule": "r"}


@pytest.fixture
def pg_url() -> Iterator[str]:
    with postgres_schema() as url:
        yield url


class Cuttable:
    """A TCP proxy to PostgreSQL that can be cut (every connection dropped, new ones refused) and restored:
    the database as the agent sees it when the server or the network goes down."""

    def __init__(self, port: int = 5432) -> None:
        self.target = ("127.0.0.1", port)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.1)
        self.port = self.listener.getsockname()[1]
        self.up = True
        self.open: list[socket.socket] = []
        self.running = True
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while self.running:
            try:
                client, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:  # closed
                return
            if not self.up:
                client.close()
                continue
            upstream = socket.create_connection(self.target)
            self.open += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        for s in (src, dst):
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)

    def cut(self) -> None:
        self.up = False
        for s in self.open:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
        self.open.clear()

    def close(self) -> None:
        self.running = False
        self.cut()
        self.listener.close()


def telemetry_rows(t0: float, n: int = 10) -> list[tuple[object, ...]]:
    device = np.zeros(n, dtype=np.int64)
    return chunk_rows(device, np.arange(n), t0 + np.arange(n, dtype=np.float64), np.ones(n), np.zeros(n))


def test_an_outage_is_retried_and_nothing_acknowledged_is_lost(pg_url: str) -> None:
    proxy = Cuttable()
    url = pg_url.replace("127.0.0.1:5432", f"127.0.0.1:{proxy.port}")
    store = PgStore(url, "s1")
    store.write_telemetry(telemetry_rows(1_700_000_000.0))
    store.flush()
    proxy.cut()  # the database goes away; the agent keeps writing (its queue takes everything)
    store.write_telemetry(telemetry_rows(1_700_000_100.0))
    for i in range(50):
        store.write_decision({**RECORD, "id": f"d{i}"})
    time.sleep(3.0)
    assert store.outage
    assert store.write_errors >= 1
    assert store.read_untaken_answers() == []  # the loop's inbox poll does not stall meanwhile
    proxy.up = True  # back: the writer reconnects and commits what waited
    store.flush()
    store.check()
    assert not store.outage
    proxy.close()
    with PgOperatorStore.open(pg_url, "s1") as check:
        assert check.points() == 20
        assert check.count_decisions() == 50
    store.close()


@pytest.fixture
def refusing_server() -> Iterator[int]:
    """A server that speaks PostgreSQL's protocol only to refuse every password, as a server with password
    authentication does (the development machine's own trusts every local login)."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.1)
    running = [True]

    def refuse(conn: socket.socket) -> None:
        with conn:
            while True:
                length, code = struct.unpack("!ii", conn.recv(8))
                if code in (80877103, 80877104):  # SSL or GSS encryption request: not here
                    conn.sendall(b"N")
                    continue
                conn.recv(length - 8)
                break
            conn.sendall(b"R" + struct.pack("!ii", 8, 3))  # send the password in clear
            conn.recv(65536)
            fields = b'SFATAL\0VFATAL\0C28P01\0Mpassword authentication failed for user "root"\0\0'
            conn.sendall(b"E" + struct.pack("!i", 4 + len(fields)) + fields)

    def serve() -> None:
        while running[0]:
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:  # closed at the end of the test
                return
            threading.Thread(target=refuse, args=(conn,), daemon=True).start()

    threading.Thread(target=serve, daemon=True).start()
    yield listener.getsockname()[1]
    running[0] = False
    listener.close()


def test_a_wrong_password_is_a_clear_error_at_start(refusing_server: int, tmp_path: object) -> None:
    url = f"postgresql://root:wrong@127.0.0.1:{refusing_server}/test?sslmode=disable"
    settings = load_settings(None, store={"url": url}, agent={"site": "s1"})
    with pytest.raises(StoreError, match=r"password authentication failed.*check the user and password") as err:
        open_store(settings)
    assert "wrong" not in str(err.value)  # the password is never repeated
    result = CliRunner().invoke(
        app, ["agent", "--store", url, "--broker", "mqtt://127.0.0.1:1883", "--data-dir", str(tmp_path)]
    )
    assert result.exit_code == 2
    assert "password authentication failed" in " ".join(result.output.split())


def test_an_unknown_user_is_a_clear_error_at_start() -> None:
    with pytest.raises(StoreError, match='role "nobody_here" does not exist'):
        PgStore("postgresql://nobody_here@127.0.0.1:5432/test", "s1")


def test_a_store_of_an_older_schema_is_migrated_and_keeps_its_rows(pg_url: str) -> None:
    with psycopg.connect(pg_url, autocommit=True) as conn:
        assert migrate(conn, upto=1) == 1  # as an older edgeloop left it
        conn.execute("INSERT INTO decisions(site, id, ts, status, record) VALUES ('s1', 'd1', 10.0, 'sent', %s)",
                     ('{"id": "d1"}',))  # fmt: skip
    store = PgStore(pg_url, "s1")
    assert store.read_decision("d1") == {"id": "d1"}
    assert store.decision_mark() == 1
    assert store.query("SELECT MAX(version) FROM schema_version") == [(VERSION,)]
    store.close()


def test_a_schema_older_than_the_code_is_refused_by_the_api(pg_url: str) -> None:
    with psycopg.connect(pg_url, autocommit=True) as conn:
        migrate(conn, upto=VERSION - 1)
        conn.execute("INSERT INTO runs(site, started) VALUES ('s1', 0)")
    with pytest.raises(StoreError, match=f"older than this edgeloop's {VERSION}: start the site agent"):
        PgOperatorStore.open(pg_url, "s1")
    stores = PgOperatorStores(pg_url, "s1")
    with pytest.raises(StoreError, match="older"):
        stores.take()
    stores.close()


def test_a_schema_newer_than_the_code_is_refused(pg_url: str) -> None:
    PgStore(pg_url, "s1").close()
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("INSERT INTO schema_version VALUES (%s, 0, 'from the future')", (VERSION + 1,))
    with pytest.raises(StoreError, match=f"version {VERSION + 1}, newer than this edgeloop's {VERSION}: upgrade"):
        PgStore(pg_url, "s1")


def test_sites_share_one_database_and_each_reads_its_own(pg_url: str) -> None:
    one, two = PgStore(pg_url, "one"), PgStore(pg_url, "two")
    one.write_decision(RECORD)
    two.write_decision({**RECORD, "id": "d2"})
    two.write_telemetry(telemetry_rows(1_700_000_000.0))
    one.flush()
    two.flush()
    assert [d["id"] for d in one.read_decisions()] == ["d1"]
    assert [d["id"] for d in two.read_decisions()] == ["d2"]
    assert (one.points(), two.points()) == (0, 10)
    assert one.query("SELECT site, COUNT(*) FROM decisions GROUP BY site ORDER BY site") == [("one", 1), ("two", 1)]
    partitions = one.query("SELECT COUNT(*) FROM pg_inherits WHERE inhparent = 'telemetry'::regclass")[0][0]
    assert partitions == 2  # the day of the data and the day after, made ahead
    one.close()
    two.close()


def test_the_api_serves_a_site_from_postgresql(pg_url: str) -> None:
    from fastapi.testclient import TestClient

    from edgeloop.api import create_app

    agent = PgStore(pg_url, "north")
    agent.write_decision({**RECORD, "device": "pump-1"})
    agent.flush()
    token = "viewer-token-0123456789"
    settings = load_settings(None, agent={"site": "north"}, store={"url": pg_url}, api={"tokens": {token: "viewer"}})
    with TestClient(create_app(settings)) as client:
        reply = client.get("/api/v1/decisions/d1", headers={"Authorization": f"Bearer {token}"})
    agent.close()
    assert reply.status_code == 200
    assert (reply.json()["id"], reply.json()["device"], reply.json()["commands"]) == ("d1", "pump-1", [])


def test_the_roi_report_of_a_site_never_run_says_so(pg_url: str) -> None:
    from edgeloop.agent.roi import read_site_ledger
    from edgeloop.ledger import ReportError

    PgStore(pg_url, "north").close()
    with pytest.raises(ReportError, match="no site store yet for south"):
        read_site_ledger(load_settings(None, agent={"site": "south"}, store={"url": pg_url}))


def test_the_fleet_report_sums_the_sites_ledgers(pg_url: str) -> None:
    from decimal import Decimal

    from fastapi.testclient import TestClient

    from edgeloop.agent.roi import read_fleet_ledger, read_site_ledger
    from edgeloop.api import create_app
    from edgeloop.ledger import HoldoutDesign

    day0 = 19_676
    for n, site in enumerate(("north", "south")):
        store = PgStore(pg_url, site)
        devices = {f"pump-{i}": "pump" for i in range(10 + 2 * n)}  # the same names at both sites
        record = HoldoutDesign(seed=n, fraction=0.3).assign(devices)
        store.write_holdout(record.to_json(), 0.0)
        entries = []
        for i, a in enumerate(record.assignments):
            kind, amount = ("failure", "-900.00") if i % 3 == 0 else ("maintenance", "-120.00")
            entries.append({"seq": i, "device": a.device, "asset_type": "pump", "arm": str(a.arm),
                            "ts": (day0 + i % 3) * 86_400.0 + 60, "kind": kind, "amount": amount, "rule": "test",
                            "decision": None, "outcome": None, "action": None, "quantity": 2.0,
                            "note": ""})  # fmt: skip
        store.write_entries(entries)
        for day in range(day0, day0 + 3 + n):
            store.write_day(day)
        store.close()
    token = "viewer-token-0123456789"
    settings = {site: load_settings(None, agent={"site": site}, store={"url": pg_url},
                                    api={"tokens": {token: "viewer"}}) for site in ("north", "south")}  # fmt: skip
    one = {site: read_site_ledger(s, n_boot=50).report for site, s in settings.items()}
    fleet = read_fleet_ledger(settings["north"], n_boot=50).report
    assert fleet.net_value == sum((r.net_value for r in one.values()), Decimal(0))
    for arm in fleet.arms:
        assert fleet.arms[arm].devices == sum(r.arms[arm].devices for r in one.values())
        assert fleet.arms[arm].device_days == sum(r.arms[arm].device_days for r in one.values())
        assert fleet.arms[arm].failures == sum(r.arms[arm].failures for r in one.values())
    assert fleet.running_cost == sum((r.running_cost for r in one.values()), Decimal(0))
    with TestClient(create_app(settings["south"])) as client:
        reply = client.get("/api/v1/roi/fleet", headers={"Authorization": f"Bearer {token}"})
    assert reply.status_code == 200
    assert reply.json()["sites"] == ["north", "south"]
