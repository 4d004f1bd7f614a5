"""`edgeloop demo --fleet N`: separate agent and simulator processes per site, joined only by the broker."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import uuid
from pathlib import Path

import orjson
import pytest

from edgeloop.io.mqtt import MqttClient


async def clear_retained(url: str, sites: list[str]) -> None:
    """Leave nothing retained of these sites on a shared broker: meta, states, knowledge."""
    async with MqttClient(url, f"cleaner-{uuid.uuid4().hex[:8]}") as client:
        for site in sites:
            await client.subscribe(f"edgeloop/v1/{site}/#", f"edgeloop/v1/_fleet/knowledge/+/{site}", qos=1)
        await asyncio.sleep(1.0)  # the broker sends what it retains on subscribe
        for topic in {m.topic for m in client.drain(100_000)}:
            client.publish(topic, b"", qos=1, retain=True)
        await client.flush()


@pytest.mark.e2e
def test_a_fleet_of_two_sites_runs_as_separate_processes_and_shares_knowledge(broker_url: str, tmp_path: Path) -> None:
    prefix = f"fleet{uuid.uuid4().hex[:8]}"  # the broker may be shared: these sites are new to it
    args = [sys.executable, "-m", "edgeloop", "demo", "--fleet", "2", "--devices", "6", "--duration", "15",
            "--broker", broker_url, "--site", prefix, "--data-dir", str(tmp_path), "--json"]  # fmt: skip

    try:
        done = subprocess.run(args, capture_output=True, text=True, timeout=240, check=False)
    finally:
        asyncio.run(clear_retained(broker_url, [f"{prefix}-1", f"{prefix}-2"]))

    assert done.returncode == 0, done.stderr[-3000:]
    summary = orjson.loads(done.stdout)
    sites = {s["site"]: s for s in summary["sites"]}
    assert sorted(sites) == [f"{prefix}-1", f"{prefix}-2"]
    for site in sites.values():
        assert site["agent_exit_code"] == 0  # each agent stopped cleanly ...
        assert site["agent_state"] == "offline"  # ... and told the broker so
        assert site["devices"] == 6
        assert site["points"] > 0
    assert summary["knowledge_shared"]["pump"] == sorted(sites)  # each site's summary reached the fleet view
    for name in sites:  # each agent kept its own store: no shared database
        assert len(list((tmp_path / "fleet" / name).rglob("*.db"))) == 1
