"""The agent's broker session outlives the agent: QoS 1 telemetry published while it is down is delivered
when it comes back (a persistent session under a stable client id), on both brokers."""

from __future__ import annotations

import asyncio
import time
import uuid
from pathlib import Path

import orjson

from edgeloop.agent.service import open_agent
from edgeloop.io.mqtt import MqttClient
from edgeloop.settings import load_settings

META = {"device": "pump-1", "asset_type": "pump", "commands": {},
        "metrics": {"vibration": {"unit": "mm/s", "low": 0, "high": 50}}}  # fmt: skip


async def test_telemetry_sent_while_the_agent_is_down_reaches_it_when_it_is_back(
    broker_url: str, tmp_path: Path
) -> None:
    site = f"durable{uuid.uuid4().hex[:8]}"
    settings = load_settings(None, broker={"url": broker_url, "persistent_session": True, "qos": 1},
                             agent={"site": site, "data_dir": tmp_path})  # fmt: skip
    async with MqttClient(broker_url, f"device-{site}") as device:
        device.publish(f"edgeloop/v1/{site}/pump-1/meta", orjson.dumps(META), qos=1, retain=True)
        await device.flush()
        async with open_agent(settings, broker_url) as agent:  # first run: subscribes, then stops
            stop = asyncio.Event()
            task = asyncio.create_task(agent.run(stop))
            await _until(lambda: len(agent.registry) == 1)
            stop.set()
            await task
        now = time.time()
        for i in range(200):  # the agent is down
            body = {"ts": now - 200 + i, "seq": i, "metrics": {"vibration": 3.0}}
            device.publish(f"edgeloop/v1/{site}/pump-1/telemetry", orjson.dumps(body), qos=1)
        await device.flush()
        async with open_agent(settings, broker_url) as agent:  # back
            stop = asyncio.Event()
            task = asyncio.create_task(agent.run(stop))
            await _until(lambda: agent.stats.points >= 200)
            stop.set()
            await task
        device.publish(f"edgeloop/v1/{site}/pump-1/meta", b"", qos=1, retain=True)  # leave nothing retained
        await device.flush()

    assert agent.stats.points == 200
    assert agent.stats.quarantined == 0


async def _until(condition: object, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:  # type: ignore[operator]
        await asyncio.sleep(0.05)
