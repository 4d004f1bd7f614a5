"""Two agents claiming the same partition of a site: the second refuses, saying which topic shows the first one;
once the first has stopped (its state `offline`), the partition can be taken again. On the embedded broker."""

from __future__ import annotations

import asyncio
import time
import uuid
from pathlib import Path

import orjson
import pytest

from edgeloop.agent.claim import PartitioningClashError, PartitionTakenError
from edgeloop.agent.service import open_agent
from edgeloop.io.broker import EmbeddedBroker
from edgeloop.io.mqtt import MqttClient
from edgeloop.model import Partition
from edgeloop.settings import Settings, load_settings

pytestmark = pytest.mark.integration


def partition_settings(url: str, site: str, partition: str, data_dir: Path) -> Settings:
    return load_settings(None, broker={"url": url}, agent={"site": site, "partition": partition, "data_dir": data_dir},
                         ledger={"holdout_draw": "device"})  # fmt: skip


async def test_a_second_agent_for_a_running_partition_refuses_with_the_reason(
    embedded_broker: EmbeddedBroker, tmp_path: Path
) -> None:
    url, site = embedded_broker.url, f"claim{uuid.uuid4().hex[:6]}"
    first = partition_settings(url, site, "0/2", tmp_path / "a")
    second = partition_settings(url, site, "0/2", tmp_path / "b")
    other = partition_settings(url, site, "1/2", tmp_path / "c")
    async with open_agent(first, url) as agent:
        stop = asyncio.Event()
        task = asyncio.create_task(agent.run(stop))
        await asyncio.sleep(0.5)  # it is online

        with pytest.raises(PartitionTakenError) as refused:
            async with open_agent(second, url):
                pass
        async with open_agent(other, url) as neighbour:  # the other partition is free
            took_other = neighbour.partition.state_topic
        with pytest.raises(PartitioningClashError) as clash:  # P = 3 while the site still runs as P = 2
            async with open_agent(partition_settings(url, site, "2/3", tmp_path / "d"), url):
                pass

        stop.set()
        await task
    async with open_agent(second, url) as again:  # the first one stopped: its claim is gone
        took_after = again.partition.part

    assert "partition 0/2 of site" in str(refused.value)
    assert refused.value.topic == f"edgeloop/v1/{site}/_agent/p0of2/state"
    assert took_other == f"edgeloop/v1/{site}/_agent/p1of2/state"
    assert str(took_after) == "0/2"
    assert clash.value.topic == f"edgeloop/v1/{site}/_agent/p0of2/state"
    assert "another partitioning" in str(clash.value)


async def test_a_partition_agent_subscribes_to_its_own_devices_telemetry_only(
    embedded_broker: EmbeddedBroker, tmp_path: Path
) -> None:
    url, site = embedded_broker.url, f"part{uuid.uuid4().hex[:6]}"
    devices = [f"pump-{i}" for i in range(8)]
    mine = [d for d in devices if Partition(0, 2).owns(d)]
    meta = {"asset_type": "pump", "commands": {}, "metrics": {"vibration": {"unit": "mm/s", "low": 0, "high": 50}}}
    async with MqttClient(url) as plant, open_agent(partition_settings(url, site, "0/2", tmp_path), url) as agent:
        for d in devices:
            plant.publish(f"edgeloop/v1/{site}/{d}/meta", orjson.dumps({**meta, "device": d}), qos=1, retain=True)
        await plant.flush()
        stop = asyncio.Event()
        task = asyncio.create_task(agent.run(stop))
        deadline = time.monotonic() + 10
        while len(agent.registry) < len(mine) and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.3)  # the per-device subscriptions are in place
        for d in devices:
            body = {"ts": time.time() - 60, "seq": 0, "metrics": {"vibration": 3.0}}
            plant.publish(f"edgeloop/v1/{site}/{d}/telemetry", orjson.dumps(body), qos=1)
        await plant.flush()
        while agent.stats.messages < len(mine) and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.3)
        stop.set()
        await task
        for d in devices:
            plant.publish(f"edgeloop/v1/{site}/{d}/meta", b"", qos=1, retain=True)
        await plant.flush()

    assert 0 < len(mine) < len(devices)
    assert sorted(k.meta.device for k in agent.registry.by_index) == mine
    assert agent.stats.messages == len(mine)  # the others' telemetry never reached it
    assert agent.stats.other_partitions == len(devices) - len(mine)  # their metas did, and were set aside
