"""Knowledge sharing between separate processes joined only by the broker, one of them a poisoning site.

Three `edgeloop knowledge publish` processes learn their own simulated site and publish signed summaries; a
fourth process publishes garbage; a fresh `edgeloop knowledge show` process then takes the retained messages,
checks and merges them. Runs on the embedded broker and on Mosquitto.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import orjson
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from edgeloop.agent.site import SiteAgent
from edgeloop.cli.agent import run_agent
from edgeloop.cli.knowledge import learn_plant
from edgeloop.fleet.envelope import public_hex, seal
from edgeloop.fleet.knowledge import KnowledgeSummary, MetricSummary
from edgeloop.fleet.share import FleetKnowledge, knowledge_topic, share_knowledge, site_summaries
from edgeloop.io.mqtt import MqttClient
from edgeloop.learn.ewma import RobustEWMA
from edgeloop.learn.prior import prior_part
from edgeloop.settings import load_settings
from edgeloop.sim.factory import FactoryPlant

KNOWLEDGE = [sys.executable, "-m", "edgeloop", "knowledge"]
POISONER = Path(__file__).with_name("fleet_poisoner.py")
HONEST = ("a", "b", "c")
GARBAGE = ("evil", "nan", "forged", "schema")


def publish(url: str, site: str, key_dir: Path, seed: int) -> list[str]:
    return [*KNOWLEDGE, "publish", "--broker", url, "--site", site, "--key-dir", str(key_dir), "--seed", str(seed),
            "--devices", "6", "--hours", "1"]  # fmt: skip


async def clear(url: str, topics: list[str]) -> None:
    async with MqttClient(url) as client:
        for topic in topics:
            client.publish(topic, b"", qos=1, retain=True)
        await client.flush(timeout=5.0)


@pytest.fixture
def prefix(broker_url: str) -> Iterator[str]:
    """A fresh site-id prefix; its retained messages are cleared afterwards (Mosquitto keeps them)."""
    prefix = f"t{uuid.uuid4().hex[:8]}"
    yield prefix
    topics = [knowledge_topic(t, f"{prefix}-{s}") for t in ("pump", "motor") for s in (*HONEST, *GARBAGE)]
    # its own thread and loop: the teardown of an async test may run while pytest-asyncio's loop is running
    worker = threading.Thread(target=asyncio.run, args=(clear(broker_url, topics),))
    worker.start()
    worker.join(timeout=15)


def test_a_fresh_process_takes_the_merged_prior_and_leaves_the_poisoner_out(
    broker_url: str, prefix: str, tmp_path: Path
) -> None:
    honest = [subprocess.Popen(publish(broker_url, f"{prefix}-{s}", tmp_path / s, i + 1), stderr=subprocess.PIPE)
              for i, s in enumerate(HONEST)]  # fmt: skip
    poisoner = subprocess.Popen([sys.executable, str(POISONER), broker_url, prefix], stderr=subprocess.PIPE)
    for p in (*honest, poisoner):
        _, err = p.communicate(timeout=60)
        assert p.returncode == 0, err.decode()

    # only this test's sites: a shared broker may hold other fleets' retained summaries, which would be merged too
    only = [arg for s in (*HONEST, *GARBAGE) for arg in ("--site", f"{prefix}-{s}")]
    shown = subprocess.run([*KNOWLEDGE, "show", "--broker", broker_url, "--asset-type", "pump",
                            *only, "--wait", "10", "--json"], capture_output=True, timeout=60)  # fmt: skip

    assert shown.returncode == 0, shown.stderr.decode()
    result = orjson.loads(shown.stdout)
    ours = {f"{prefix}-{s}" for s in HONEST}
    assert ours <= set(result["sites"])
    assert ours <= set(result["used"]["vibration"])
    assert f"{prefix}-evil" not in result["used"]["vibration"]
    assert {r["site"] for r in result["rejected"] if r["metric"] == "vibration"} >= {f"{prefix}-evil"}
    refused = result["refused"]
    assert refused[f"{prefix}-forged"] == "bad signature"
    assert refused[f"{prefix}-nan"].startswith("malformed JSON")
    assert refused[f"{prefix}-schema"].startswith("schema")
    vibration = result["priors"]["vibration"]  # the simulator's vibration: 1.5-3 mm/s, noise about 4% of it
    assert 1.0 < vibration["level"] < 4.0
    assert 0.02 < vibration["scale"] < 0.3


async def test_a_sharing_site_publishes_at_stop_and_takes_the_fleets_summaries(broker_url: str, prefix: str) -> None:
    learner = RobustEWMA()
    registry = learn_plant(FactoryPlant(6, seed=5, site=f"{prefix}-a"), learner, 300)
    site = SimpleNamespace(registry=registry, learner=learner)
    fleet, stop = FleetKnowledge(), asyncio.Event()

    async with MqttClient(broker_url) as client:
        task = asyncio.create_task(share_knowledge(
            client, fleet, Ed25519PrivateKey.generate(),
            lambda: site_summaries(f"{prefix}-a", site.registry, site.learner, 0.0), stop, every_s=3600.0))  # fmt: skip
        await asyncio.sleep(0.3)
        stop.set()
        await task
    async with MqttClient(broker_url) as reader:  # a site that starts later gets the retained summary
        later = FleetKnowledge()
        await reader.subscribe(knowledge_topic("+", "+"), qos=1)
        for _ in range(50):
            await reader.wait(0.1)
            for m in reader.drain(100):
                later.take(m.topic, m.payload)
            if f"{prefix}-a" in later.summaries.get("pump", {}):
                break

    assert f"{prefix}-a" in later.summaries["pump"]
    keys = np.array([k.keys["vibration"] for k in registry.by_index if k.meta.asset_type == "pump"])
    assert later.summaries["pump"][f"{prefix}-a"].metrics["vibration"].devices == len(keys)


async def test_an_agent_sharing_knowledge_starts_a_new_device_from_the_fleets_prior(
    broker_url: str, prefix: str, tmp_path: Path
) -> None:
    vibration = MetricSummary(devices=12, level=2.0, scale=0.1, rel_scale=0.05, spread_abs=0.3, spread_rel=0.1)
    asset_type = "pump"
    known = KnowledgeSummary(f"{prefix}-a", asset_type, 0.0, {"vibration": vibration})
    fleet_key = Ed25519PrivateKey.generate()
    async with MqttClient(broker_url) as fleet_site:
        payload = seal(known.to_json(), fleet_key)
        fleet_site.publish(knowledge_topic(asset_type, known.site), payload, qos=1, retain=True)
        await fleet_site.flush()
    site = f"{prefix}-b"
    trusted = {known.site: public_hex(fleet_key)}  # the allow-list: other fleets on a shared broker are not taken
    fleet = {"share_knowledge": True, "trusted_keys": trusted}
    settings = load_settings(None, agent={"site": site, "data_dir": tmp_path}, fleet=fleet)
    agents: list[SiteAgent] = []
    stop = asyncio.Event()
    task = asyncio.create_task(run_agent(settings, broker_url, stop, on_tick=agents.append, tick_s=0.05))
    meta = {"device": "pump-1", "asset_type": asset_type, "commands": {},
            "metrics": {"vibration": {"unit": "mm/s", "low": 0, "high": 50}}}  # fmt: skip
    try:
        await until(
            lambda: (
                bool(agents)
                and agents[0].devices.prior is not None
                and bool(agents[0].devices.prior.priors(asset_type))
            )
        )
        async with MqttClient(broker_url) as device:
            device.publish(f"edgeloop/v1/{site}/pump-1/meta", orjson.dumps(meta), qos=1, retain=True)
            await until(lambda: agents[0].registry.get("pump-1") is not None)
            device.publish(f"edgeloop/v1/{site}/pump-1/telemetry", orjson.dumps({"ts": time.time(),
                           "metrics": {"vibration": 2.2}}), qos=1)  # fmt: skip
            agent = agents[0]
            learner = prior_part(agent.learner)
            assert learner is not None
            key = np.array([agent.registry.devices["pump-1"].keys["vibration"]])
            await until(lambda: int(learner.summarize(key).points[0]) > 0)
            device.publish(f"edgeloop/v1/{site}/pump-1/meta", b"", qos=1, retain=True)
            device.publish(knowledge_topic(asset_type, known.site), b"", qos=1, retain=True)
            await device.flush()
    finally:
        stop.set()
        await task

    assert int(learner.summarize(key).points[0]) >= 60  # warm from its first point: seeded from the fleet
    assert learner.summarize(key).scale[0] == pytest.approx(0.05 * 2.2)  # relative noise: 5% of its first value


async def until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)
