"""Sparkplug B on a real broker (Mosquitto): the factory as an edge node -> our primary host -> the agent ->
decision -> DCMD -> the plant's effect -> ack; bad input into quarantine; an independent edge node (pysparkplug)."""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import orjson
import pytest

from edgeloop.agent.ledger_writer import LedgerWriter
from edgeloop.agent.service import make_learner, make_policy
from edgeloop.agent.site import SiteAgent
from edgeloop.io.mqtt import MqttClient
from edgeloop.io.sparkplug import SparkplugHost
from edgeloop.io.sparkplug.codec import DataType, Metric, metric, payload
from edgeloop.io.store import SqliteStore
from edgeloop.settings import load_settings
from edgeloop.sim.factory import FactoryPlant
from edgeloop.sim.protocols.sparkplug import SparkplugEdgeNode
from edgeloop.sim.runner import PlantRunner

pytestmark = pytest.mark.integration
HOUR = 3600.0
CHANGE = "Double to String without a rebirth"


@contextlib.asynccontextmanager
async def agent_on_sparkplug(url: str, site: str, data_dir: Path) -> AsyncIterator[tuple[SiteAgent, SparkplugHost]]:
    """An act-level agent whose transport is our Sparkplug host for group `site`, running until the block ends."""
    settings = load_settings(None, agent={"site": site, "autonomy": 3, "data_dir": data_dir})
    cfg = settings.agent
    store = SqliteStore(cfg.db_path, cfg.site)
    stop = asyncio.Event()
    try:
        async with SparkplugHost(url, site, group=site, host_id=f"edgeloop-{site}") as host:
            books = LedgerWriter.open(store, settings.ledger)
            agent = SiteAgent(cfg, host, store, make_learner(cfg), make_policy(cfg), books)
            task = asyncio.create_task(agent.run(stop))
            await asyncio.sleep(0.2)
            yield agent, host
            stop.set()
            await task
    finally:
        await asyncio.to_thread(store.close)


async def until(check: object, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if callable(check) and check():
            return True
        await asyncio.sleep(0.05)
    return False


async def test_the_factory_over_sparkplug_gets_decisions_commands_and_acks(mosquitto_url: str, tmp_path: Path) -> None:
    site = f"spb{uuid.uuid4().hex[:8]}"
    # a small plant with frequent faults, so that half a simulated day brings decisions
    plant = FactoryPlant(n_devices=12, seed=0, start_ts=1_700_000_000.0, site=site, faults_per_device_day=3.0)
    async with (
        agent_on_sparkplug(mosquitto_url, site, tmp_path) as (agent, host),
        SparkplugEdgeNode(mosquitto_url, group=site, node="line1") as node,
    ):
        runner = PlantRunner(plant, node, speed=4000.0)
        await runner.run(asyncio.Event(), sim_seconds=12 * HOUR)

        def settled() -> bool:
            runner.answer_commands()  # the plant keeps answering after its last step, as a real one would
            s = agent.stats
            return s.commands_sent > 0 and s.commands_sent == s.commands_acked + s.commands_rejected

        assert await until(settled, 20.0), agent.stats.as_dict()
        stats = agent.stats
    assert stats.decisions >= 1
    assert stats.commands_acked >= 1
    assert stats.quarantined == 0
    acted = [a for a in plant.ground_truth()["actions"] if a["status"] == "done"]
    assert len(acted) == stats.commands_acked, "each ack is the plant's own answer to a DCMD it acted on"
    assert host.session.counters.rejected == 0


async def test_bad_sparkplug_input_lands_in_quarantine_and_the_agent_keeps_running(
    mosquitto_url: str, tmp_path: Path
) -> None:
    site = f"spb{uuid.uuid4().hex[:8]}"
    base = f"spBv1.0/{site}"
    ms = int(time.time() * 1000)

    def body(seq: int | None, *metrics: Metric) -> bytes:
        return payload(seq, ms, list(metrics)).SerializeToString()

    def temp(value: float | str, datatype: DataType = DataType.DOUBLE) -> Metric:
        return metric(None, value, datatype, alias=1, with_type=datatype != DataType.DOUBLE)

    async with agent_on_sparkplug(mosquitto_url, site, tmp_path) as (agent, _), MqttClient(mosquitto_url) as edge:
        rebirths: list[bytes] = []
        await edge.subscribe(f"{base}/NCMD/n1", qos=1)
        edge.publish(f"{base}/NBIRTH/n1", body(0, metric("bdSeq", 0, DataType.INT64)), qos=1)
        birth = metric("temp", 20.0, DataType.DOUBLE, alias=1, properties={"engLow": -50.0, "engHigh": 200.0})
        asset = metric("Properties/asset_type", "pump", DataType.STRING)  # an asset type the site's ledger prices
        edge.publish(f"{base}/DBIRTH/n1/oven-1", body(1, birth, asset), qos=1)
        edge.publish(f"{base}/DDATA/n1/oven-1", body(2, temp(21.0)), qos=1)
        assert await until(lambda: agent.stats.points == 1), agent.stats.as_dict()

        edge.publish(f"{base}/DDATA/n1/oven-1", b"\x0a\xff\xff not protobuf", qos=1)
        edge.publish(f"{base}/DDATA/n1/oven-1", body(7, temp(22.0)), qos=1)  # a gap: 3 expected
        edge.publish(f"{base}/DDATA/n1/oven-2", body(8, temp(23.0)), qos=1)  # no DBIRTH for oven-2
        edge.publish(f"{base}/DDATA/n1/oven-1", body(9, temp("hot", DataType.STRING)), qos=1)
        edge.publish(f"{base}/DDATA/n1/oven-1", body(10, temp(24.0)), qos=1)  # good again
        assert await until(lambda: agent.stats.points == 2 and agent.stats.quarantined == 4), agent.stats.as_dict()
        assert await until(lambda: bool(rebirths.extend(m.payload for m in edge.drain(10)) or rebirths))
        agent.store.flush()
        rows = agent.store.query("SELECT topic, device, reason FROM quarantine ORDER BY id")
    assert rows == [
        (f"{base}/DDATA/n1/oven-1", "oven-1", rows[0][2]),
        (f"{base}/DDATA/n1/oven-1", "oven-1", "seq gap: expected seq 3, got 7"),
        (f"{base}/DDATA/n1/oven-2", "oven-2", "DDATA before its DBIRTH (device 'oven-2' of node 'n1' is not born)"),
        (f"{base}/DDATA/n1/oven-1", "oven-1", f"metric 'temp' changed its datatype from {CHANGE}"),
    ]  # fmt: skip
    assert rows[0][2].startswith("not a valid Sparkplug B payload (protobuf:")
    assert rebirths, "the host asked the node for a rebirth"


async def test_an_independent_edge_node_pysparkplug_talks_to_our_host(mosquitto_url: str) -> None:
    pytest.importorskip("pysparkplug")
    site = f"spb{uuid.uuid4().hex[:8]}"
    host_name, port = mosquitto_url.removeprefix("mqtt://").split(":")
    script = Path(__file__).with_name("spb_edge_node.py")
    async with SparkplugHost(mosquitto_url, site, group=site, host_id=f"edgeloop-{site}") as host:
        seen: list[tuple[str, bytes]] = []

        def pump() -> None:
            seen.extend((m.topic.removeprefix(f"edgeloop/v1/{site}/"), m.wire()) for m in host.drain(1000))

        args = [sys.executable, str(script), host_name, port, site, "node-a"]
        node = subprocess.Popen(args, stdout=subprocess.PIPE)  # noqa: ASYNC220 - started once, killed below
        try:
            assert node.stdout is not None
            assert node.stdout.readline().strip() == b"ready"
            assert await until(lambda: pump() or any(t == "press-1/telemetry" for t, _ in seen))
            meta = orjson.loads(next(p for t, p in seen if t == "press-1/meta"))
            assert set(meta["metrics"]) == {"temp"}
            assert set(meta["commands"]) == {"stop"}
            telemetry = orjson.loads(next(p for t, p in seen if t == "press-1/telemetry"))
            assert set(telemetry["metrics"]) == {"temp"}

            host.publish(f"edgeloop/v1/{site}/press-1/cmd", orjson.dumps({"id": "c-1", "name": "stop", "args": {}}))
            assert await until(lambda: pump() or any(t == "press-1/cmd/ack" for t, _ in seen))
            ack = orjson.loads(next(p for t, p in seen if t == "press-1/cmd/ack"))
            assert ack == {"id": "c-1", "status": "done", "detail": "stopped by pysparkplug"}
        finally:
            node.kill()  # it vanishes: the broker publishes its NDEATH will
            node.wait()
        assert await until(lambda: pump() or ("press-1/state", b"offline") in seen)
    assert host.session.counters.rejected == 0
