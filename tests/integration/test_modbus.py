"""Modbus TCP end to end on loopback: the factory served by pymodbus, the adapter polling it, the real agent
deciding and commanding, the plant acting; and bad input (a slave gone, garbage, exception answers, values out
of range) landing in quarantine with its reason while the agent keeps running."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from edgeloop.agent.service import open_agent
from edgeloop.agent.site import SiteAgent
from edgeloop.io.mqtt import MqttClient
from edgeloop.io.protocols import Link, open_protocol
from edgeloop.io.relay import relay
from edgeloop.settings import load_settings
from edgeloop.sim.factory import FactoryPlant
from edgeloop.sim.protocols import Serve
from edgeloop.sim.protocols.modbus import ModbusPlantLink, serve_modbus
from edgeloop.sim.runner import PlantRunner

SITE = "mbsite"
Served = tuple[FactoryPlant, ModbusPlantLink, Path]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def until(condition: Callable[[], bool], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)


@contextlib.asynccontextmanager
async def factory(tmp_path: Path, devices: int = 4, speed: float = 750.0) -> AsyncIterator[Served]:
    """The factory served on a free port and stepping, and the map it is served with (polled every 20 ms)."""
    plant = FactoryPlant(n_devices=devices, seed=3, start_ts=time.time() - 86_400, site=SITE)
    map_path = tmp_path / "map.yaml"
    serve = Serve(port=free_port(), map_out=map_path, options={"poll_s": 0.02})
    stop = asyncio.Event()
    async with serve_modbus(plant, serve) as link:
        runner = asyncio.create_task(PlantRunner(plant, link, speed=speed).run(stop))
        try:
            yield plant, link, map_path
        finally:
            stop.set()
            await runner


@contextlib.asynccontextmanager
async def agent_on(map_path: Path, tmp_path: Path) -> AsyncIterator[SiteAgent]:
    settings = load_settings(None, agent={"site": SITE, "autonomy": 3, "data_dir": tmp_path / "var"})
    stop = asyncio.Event()
    async with open_agent(settings, "", protocol="modbus", protocol_map=map_path) as agent:
        task = asyncio.create_task(agent.run(stop))
        yield agent
        stop.set()
        await task
        agent.store.flush()


def quarantined(agent: SiteAgent) -> list[tuple[str, str]]:
    agent.store.flush()
    return [(str(d), str(r)) for d, r in agent.store.query("SELECT device, reason FROM quarantine")]


def edit_map(map_path: Path, change: Callable[[dict[str, Any]], None]) -> Path:
    doc = yaml.safe_load(map_path.read_text())
    change(doc)
    out = map_path.with_name("edited.yaml")
    out.write_text(yaml.safe_dump(doc))
    return out


async def test_a_fault_over_modbus_becomes_a_decision_a_write_the_plant_acts_on_and_its_read_back_ack(
    tmp_path: Path,
) -> None:
    async with factory(tmp_path) as (plant, _link, map_path), agent_on(map_path, tmp_path) as agent:
        await until(lambda: agent.stats.points > 4 * 6 * 60)  # a few minutes of each device learnt
        plant._vib0[0] *= 8  # a bearing going bad on pump-001: vibration far above what was learnt
        await until(lambda: agent.stats.commands_acked >= 1, timeout=30)
        assert agent.stats.quarantined == 0
        agent.store.flush()
        [(device, name, status, detail)] = agent.store.query(
            "SELECT device, name, status, detail FROM commands WHERE device='pump-001'"
        )
    assert (device, name, status) == ("pump-001", "schedule_maintenance", "done")
    assert "read back 0.5" in detail
    acted = [a for a in plant.ground_truth()["actions"] if a["device"] == "pump-001"]
    assert acted[0]["name"] == "schedule_maintenance"
    assert acted[0]["status"] == "done"


async def test_a_failure_seen_in_the_status_register_reaches_the_agent_as_a_failure_event(tmp_path: Path) -> None:
    async with factory(tmp_path) as (plant, _link, map_path), agent_on(map_path, tmp_path) as agent:
        await until(lambda: agent.stats.points > 100)
        plant._wear[1] = 1.0  # motor-002's bearing gives out at the next step
        await until(lambda: agent.stats.failures >= 1)
        agent.store.flush()
        [(device,)] = agent.store.query("SELECT device FROM outcomes WHERE kind='failure'")
    assert device == "motor-002"


async def test_a_slave_that_stops_answering_turns_offline_with_its_reason(tmp_path: Path) -> None:
    async with factory(tmp_path) as (_plant, link, map_path), agent_on(map_path, tmp_path) as agent:
        await until(lambda: agent.stats.points > 100)
        link.silent.add("motor-002")  # its gateway now answers 0x0B: the target device failed to respond
        await until(lambda: agent.stats.quarantined >= 1)
        points = agent.stats.points
        await until(lambda: agent.stats.points > points + 50)  # the agent and the other devices go on
        reasons = quarantined(agent)
    assert reasons[0][0] == "motor-002"
    assert reasons[0][1].startswith("modbus slave not answering: modbus no answer: 0x0b gateway no response")


async def test_a_server_that_vanishes_mid_run_turns_its_devices_offline(tmp_path: Path) -> None:
    async with factory(tmp_path) as (_plant, link, map_path), agent_on(map_path, tmp_path) as agent:
        await until(lambda: agent.stats.points > 100)
        await link.stop()  # the whole gateway goes away: connection refused, reconnects back off
        await until(lambda: agent.stats.quarantined >= 4)
        devices = {d for d, r in quarantined(agent) if r.startswith("modbus slave not answering")}
    assert devices == {"pump-001", "motor-002", "pump-003", "motor-004"}


async def test_an_exception_answer_is_quarantined_with_its_code(tmp_path: Path) -> None:
    async with factory(tmp_path) as (_plant, _link, map_path):

        def beyond_the_registers(doc: dict[str, Any]) -> None:
            doc["models"]["motor"]["metrics"]["current"]["address"] = 100  # the simulator has 64 registers

        edited = edit_map(map_path, beyond_the_registers)
        async with agent_on(edited, tmp_path) as agent:
            await until(lambda: agent.stats.quarantined >= 1 and agent.stats.points > 50)
            device, reason = quarantined(agent)[0]
    assert device in ("motor-002", "motor-004")
    assert reason.startswith("modbus exception: 0x02 illegal address")


async def test_values_out_of_their_range_are_quarantined(tmp_path: Path) -> None:
    async with factory(tmp_path) as (_plant, _link, map_path):

        def narrow(doc: dict[str, Any]) -> None:
            doc["models"]["pump"]["metrics"]["current"]["range"] = [0, 1]  # pumps draw 30-60 A

        async with agent_on(edit_map(map_path, narrow), tmp_path) as agent:
            await until(lambda: agent.stats.quarantined >= 2 and agent.stats.points > 50)
            device, reason = quarantined(agent)[0]
    assert device in ("pump-001", "pump-003")
    assert reason.startswith("out of range: current=")


async def _garbage_server(port: int) -> asyncio.Server:
    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError):
            while await reader.read(260):
                writer.write(b"\x00\x01\xff\xfe garbage, not a Modbus frame \xde\xad\xbe\xef")
                await writer.drain()
        writer.close()

    return await asyncio.start_server(answer, "127.0.0.1", port)


async def test_garbage_on_the_socket_is_quarantined_and_the_agent_goes_on(tmp_path: Path) -> None:
    async with factory(tmp_path) as (_plant, _link, map_path):
        port = free_port()

        def second_gateway(doc: dict[str, Any]) -> None:
            doc["gateways"].append({"host": "127.0.0.1", "port": port, "timeout_s": 0.3,
                                    "devices": [{"unit": 1, "id": "pump-901", "model": "pump"}]})  # fmt: skip

        server = await _garbage_server(port)
        async with server, agent_on(edit_map(map_path, second_gateway), tmp_path) as agent:
            await until(lambda: agent.stats.quarantined >= 1)
            points = agent.stats.points
            await until(lambda: agent.stats.points > points + 50)
            device, reason = quarantined(agent)[0]
            [(raw,)] = agent.store.query("SELECT raw FROM quarantine LIMIT 1")
    assert device == "pump-901"
    assert reason.startswith("modbus garbled answer: input 0-12 of unit 1")
    assert b"garbage" in bytes(raw)


@pytest.mark.skipif(shutil.which("mbpoll") is None, reason="mbpoll (Debian package mbpoll) is not installed")
async def test_mbpoll_an_independent_client_reads_the_simulated_factory(tmp_path: Path) -> None:
    async with factory(tmp_path) as (_plant, _link, map_path):
        port = yaml.safe_load(map_path.read_text())["gateways"][0]["port"]
        await asyncio.sleep(0.2)
        # unit 1 (pump-001): holding register 1 (mbpoll counts from 1) is the speed factor, 1000 = 1.0
        proc = await asyncio.create_subprocess_exec(
            "mbpoll", "-m", "tcp", "-p", str(port), "-a", "1", "-t", "4", "-r", "1", "-c", "1", "-1", "127.0.0.1",
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )  # fmt: skip
        out, _ = await asyncio.wait_for(proc.communicate(), 10)
        assert b"[1]: \t1000" in out
        # input registers 5-6 of unit 2 (motor-002): its speed as a float32, big-endian words
        proc = await asyncio.create_subprocess_exec(
            "mbpoll", "-m", "tcp", "-p", str(port), "-a", "2", "-t", "3:float", "-B", "-r", "5", "-c", "1", "-1",
            "127.0.0.1", stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )  # fmt: skip
        out, _ = await asyncio.wait_for(proc.communicate(), 10)
    speed = float(out.decode().split("[5]:")[1].split()[0])
    assert 0.5 < speed < 1.2


async def test_a_gateway_relays_the_plant_onto_the_broker_and_commands_back(mosquitto_url: str, tmp_path: Path) -> None:
    site = f"gw{uuid.uuid4().hex[:8]}"
    plant = FactoryPlant(n_devices=4, seed=3, start_ts=time.time() - 86_400, site=site)
    map_path = tmp_path / "map.yaml"
    sim_stop, relay_stop, agent_stop = asyncio.Event(), asyncio.Event(), asyncio.Event()
    settings = load_settings(None, agent={"site": site, "autonomy": 3, "data_dir": tmp_path / "var"})
    async with serve_modbus(plant, Serve(port=free_port(), map_out=map_path, options={"poll_s": 0.02})) as served:
        runner = asyncio.create_task(PlantRunner(plant, served, speed=750.0).run(sim_stop))
        async with open_agent(settings, mosquitto_url) as agent:
            agent_task = asyncio.create_task(agent.run(agent_stop))
            await asyncio.sleep(0.3)
            link = Link(site, map_path, mosquitto_url, f"gw-{site}")
            async with MqttClient(mosquitto_url, link.client_id) as mqtt, open_protocol("modbus", link) as plant_side:
                relaying = asyncio.create_task(relay(plant_side, mqtt, site, relay_stop))
                await until(lambda: agent.stats.points > 4 * 6 * 60)
                plant._vib0[0] *= 8
                await until(lambda: agent.stats.commands_acked >= 1, timeout=30)
                relay_stop.set()
                stats = await relaying
                for device in plant.devices:  # leave no retained messages behind on a shared broker
                    for channel in ("meta", "state"):
                        mqtt.publish(f"edgeloop/v1/{site}/{device}/{channel}", b"", qos=1, retain=True)
                await mqtt.flush()
            agent_stop.set()
            await agent_task
        sim_stop.set()
        await runner
    assert stats.down >= 1
    assert agent.stats.commands_acked >= 1
    assert any(a["name"] == "schedule_maintenance" and a["status"] == "done" for a in plant.ground_truth()["actions"])
