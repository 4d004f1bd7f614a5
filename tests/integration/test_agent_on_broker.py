"""The agent on a real broker (embedded NATS and Mosquitto): a scripted device, bad input, commands, acks."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import numpy as np
import orjson
import pytest

from edgeloop.agent.service import open_agent
from edgeloop.agent.site import SiteAgent
from edgeloop.io.mqtt import Message, MqttClient
from edgeloop.model import ArgSpec, CommandSpec, DeviceMeta, MetricSpec
from edgeloop.settings import load_settings

META = DeviceMeta(
    "pump-1",
    "pump",
    (MetricSpec("vibration", "mm/s", 0, 100), MetricSpec("temp", "C", -40, 150)),
    (CommandSpec("schedule_maintenance", (ArgSpec("within_h", 0, 24),)),),
)


async def until(condition: object, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)


class Harness:
    def __init__(self, agent: SiteAgent, device: MqttClient, site: str) -> None:
        self.agent, self.device, self.site = agent, device, site

    def topic(self, channel: str, device: str = "pump-1") -> str:
        return f"edgeloop/v1/{self.site}/{device}/{channel}"

    def send(self, payload: object, channel: str = "telemetry", device: str = "pump-1") -> None:
        raw = payload if isinstance(payload, bytes) else orjson.dumps(payload)
        self.device.publish(self.topic(channel, device), raw, qos=1)

    def normal(self, n: int, rng: np.random.Generator, shift: float = 0.0) -> None:
        for _ in range(n):
            self.send(
                {
                    "ts": time.time(),
                    "seq": 0,
                    "metrics": {"vibration": 2 + rng.normal(0, 0.1) + shift, "temp": 50.0 + rng.normal(0, 0.5)},
                }
            )


@pytest.fixture
async def harness(broker_url: str, tmp_path: Path) -> AsyncIterator[Harness]:
    site = f"t{uuid.uuid4().hex[:10]}"
    settings = load_settings(None, agent={"site": site, "autonomy": 3, "data_dir": tmp_path, "ack_timeout_s": 2.0})
    stop = asyncio.Event()
    async with open_agent(settings, broker_url) as agent, MqttClient(broker_url, f"dev-{site}") as device:
        task = asyncio.create_task(agent.run(stop))
        await device.subscribe(f"edgeloop/v1/{site}/+/cmd", qos=1)
        h = Harness(agent, device, site)
        await asyncio.sleep(0.3)
        device.publish(h.topic("meta"), orjson.dumps(META.to_json()), qos=1, retain=True)
        await until(lambda: agent.registry.get("pump-1") is not None)
        yield h
        device.publish(h.topic("meta"), b"", qos=1, retain=True)  # leave no retained message behind
        await device.flush()
        stop.set()
        await task


async def test_sustained_anomaly_becomes_a_decision_and_an_acked_command(harness: Harness) -> None:
    rng = np.random.default_rng(1)
    harness.normal(100, rng)
    harness.normal(8, rng, shift=30.0)  # vibration jumps far outside what was learnt
    await until(lambda: harness.agent.stats.decisions == 1)
    [cmd_msg] = await asyncio.wait_for(_next_commands(harness.device, 1), 5)
    command = orjson.loads(cmd_msg)
    assert command["name"] == "schedule_maintenance"
    assert command["args"] == {"within_h": 0.5}
    harness.send({"id": command["id"], "status": "done", "detail": "scheduled"}, channel="cmd/ack")
    await until(lambda: harness.agent.stats.commands_acked == 1)
    harness.agent.store.flush()
    [(status, detail)] = harness.agent.store.query("SELECT status, detail FROM commands")
    assert (status, detail) == ("done", "scheduled")
    [(decision_status, evidence)] = harness.agent.store.query(
        "SELECT status, json_extract(record, '$.evidence') FROM decisions"
    )
    assert decision_status == "sent"
    assert orjson.loads(evidence)["vibration"] > 0.9


async def test_a_command_without_ack_times_out_and_is_recorded(harness: Harness) -> None:
    rng = np.random.default_rng(2)
    harness.normal(100, rng)
    harness.normal(8, rng, shift=30.0)
    await until(lambda: harness.agent.stats.commands_timed_out == 1, timeout=10)
    harness.agent.store.flush()
    assert harness.agent.store.query("SELECT status FROM commands") == [("timeout",)]
    assert harness.agent.store.count("outcomes", "kind='ack_timeout'") == 1


async def test_bad_input_on_the_wire_is_quarantined_and_the_agent_keeps_going(harness: Harness) -> None:
    rng = np.random.default_rng(3)
    harness.send(b"{not json")
    harness.send({"ts": time.time(), "metrics": {"vibration": "high"}})
    harness.send({"ts": time.time() + 86_400, "metrics": {"vibration": 1.0}})
    harness.send({"ts": time.time(), "metrics": {"vibration": 1.0}}, device="ghost")
    harness.send({"ts": time.time(), "metrics": {"vibration": 1e6}})
    harness.send(b"x" * (300 * 1024))
    harness.send({"id": "nope", "status": "done"}, channel="cmd/ack")
    harness.send({"kind": 3}, channel="event")
    harness.normal(20, rng)
    await until(lambda: harness.agent.stats.quarantined == 8 and harness.agent.stats.points == 40)
    harness.agent.store.flush()
    reasons = sorted(r for (r,) in harness.agent.store.query("SELECT reason FROM quarantine"))
    assert [r.split(":")[0].split(" (")[0] for r in reasons] == [
        "bad cmd/ack",
        "bad event",
        "malformed JSON",
        "out of range",
        "payload too large",
        "timestamp in the future",
        "unknown device",
        "wrong type",
    ]


async def _next_commands(client: MqttClient, n: int) -> list[bytes]:
    got: list[bytes] = []
    while len(got) < n:
        await client.wait(0.05)
        got += [m.payload for m in client.drain(100) if m.topic.endswith("/cmd")]
    return got


async def test_a_lost_meta_is_asked_for_again_when_the_device_sends_telemetry(broker_url: str, tmp_path: Path) -> None:
    site = f"t{uuid.uuid4().hex[:10]}"
    settings = load_settings(None, agent={"site": site, "autonomy": 3, "data_dir": tmp_path})
    stop = asyncio.Event()
    async with open_agent(settings, broker_url) as agent, MqttClient(broker_url, f"dev-{site}") as device:
        drain, lost = agent.client.drain, []

        def losing_the_first_meta(n: int) -> list[Message]:  # the one thing faked: a meta lost on the way
            batch = drain(n)
            if not lost:
                lost.extend(m for m in batch if m.topic.endswith("/meta"))
            return [m for m in batch if m not in lost]

        agent.client.drain = losing_the_first_meta  # type: ignore[method-assign]
        task = asyncio.create_task(agent.run(stop))
        h = Harness(agent, device, site)
        await asyncio.sleep(0.3)
        device.publish(h.topic("meta"), orjson.dumps(META.to_json()), qos=1, retain=True)
        await until(lambda: bool(lost))
        try:
            rng = np.random.default_rng(4)
            h.normal(5, rng)  # telemetry of a device the agent has no meta for: quarantined, meta asked again
            await until(lambda: agent.registry.get("pump-1") is not None)
            h.normal(5, rng)
            await until(lambda: agent.stats.messages >= 5)
            await asyncio.sleep(0.3)  # anything still on its way
        finally:
            device.publish(h.topic("meta"), b"", qos=1, retain=True)
            await device.flush()
            stop.set()
            await task
        agent.store.flush()
        quarantined = agent.store.count("quarantine", "reason LIKE 'unknown device%'")
        # how many of the first five came before the meta asked again depends on the broker's timing (the
        # retained meta and telemetry already queued may share a batch); none is lost either way
        assert quarantined >= 1
        assert quarantined + agent.stats.messages == 10
