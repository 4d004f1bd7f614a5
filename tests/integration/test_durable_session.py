"""The agent's broker session outlives the agent: QoS 1 telemetry published while it is down is delivered
when it comes back (a persistent session under a stable client id), on both brokers."""

from __future__ import annotations

import asyncio
import sqlite3
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from edgeloop.agent.service import open_agent
from edgeloop.bench.agent_process import AgentProcess
from edgeloop.io.broker import EmbeddedBroker
from edgeloop.io.mqtt import MqttClient
from edgeloop.io.store import open_operator_store
from edgeloop.settings import Settings, load_settings

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


@pytest.fixture(params=["embedded", "mosquitto"])
def resending_broker(request: pytest.FixtureRequest) -> Iterator[str]:
    """A broker that sends unacknowledged QoS 1 messages again soon after a client is back: Mosquitto does at
    once; the embedded broker after its ack wait, here 2 s (30 s by default)."""
    if request.param == "mosquitto":
        yield str(request.getfixturevalue("mosquitto_url"))
        return
    with EmbeddedBroker(ack_wait_s=2) as broker:
        yield broker.url


async def test_held_acknowledgements_leave_what_was_not_acknowledged_with_the_broker(resending_broker: str) -> None:
    """A client that holds its acknowledgements gets again, after a reconnect, exactly the QoS 1 messages it did
    not acknowledge (on Mosquitto only 20 are in flight at a time: the rest wait for acknowledgements)."""
    broker_url = resending_broker
    topic, client_id = f"held/{uuid.uuid4().hex[:8]}", f"held-{uuid.uuid4().hex[:8]}"
    async with MqttClient(broker_url, client_id, clean_session=False, hold_acks=True) as receiver:
        await receiver.subscribe(topic, qos=1)
        async with MqttClient(broker_url) as device:
            for i in range(50):
                device.publish(topic, str(i).encode(), qos=1)
            await device.flush()
            first: list[int] = []
            while True:  # acknowledge 0..29 as they come; 30.. are taken but never acknowledged
                await receiver.wait(1.0)
                batch = receiver.drain(100)
                if not batch:
                    break
                taken = receiver.taken()
                for message, token in zip(batch, taken, strict=True):
                    first.append(int(message.payload))
                    if int(message.payload) < 30:
                        receiver.acknowledge([token])
    assert first[:30] == list(range(30))
    async with MqttClient(broker_url, client_id, clean_session=False, hold_acks=True) as receiver:
        await receiver.subscribe(topic, qos=1)
        again: set[int] = set()
        while True:
            await receiver.wait(4.0)
            batch = receiver.drain(100)
            if not batch:
                break
            again.update(int(m.payload) for m in batch)
            receiver.acknowledge(receiver.taken())
    async with MqttClient(broker_url, client_id, clean_session=True):  # end the session on the broker
        pass
    assert again == set(range(30, 50))


async def test_an_agent_killed_while_its_store_is_stuck_loses_no_telemetry(
    resending_broker: str, tmp_path: Path
) -> None:
    """The store's file is locked by another connection, so the agent handles QoS 1 messages but cannot commit
    them (all 200 on the embedded broker, the 20 of Mosquitto's in-flight window there); it is killed (-9) and
    started again once the store is free: all 200 points are stored, because the broker was told nothing was
    received until it was stored."""
    broker_url = resending_broker
    site = f"stuck{uuid.uuid4().hex[:8]}"
    settings = load_settings(None, agent={"site": site, "data_dir": tmp_path})
    agent = AgentProcess(broker_url, site, tmp_path)
    agent.env["EDGELOOP_AGENT__STATS_INTERVAL_S"] = "0.2"
    handled = 0

    async with MqttClient(broker_url, f"device-{site}") as device:
        await device.subscribe(f"edgeloop/v1/{site}/_agent/stats")
        device.publish(f"edgeloop/v1/{site}/pump-1/meta", orjson.dumps(META), qos=1, retain=True)
        await device.flush()
        agent.start()
        try:
            await _until(lambda: settings.agent.db_path.exists() and _stats(device).get("devices") == 1, 30.0)
            lock = sqlite3.connect(settings.agent.db_path, timeout=10)
            lock.execute("BEGIN EXCLUSIVE")  # the agent's writer now waits on the file
            now = time.time()
            for i in range(200):
                body = {"ts": now - 200 + i, "seq": i, "metrics": {"vibration": 3.0}}
                device.publish(f"edgeloop/v1/{site}/pump-1/telemetry", orjson.dumps(body), qos=1)
            await device.flush()
            await _until(lambda: _stats(device).get("points", 0) >= 20, 20.0)  # Mosquitto's window is 20
            await asyncio.sleep(1.0)
            handled = int(_stats(device)["points"])
            agent.kill()
            lock.rollback()
            lock.close()
            agent.start()
            await _until(lambda: _points(settings) >= 200, 30.0)
        finally:
            agent.terminate()
            device.publish(f"edgeloop/v1/{site}/pump-1/meta", b"", qos=1, retain=True)
            await device.flush()

    assert handled >= 20  # the first run handled what the broker let it have, and stored none of it
    assert _points(settings) == 200


_last_stats: dict[int, dict[str, object]] = {}


def _stats(client: MqttClient) -> dict[str, object]:
    """The agent's newest stats message the client has received."""
    for message in client.drain(1000):
        _last_stats[id(client)] = orjson.loads(message.payload)
    return _last_stats.get(id(client), {})


def _points(settings: Settings) -> int:
    if not settings.agent.db_path.exists():
        return 0
    store = open_operator_store(settings)
    try:
        return store.points()
    finally:
        store.close()
