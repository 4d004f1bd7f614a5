"""`edgeloop gateway opcua|sparkplug` as a user runs it: the simulated factory served over the protocol, the
gateway publishing it onto the v1 topics of Mosquitto, and a command sent on the broker answered by the plant.
(The Modbus gateway is tested with an agent in tests/integration/test_modbus.py.)"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket
import sys
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import orjson
import pytest

from edgeloop.io.mqtt import MqttClient

pytestmark = pytest.mark.e2e
DEVICES = 3


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.asynccontextmanager
async def running(*args: str) -> AsyncIterator[asyncio.subprocess.Process]:
    proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "edgeloop", *args,
                                                stdin=asyncio.subprocess.DEVNULL)  # fmt: skip
    try:
        yield proc
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(proc.wait(), 15)
            except TimeoutError:
                proc.kill()
                await proc.wait()


async def until(check: object, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.1)


@pytest.mark.parametrize("protocol", ["opcua", "sparkplug"])
async def test_the_gateway_publishes_the_plant_and_relays_a_command(
    protocol: str, mosquitto_url: str, tmp_path: Path
) -> None:
    site = f"gw{protocol[:2]}{uuid.uuid4().hex[:8]}"
    map_path = tmp_path / "map.yaml"
    sim_args = ["sim", "factory", "--broker", mosquitto_url, "--site", site, "--devices", str(DEVICES),
                "--speed", "600", "--quiet", "--protocol", protocol, "--port", str(free_port()),
                "--map-out", str(map_path)]  # fmt: skip
    gw_args = ["gateway", protocol, "--broker", mosquitto_url, "--site", site, "--quiet"]
    metas: dict[str, dict[str, object]] = {}
    telemetry, acks = [0], []
    async with MqttClient(mosquitto_url, f"test-{site}") as watcher, running(*sim_args):
        await watcher.subscribe(f"edgeloop/v1/{site}/#", qos=1)
        if protocol == "opcua":
            await until(map_path.exists, 60)
            await asyncio.sleep(0.5)
            gw_args += ["--map", str(map_path)]

        def seen() -> bool:
            for topic, payload, *_ in watcher.drain(10_000):
                device, channel = topic.split("/")[3], "/".join(topic.split("/")[4:])
                if channel == "meta" and payload:
                    metas[device] = orjson.loads(payload)
                elif channel == "telemetry":
                    telemetry[0] += 1
                elif channel == "cmd/ack":
                    acks.append(orjson.loads(payload))
            return len(metas) == DEVICES and telemetry[0] > 10 * DEVICES

        async with running(*gw_args) as gateway:
            await until(seen, 90)
            device = sorted(metas)[0]
            command = {
                "id": uuid.uuid4().hex,
                "name": "schedule_maintenance",
                "args": {"within_h": 4},
                "decision": "test",
            }
            watcher.publish(f"edgeloop/v1/{site}/{device}/cmd", orjson.dumps(command), qos=1)
            await until(lambda: seen() is not None and any(a["id"] == command["id"] for a in acks), 60)
            assert gateway.returncode is None, "the gateway stopped by itself"
        for device in metas:  # leave no retained messages behind on a shared broker
            for channel in ("meta", "state"):
                watcher.publish(f"edgeloop/v1/{site}/{device}/{channel}", b"", qos=1, retain=True)
        await watcher.flush()
    ack = next(a for a in acks if a["id"] == command["id"])
    assert ack["status"] == "done", ack
    assert all(m.get("device") in metas for m in metas.values())
