"""The three-node NATS cluster: MQTT on every node, one message space, retained messages on every node, and
`edgeloop broker cluster` running it as a user would and stopping it on Ctrl-C."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from edgeloop.io.cluster import BrokerCluster
from edgeloop.io.mqtt import MqttClient

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def cluster() -> Iterator[BrokerCluster]:
    with BrokerCluster(3) as running:
        yield running


async def test_a_message_published_on_one_node_reaches_subscribers_on_the_others(cluster: BrokerCluster) -> None:
    first, second, third = cluster.urls
    async with MqttClient(second) as a, MqttClient(third) as b, MqttClient(first) as publisher:
        await a.subscribe("edgeloop/v1/cl/+/telemetry", qos=1)
        await b.subscribe("edgeloop/v1/cl/+/telemetry", qos=1)
        await asyncio.sleep(0.5)  # the subscriptions' interest crosses the routes
        publisher.publish("edgeloop/v1/cl/p1/telemetry", b"{}", qos=1)
        await publisher.flush()
        await _until(lambda: a.received and b.received)

    assert (a.received, b.received) == (1, 1)


async def test_a_retained_message_is_kept_by_every_node(cluster: BrokerCluster) -> None:
    first, _, third = cluster.urls
    async with MqttClient(first) as publisher:
        publisher.publish("edgeloop/v1/cl/p2/meta", b"meta", qos=1, retain=True)
        await publisher.flush()
    await asyncio.sleep(0.5)
    async with MqttClient(third) as reader:
        await reader.subscribe("edgeloop/v1/cl/p2/meta", qos=1)
        await _until(lambda: reader.received)
        got = reader.drain(10)
        reader.publish("edgeloop/v1/cl/p2/meta", b"", qos=1, retain=True)
        await reader.flush()

    assert [(m.payload, m.retain) for m in got] == [(b"meta", True)]


def test_the_cluster_command_runs_three_nodes_until_interrupted(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "edgeloop", "broker", "cluster", "--nodes", "3", "--dir",
                             str(tmp_path)], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)  # fmt: skip
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().decode()
        urls = re.findall(r"mqtt://127\.0\.0\.1:\d+", line)
        asyncio.run(_roundtrip(urls[0], urls[2]))
    finally:
        proc.send_signal(signal.SIGINT)
        code = proc.wait(timeout=30)

    assert len(urls) == 3
    assert code == 0
    assert sorted(p.name for p in tmp_path.glob("node-*.conf")) == ["node-1.conf", "node-2.conf", "node-3.conf"]


async def _roundtrip(publish_on: str, read_on: str) -> None:
    async with MqttClient(read_on) as reader, MqttClient(publish_on) as writer:
        await reader.subscribe("edgeloop/v1/cl/cmd/telemetry", qos=1)
        await asyncio.sleep(0.5)
        writer.publish("edgeloop/v1/cl/cmd/telemetry", b"x", qos=1)
        await _until(lambda: reader.received)
        assert reader.received == 1


async def _until(condition: object, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:  # type: ignore[operator]
        await asyncio.sleep(0.05)
