"""Shared fixtures: the real brokers the integration tests talk to."""

from __future__ import annotations

import contextlib
import os
import socket
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import uvicorn

from edgeloop.agent.ledger_writer import LedgerWriter
from edgeloop.agent.service import make_learner, make_policy, site_key
from edgeloop.agent.site import SiteAgent
from edgeloop.api import create_app
from edgeloop.audit import AuditLog
from edgeloop.io.broker import EmbeddedBroker
from edgeloop.io.loopback import Loopback
from edgeloop.io.store import (
    AgentStore,
    OperatorStore,
    OperatorStores,
    SqliteOperatorStore,
    SqliteOperatorStores,
    SqliteStore,
)
from edgeloop.ledger import Arm
from edgeloop.settings import Settings, load_settings

MOSQUITTO = ("127.0.0.1", 1883)
# Agents in tests use clean MQTT sessions: many tests reuse a site id on the shared Mosquitto, and a persistent
# session would hand one test the messages another published. tests/integration/test_durable_session.py turns
# persistence on for itself.
os.environ.setdefault("EDGELOOP_BROKER__PERSISTENT_SESSION", "false")
# Audit keys are pinned in the user's config directory when made (edgeloop.audit.trust): tests pin theirs in a
# directory of the test run, never in the real one (subprocesses inherit it).
os.environ["XDG_CONFIG_HOME"] = tempfile.mkdtemp(prefix="edgeloop-test-config-")
#: the development machine's PostgreSQL (trust auth); each test gets a schema of its own in it, dropped after
POSTGRES = os.environ.get("EDGELOOP_TEST_POSTGRES", "postgresql://root@127.0.0.1:5432/test")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """A test under tests/integration or tests/e2e carries its folder's mark even where its module does not set
    it: `make test` runs those one at a time (they share the brokers and the database), after the rest, which it
    runs on both cores (pytest-xdist)."""
    root = config.rootpath / "tests"
    for item in items:
        if not item.path.is_relative_to(root):
            continue
        folder = item.path.relative_to(root).parts[0]
        if folder in ("integration", "e2e") and item.get_closest_marker(folder) is None:
            item.add_marker(getattr(pytest.mark, folder))


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


@pytest.fixture(scope="session")
def embedded_broker() -> Iterator[EmbeddedBroker]:
    with EmbeddedBroker() as broker:
        yield broker


@pytest.fixture(scope="session")
def mosquitto_url() -> str:
    if not _reachable(*MOSQUITTO):
        pytest.fail("Mosquitto is expected on 127.0.0.1:1883 for the integration tests (see README)")
    return "mqtt://{}:{}".format(*MOSQUITTO)


@pytest.fixture(params=["embedded", "mosquitto"])
def broker_url(request: pytest.FixtureRequest) -> str:
    """Each test that takes this runs once on the embedded NATS broker and once on Mosquitto."""
    if request.param == "embedded":
        return str(request.getfixturevalue("embedded_broker").url)
    return str(request.getfixturevalue("mosquitto_url"))


# -- one store test, once per back end ------------------------------------------------------------------


class StoreBackend:
    """Opens the stores of one back end for a test: SQLite files in its tmp_path, or PostgreSQL in a schema
    of its own (`url` puts it first on the search path)."""

    def __init__(self, name: str, tmp_path: Path, url: str | None = None) -> None:
        self.name = name
        self.path = tmp_path / "edgeloop.db"
        self.url = url

    def agent_store(self, site: str = "s1") -> AgentStore:
        if self.url is None:
            return SqliteStore(self.path, site)
        from edgeloop.io.store.postgres import PgStore

        return PgStore(self.url, site)

    def operator_store(self, site: str = "s1") -> OperatorStore:
        if self.url is None:
            return SqliteOperatorStore.open(self.path)
        from edgeloop.io.store.postgres import PgOperatorStore

        return PgOperatorStore.open(self.url, site)

    def operator_stores(self, site: str = "s1") -> OperatorStores:
        if self.url is None:
            return SqliteOperatorStores(self.path)
        from edgeloop.io.store.postgres import PgOperatorStores

        return PgOperatorStores(self.url, site)


@contextlib.contextmanager
def postgres_schema() -> Iterator[str]:
    """A URL of the test database whose search path is a fresh schema, dropped (with all it holds) on exit."""
    from edgeloop.io.store import StoreError
    from edgeloop.io.store.postgres.schema import scratch_schema

    try:
        schema = scratch_schema(POSTGRES, "edgeloop_test")
        url = schema.__enter__()
    except StoreError as exc:
        pytest.fail(f"PostgreSQL is expected at {POSTGRES} for the store's integration tests: {exc}")
    try:
        yield url
    finally:
        schema.__exit__(None, None, None)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.integration)])
def store_backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StoreBackend]:
    """Each test that takes this runs once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        yield StoreBackend("sqlite", tmp_path)
        return
    with postgres_schema() as url:
        yield StoreBackend("postgresql", tmp_path, url)


# -- a site with a decision waiting for approval, and its REST API on a real server ---------------------

SITE = "apisite"
T0 = 1_700_006_400.0
TOKENS = {
    "viewer-token-0123456789": "viewer",
    "operator-token-0123456789": "operator",
    "admin-token-0123456789ab": "admin",
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def fail_the_pending_device(agent: SiteAgent, url: str, headers: dict[str, str]) -> dict[str, Any]:
    """The device of the site's one pending approval reports a failure, which expires the approval; returns the
    approval as the API listed it before."""
    [item] = httpx.get(f"{url}/approvals", headers=headers).json()["items"]
    link = agent.client
    assert isinstance(link, Loopback)
    link.deliver(f"edgeloop/v1/{agent.site}/{item['device']}/event",
                 orjson.dumps({"ts": item["ts"] + 60, "kind": "failure"}))  # fmt: skip
    agent.handle_batch(link.drain(10))
    agent.store.flush()
    return dict(item)


@contextlib.contextmanager
def serve_site(data_dir: Path) -> Iterator[tuple[Settings, SiteAgent, str]]:
    """An agent at autonomy 2 with one decision waiting for approval, and the API serving its store."""
    settings = load_settings(None, agent={"site": SITE, "autonomy": 2, "data_dir": data_dir}, api={"tokens": TOKENS})
    cfg = settings.agent
    store = SqliteStore(cfg.db_path, SITE)
    audit = AuditLog.open(cfg.audit_dir, site_key(cfg))
    link = Loopback()
    agent = SiteAgent(cfg, link, store, make_learner(), make_policy(cfg), LedgerWriter.open(store, settings.ledger),
                      audit, clock=lambda: T0 + 1e6)  # fmt: skip
    meta = {"device": "", "asset_type": "pump", "metrics": {"vibration": {"unit": "mm/s", "low": 0, "high": 50}},
            "commands": {"schedule_maintenance": {"args": {"within_h": {"low": 0, "high": 24}}}}}  # fmt: skip
    devices = [f"pump-{i}" for i in range(10)]
    for d in devices:
        link.deliver(f"edgeloop/v1/{SITE}/{d}/meta", orjson.dumps({**meta, "device": d}), retain=True)
    agent.handle_batch(link.drain(100))
    agent.dispatcher.record_policy("(the default policy at autonomy 2)", "test", "", T0)
    assert agent.books is not None
    treated = next(d for d in devices if agent.books.arm(d) is Arm.TREATED)
    for i, v in enumerate([4.0 + 0.05 * (i % 3) for i in range(100)] + [20.0] * 6):
        link.deliver(
            f"edgeloop/v1/{SITE}/{treated}/telemetry", orjson.dumps({"ts": T0 + 15 * i, "metrics": {"vibration": v}})
        )
    agent.handle_batch(link.drain(1000))
    store.flush()

    server = uvicorn.Server(
        uvicorn.Config(create_app(settings), host="127.0.0.1", port=free_port(), log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    yield settings, agent, f"http://127.0.0.1:{server.config.port}/api/v1"
    server.should_exit = True
    thread.join(5)
    audit.close()
    store.close()


@pytest.fixture(scope="session")
def site_server() -> Callable[[Path], contextlib.AbstractContextManager[tuple[Settings, SiteAgent, str]]]:
    """`serve_site`, for a fixture of a wider scope than `api_site`."""
    return serve_site


@pytest.fixture
def api_site(tmp_path: Path) -> Iterator[tuple[Settings, SiteAgent, str]]:
    """An agent at autonomy 2 with one decision waiting for approval, and the API serving its store."""
    with serve_site(tmp_path) as site:
        yield site


@pytest.fixture
def auth() -> Callable[[str], dict[str, str]]:
    """Headers that authenticate as a role."""

    def headers(role: str) -> dict[str, str]:
        token = next(t for t, r in TOKENS.items() if r == role)
        return {"Authorization": f"Bearer {token}"}

    return headers


@pytest.fixture
def agent_reading_inbox(api_site: tuple[Settings, SiteAgent, str]) -> Iterator[Callable[[], None]]:
    """Runs the agent's inbox sweep in the background (as its loop does) until the test ends."""
    _, agent, _ = api_site
    stop = threading.Event()

    def loop() -> None:
        while not stop.is_set():
            agent.approvals._next_poll = 0.0
            agent.sweep_timeouts()
            time.sleep(0.05)

    worker = threading.Thread(target=loop)
    worker.start()
    yield stop.set
    stop.set()
    worker.join()
