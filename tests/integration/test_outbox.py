"""The durable outbox on a real broker: QoS 1 messages the agent publishes while the broker is unreachable are
delivered once it is back, and those a killed agent never got acknowledged are published again at the next
start; rows are marked sent only on the broker's ack."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from edgeloop.agent.outbox import DurableOutbox
from edgeloop.bench.faults import CuttableLink
from edgeloop.io.mqtt import MqttClient, parse_url
from edgeloop.io.store import SqliteStore

pytestmark = pytest.mark.integration


@contextlib.asynccontextmanager
async def listener(url: str, topic: str) -> AsyncIterator[list[bytes]]:
    got: list[bytes] = []
    async with MqttClient(url, f"listener-{uuid.uuid4().hex[:8]}") as client:
        await client.subscribe(topic, qos=1)
        await asyncio.sleep(0.3)

        async def collect() -> None:
            async for batch in client.batches(1000, 0.05):
                got.extend(m.payload for m in batch)

        task = asyncio.create_task(collect())
        try:
            yield got
        finally:
            task.cancel()


async def until(condition: object, timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:  # type: ignore[operator]
        await asyncio.sleep(0.05)
    return bool(condition())  # type: ignore[operator]


def unsent(store: SqliteStore) -> int:
    return int(store.query("SELECT COUNT(*) FROM outbox WHERE sent IS NULL")[0][0])


async def test_messages_put_while_the_broker_is_unreachable_arrive_when_it_is_back(
    mosquitto_url: str, tmp_path: Path
) -> None:
    topic = f"edgeloop/v1/outbox{uuid.uuid4().hex[:8]}/_agent/decision"
    store = SqliteStore(tmp_path / "edgeloop.db", "s1")
    link = CuttableLink(*parse_url(mosquitto_url))
    await link.up()
    async with listener(mosquitto_url, topic) as got:
        client = MqttClient(f"mqtt://127.0.0.1:{link.port}", f"agent-{uuid.uuid4().hex[:8]}")
        async with client:
            outbox = DurableOutbox(store, client)
            await link.down()  # the broker unreachable while the agent decides
            await until(lambda: not client.connected, 5)
            for i in range(50):
                outbox.put(topic, f"decision-{i}".encode())
            assert await outbox.pump(wait=True) == 50
            store.flush()
            held_unsent = unsent(store)
            await link.up()  # back
            delivered = await until(lambda: len(set(got)) == 50)
            acked = await until(lambda: store.flush() and unsent(store) == 0)
            await outbox.close()
    await link.down()
    store.close()

    assert held_unsent == 50  # not marked sent without the broker's ack
    assert delivered
    assert acked
    assert sorted(set(got)) == sorted(f"decision-{i}".encode() for i in range(50))


async def test_what_a_killed_agent_never_got_acknowledged_is_published_at_the_next_start(
    mosquitto_url: str, tmp_path: Path
) -> None:
    topic = f"edgeloop/v1/outbox{uuid.uuid4().hex[:8]}/cmd"
    path = tmp_path / "edgeloop.db"
    first = SqliteStore(path, "s1")
    link = CuttableLink(*parse_url(mosquitto_url))
    await link.up()
    client = MqttClient(f"mqtt://127.0.0.1:{link.port}", f"agent-{uuid.uuid4().hex[:8]}")
    await client.__aenter__()
    await link.down()
    outbox = DurableOutbox(first, client)
    for i in range(20):
        outbox.put(topic, f"command-{i}".encode())
    await outbox.pump(wait=True)  # committed, handed to a client that cannot reach the broker ...
    first.close()  # ... and the process dies: the client's memory is gone
    for task in list(outbox._confirming):
        task.cancel()

    async with listener(mosquitto_url, topic) as got:
        again = SqliteStore(path, "s1")
        async with MqttClient(mosquitto_url, f"agent-{uuid.uuid4().hex[:8]}") as fresh:
            restarted = DurableOutbox(again, fresh)
            resent = await restarted.resend()
            delivered = await until(lambda: len(set(got)) == 20)
            acked = await until(lambda: again.flush() and unsent(again) == 0)
            await restarted.close()
        again.close()
    with contextlib.suppress(Exception):
        await client.close()

    assert resent == 20
    assert delivered
    assert acked


async def test_an_agent_deciding_while_the_broker_is_unreachable_loses_no_decision_or_command(
    mosquitto_url: str, tmp_path: Path
) -> None:
    import orjson

    from edgeloop.agent.service import open_agent
    from edgeloop.io.transport import Message
    from edgeloop.settings import load_settings

    site = f"outbox{uuid.uuid4().hex[:8]}"
    link = CuttableLink(*parse_url(mosquitto_url))
    await link.up()
    via_link = f"mqtt://127.0.0.1:{link.port}"
    settings = load_settings(None, broker={"url": via_link}, agent={"site": site, "data_dir": tmp_path,
                             "autonomy": 3, "sustain": 2, "settle_s": 0})  # fmt: skip
    ledger = {"holdout_fraction": 0.0}
    settings = settings.model_copy(update={"ledger": settings.ledger.model_copy(update=ledger)})
    meta = {"device": "", "asset_type": "pump", "metrics": {"vibration": {"unit": "mm/s", "low": 0, "high": 50}},
            "commands": {"schedule_maintenance": {"args": {"within_h": {"low": 0, "high": 24}}}}}  # fmt: skip
    devices = [f"pump-{i}" for i in range(5)]
    now = time.time() - 3000
    inbound = [Message(f"edgeloop/v1/{site}/{d}/meta", orjson.dumps({**meta, "device": d}), True) for d in devices]
    for i in range(120):
        v = 4.0 + 0.05 * (i % 3) if i < 110 else 30.0
        body = orjson.dumps({"ts": now + 15 * i, "metrics": {"vibration": v}})
        inbound += [Message(f"edgeloop/v1/{site}/{d}/telemetry", body, False) for d in devices]
    async with listener(mosquitto_url, f"edgeloop/v1/{site}/#") as got, open_agent(settings, via_link) as agent:
        assert agent.outbox is not None
        await link.down()
        await until(lambda: not agent.client.connected, 5)  # type: ignore[attr-defined]
        agent.handle_batch(inbound)  # decides and commands with no broker to publish to
        await agent.outbox.pump(wait=True)
        decided, commanded = agent.stats.decisions, agent.stats.commands_sent
        await link.up()
        await until(lambda: sum(b'"decision"' in p or b'"within_h"' in p for p in got) >= decided + commanded)
        await agent.outbox.close(timeout=10)
        unsent = agent.store.read_unsent() if agent.store.flush(10) else None
    await link.down()

    decisions = {orjson.loads(p)["id"] for p in got if p.startswith(b"{") and b'"guardrails"' in p}
    commands = {orjson.loads(p)["id"] for p in got if b'"within_h"' in p and b'"guardrails"' not in p}
    assert decided >= 1
    assert commanded >= 1
    assert len(decisions) == decided
    assert len(commands) == commanded
    assert unsent == []


async def test_a_commands_ack_clock_starts_when_it_leaves_the_outbox(tmp_path: Path) -> None:
    from edgeloop.agent.service import make_learner, make_policy
    from edgeloop.agent.site import SiteAgent
    from edgeloop.io.loopback import Loopback
    from edgeloop.model import Command
    from edgeloop.settings import load_settings

    cfg = load_settings(None, agent={"site": "s1", "data_dir": tmp_path, "ack_timeout_s": 10}).agent
    store = SqliteStore(cfg.db_path, "s1")
    now = [1000.0]
    agent = SiteAgent(cfg, Loopback(), store, make_learner(), make_policy(cfg), clock=lambda: now[0])
    agent.outbox = DurableOutbox(store, agent.client, agent.clock)
    dispatcher = agent.dispatcher
    agent.outbox.on_published = lambda topic, payload: dispatcher.on_published(topic, payload, agent.clock())
    agent.dispatcher.send(Command("c1", "s1", "pump-1", "schedule_maintenance", {}, "d1"), now[0])
    now[0] += 30  # the store was slow: the command waited in the outbox past its ack timeout
    agent.sweep_timeouts()
    held = agent.outbox.held
    await agent.outbox.pump(wait=True)
    now[0] += 5
    agent.sweep_timeouts()
    store.close()

    assert held == 1
    assert "c1" in agent.dispatcher.pending  # not timed out: its 10 s run from the publish
