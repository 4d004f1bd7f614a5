"""OPC UA on loopback: the factory as an OPC UA server -> our source (browsing its address space) -> the agent ->
decision -> method call -> the plant's effect -> the call's StatusCode as the ack; bad and uncertain StatusCodes
and a server that vanishes into quarantine; Basic256Sha256 with username and password."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import orjson
import pytest
from asyncua import ua

from edgeloop.agent.ledger_writer import LedgerWriter
from edgeloop.agent.service import make_learner, make_policy
from edgeloop.agent.site import SiteAgent
from edgeloop.io.opcua import OpcUaConfig, OpcUaSource
from edgeloop.io.opcua.certs import client_certificate
from edgeloop.io.store import SqliteStore
from edgeloop.settings import load_settings
from edgeloop.sim.factory import FactoryPlant
from edgeloop.sim.protocols.opcua import FactoryOpcUaServer
from edgeloop.sim.runner import PlantRunner

pytestmark = pytest.mark.integration
HOUR = 3600.0


def endpoint() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"opc.tcp://127.0.0.1:{s.getsockname()[1]}/edgeloop/"


def browsing(url: str, **options: object) -> OpcUaConfig:
    return OpcUaConfig(url, browse_folder="Factory", browse_type="FactoryDeviceType", sampling_ms=0.0,
                       publish_ms=50.0, queue_size=100, **options)  # type: ignore[arg-type]  # fmt: skip


@contextlib.asynccontextmanager
async def agent_on(source: OpcUaSource, site: str, data_dir: Path) -> AsyncIterator[SiteAgent]:
    settings = load_settings(None, agent={"site": site, "autonomy": 3, "data_dir": data_dir})
    cfg = settings.agent
    store = SqliteStore(cfg.db_path, cfg.site)
    stop = asyncio.Event()
    try:
        agent = SiteAgent(
            cfg, source, store, make_learner(cfg), make_policy(cfg), LedgerWriter.open(store, settings.ledger)
        )
        task = asyncio.create_task(agent.run(stop))
        yield agent
        stop.set()
        await task
    finally:
        await asyncio.to_thread(store.close)


async def until(check: Callable[[], bool], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        await asyncio.sleep(0.05)
    return False


async def test_the_factory_over_opcua_gets_decisions_method_calls_and_acks(tmp_path: Path) -> None:
    site, url = f"opc{uuid.uuid4().hex[:6]}", endpoint()
    # a small plant with frequent faults soon after a short warm-up, so that six simulated hours bring decisions
    plant = FactoryPlant(n_devices=4, seed=0, start_ts=1_700_000_000.0, site=site, faults_per_device_day=8.0,
                         warmup_s=HOUR)  # fmt: skip
    async with FactoryOpcUaServer(url, site) as server:
        runner = PlantRunner(plant, server, speed=1500.0)
        await runner.start()
        async with OpcUaSource(browsing(url), site) as source, agent_on(source, site, tmp_path) as agent:
            await runner.run(asyncio.Event(), sim_seconds=6 * HOUR)

            def settled() -> bool:
                runner.answer_commands()
                s = agent.stats
                return s.commands_sent > 0 and s.commands_sent == s.commands_acked + s.commands_rejected

            assert await until(settled, 15.0), agent.stats.as_dict()
            stats = agent.stats
    assert stats.decisions >= 1
    assert stats.commands_acked >= 1
    # a loaded machine may starve the in-process server's heartbeat into a reconnect; no input was bad
    assert set(stats.quarantine_reasons) <= {"server unreachable", "data gap"}
    assert runner.stats.commands == stats.commands_acked, "each ack is a method call the plant acted on"
    assert source.changes > 0.9 * server.writes, "data by subscription: the changes the server made reach us"


async def test_each_message_is_one_time_of_one_device_in_time_order(tmp_path: Path) -> None:
    """A publish response groups notifications by node, so a device's metrics at one source time come apart and
    out of order: the source puts them back together, one message per device and time, oldest first, each point
    at its own source time. A node with no value yet (BadWaitingForInitialData, stamped by the server's clock) is
    not a reading."""
    site, url = f"opc{uuid.uuid4().hex[:6]}", endpoint()
    plant = FactoryPlant(n_devices=3, seed=0, start_ts=1_700_000_000.0, site=site)
    steps = {plant.start_ts + i * plant.interval_s for i in range(1_000)}
    async with FactoryOpcUaServer(url, site) as server:
        runner = PlantRunner(plant, server, speed=600.0)
        await runner.start()
        async with OpcUaSource(browsing(url), site) as source:
            await runner.run(asyncio.Event(), sim_seconds=0.5 * HOUR)
            await asyncio.sleep(1.0)
            sent = [(m.topic.split("/")[3], orjson.loads(m.payload)) for m in source.drain(100_000)
                    if m.topic.endswith("/telemetry")]  # fmt: skip
    assert source.waiting > 0  # each variable's state before its first sample
    assert len(sent) > 100
    assert {doc["ts"] for _, doc in sent} <= steps, "every reading at a time the plant stepped, none at the server's"
    for device in {device for device, _ in sent}:
        times = [doc["ts"] for name, doc in sent if name == device]
        assert times == sorted(set(times)), f"{device}: one message per time, oldest first"
    together = [len(doc["metrics"]) for _, doc in sent]
    assert sum(n >= 4 for n in together) > 0.9 * len(together), "a device's metrics at one time, in one message"


async def test_bad_status_and_a_vanishing_server_land_in_quarantine(tmp_path: Path) -> None:
    site, url = f"opc{uuid.uuid4().hex[:6]}", endpoint()
    plant = FactoryPlant(n_devices=2, seed=1, start_ts=time.time() - 600, site=site)
    server = FactoryOpcUaServer(url, site)
    await server.__aenter__()
    runner = PlantRunner(plant, server, speed=60.0)
    await runner.start()
    try:
        async with OpcUaSource(browsing(url), site) as source, agent_on(source, site, tmp_path) as agent:
            runner._publish_step(plant.step())
            assert await until(lambda: agent.stats.points > 0), agent.stats.as_dict()
            server.set_status("pump-001", "vibration", 3.0, ua.StatusCodes.BadSensorFailure)
            server.set_status("pump-001", "flow", 80.0, ua.StatusCodes.UncertainLastUsableValue)
            assert await until(lambda: agent.stats.quarantined == 2), agent.stats.as_dict()

            await server.__aexit__(None, None, None)  # the server vanishes mid-run
            assert await until(lambda: not source.connected, 10.0)
            server = FactoryOpcUaServer(url, site)  # and comes back on the same endpoint
            await server.__aenter__()
            runner = PlantRunner(plant, server, speed=60.0)
            await runner.start()
            assert await until(lambda: source.connected and bool(source.gaps), 15.0)
            points = agent.stats.points
            runner._publish_step(plant.step())
            assert await until(lambda: agent.stats.points > points), "data flows again after the reconnect"
            agent.store.flush()
            reasons = [r for (r,) in agent.store.query("SELECT reason FROM quarantine ORDER BY id")]
    finally:
        await server.__aexit__(None, None, None)
    assert reasons[:2] == ["OPC UA bad status BadSensorFailure on vibration: value not used",
                           "OPC UA uncertain status UncertainLastUsableValue on flow: value not used"]  # fmt: skip
    assert sum(r.startswith("server unreachable") for r in reasons) == 2  # one per device
    assert sum(r.startswith("data gap: no data for") for r in reasons) == 2


async def test_basic256sha256_sign_and_encrypt_with_a_username(tmp_path: Path) -> None:
    site, url = f"opc{uuid.uuid4().hex[:6]}", endpoint()
    server_cert = await client_certificate(tmp_path / "server", "urn:freeopcua:python:server", server=True)
    plant = FactoryPlant(n_devices=1, seed=2, start_ts=time.time() - 600, site=site)
    users = {"operator": "s3cret"}
    async with FactoryOpcUaServer(url, site, certificate=server_cert, users=users) as server:
        runner = PlantRunner(plant, server, speed=60.0)
        await runner.start()
        cfg = browsing(url, security="Basic256Sha256_SignAndEncrypt", server_certificate=server_cert[0],
                       certificate_dir=tmp_path / "client", username="operator", password="s3cret")  # fmt: skip
        async with OpcUaSource(cfg, site) as source:
            runner._publish_step(plant.step())
            assert await until(lambda: any(m.topic.endswith("/telemetry") for m in source.drain(100)))
        assert (tmp_path / "client" / "client-cert.der").exists(), "our certificate, made on first use"
        wrong = browsing(url, security="Basic256Sha256_SignAndEncrypt", server_certificate=server_cert[0],
                         certificate_dir=tmp_path / "client", username="operator", password="wrong")  # fmt: skip
        with pytest.raises(Exception, match="BadUserAccessDenied"):
            async with OpcUaSource(wrong, site):
                pass
