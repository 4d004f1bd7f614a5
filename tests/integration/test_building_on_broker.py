"""The simulated building on a real broker (embedded and Mosquitto): retained meta, telemetry, commands and acks."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import orjson
from typer.testing import CliRunner

from edgeloop.cli import app
from edgeloop.io.broker import EmbeddedBroker
from edgeloop.io.mqtt import MqttClient
from edgeloop.model import DeviceMeta
from edgeloop.sim.building import BuildingPlant
from edgeloop.sim.runner import PlantRunner

DAY = 86_400.0


async def until(condition: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)


async def test_building_publishes_telemetry_and_acks_commands(broker_url: str) -> None:
    site = f"bld{uuid.uuid4().hex[:8]}"
    plant = BuildingPlant(n_zones=2, seed=1, start_ts=19_676 * DAY + 10 * 3600, site=site)
    received: dict[str, list[dict[str, object]]] = {"meta": [], "telemetry": [], "ack": []}

    async with MqttClient(broker_url, f"sim-{site}") as sim_client, MqttClient(broker_url, f"ops-{site}") as ops:
        await ops.subscribe(f"edgeloop/v1/{site}/#", qos=1)

        async def watch(stop: asyncio.Event) -> None:
            while not stop.is_set():
                for message in ops.drain(10_000):
                    channel = message.topic.rsplit("/", 1)[-1]
                    if channel in received and message.payload:
                        received[channel].append(orjson.loads(message.payload))
                await asyncio.sleep(0.01)

        stop, done = asyncio.Event(), asyncio.Event()
        watcher = asyncio.create_task(watch(done))
        runner = PlantRunner(plant, sim_client, speed=600.0)
        task = asyncio.create_task(runner.run(stop, sim_seconds=DAY))
        await until(lambda: len(received["telemetry"]) >= 3)
        for cmd_id, args in (("c1", {"setpoint": 25.0}), ("c2", {"setpoint": 40.0})):
            command = {"id": cmd_id, "name": "set_setpoint", "args": args}
            ops.publish(f"edgeloop/v1/{site}/ahu-01/cmd", orjson.dumps(command), qos=1)
        await until(lambda: len(received["ack"]) >= 2)
        stop.set()
        await task
        metas: dict[str, DeviceMeta] = {}
        async with MqttClient(broker_url, f"late-{site}") as late:  # retained: what an agent started later gets
            await late.subscribe(f"edgeloop/v1/{site}/+/meta", qos=1)
            deadline = time.monotonic() + 10
            while len(metas) < len(plant.devices) and time.monotonic() < deadline:
                await late.wait(0.2)
                for message in late.drain(100):
                    if message.payload:
                        meta = DeviceMeta.from_json(orjson.loads(message.payload))
                        metas[meta.device] = meta
        for device in plant.devices:  # leave no retained messages behind on a shared broker
            for channel in ("meta", "state"):
                sim_client.publish(f"edgeloop/v1/{site}/{device}/{channel}", b"", qos=1, retain=True)
        await sim_client.flush()
        done.set()
        await watcher

    assert set(metas) == {"ahu-01", "ahu-02", "chiller-01"}
    assert metas["ahu-01"].command("set_setpoint") is not None
    metrics = [t["metrics"] for t in received["telemetry"]]
    assert all("power_kw" in m for m in metrics)
    assert any("zone_temp" in m for m in metrics)
    acks = {a["id"]: a for a in received["ack"]}
    assert acks["c1"]["status"] == "done"
    assert acks["c2"]["status"] == "rejected"
    assert acks["c2"]["detail"] == "setpoint=40.0 outside [18.0, 28.0]"
    assert plant.setpoints()["ahu-01"] == 25.0
    assert runner.stats.commands == 2


def test_sim_building_command_runs_and_writes_the_ground_truth(embedded_broker: EmbeddedBroker, tmp_path: Path) -> None:
    truth_file = tmp_path / "truth.json"
    args = ["sim", "building", "--broker", embedded_broker.url, "--site", f"bld{uuid.uuid4().hex[:8]}", "--zones", "2"]
    args += ["--speed", "0", "--sim-days", "0.25", "--start-ts", str(19_676 * DAY), "--ground-truth", str(truth_file)]
    result = CliRunner().invoke(app, [*args, "--faults-per-day", "0", "--quiet"])
    assert result.exit_code == 0, result.output
    truth = orjson.loads(truth_file.read_bytes())
    assert truth["devices"] == {"ahu-01": "air_handler", "ahu-02": "air_handler", "chiller-01": "chiller"}
    assert truth["end_ts"] == 19_676 * DAY + 0.25 * DAY
    assert truth["faults"] == []


def test_sim_building_says_what_is_wrong_with_a_bad_broker() -> None:
    result = CliRunner().invoke(app, ["sim", "building", "--broker", "http://nowhere", "--quiet"])
    assert result.exit_code == 2
    assert "error" in result.output
