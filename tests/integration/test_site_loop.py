"""The whole loop on a real broker: simulated factory -> broker -> agent -> SQLite -> command -> simulator ack,
booked into the ROI ledger and read back as the report `edgeloop roi report` prints."""

from __future__ import annotations

import asyncio
import time
import uuid
from pathlib import Path

import orjson
from typer.testing import CliRunner

from edgeloop.agent.roi import read_site_ledger
from edgeloop.agent.service import open_agent
from edgeloop.cli import app
from edgeloop.io.broker import EmbeddedBroker
from edgeloop.io.mqtt import MqttClient
from edgeloop.ledger import Arm
from edgeloop.settings import load_settings
from edgeloop.sim.factory import FactoryPlant
from edgeloop.sim.runner import PlantRunner

DAY = 86_400.0


async def test_faults_get_decisions_acked_commands_and_ledger_entries(
    embedded_broker: EmbeddedBroker, tmp_path: Path
) -> None:
    """On the embedded broker only: a simulated day takes half a minute of real time, and the same loop runs through
    Mosquitto in `tests/e2e/test_demo_cli.py` (the demo with `--broker`)."""
    broker_url = str(embedded_broker.url)
    site = f"loop{uuid.uuid4().hex[:8]}"
    settings = load_settings(None, agent={"site": site, "autonomy": 3, "data_dir": tmp_path})
    # the demo's plant (50 devices, seed 0), one simulated day at the demo's speed, a reading every 15 s (at one a
    # minute, the learners are still warming up when the day ends); faster, a loaded machine's second of latency
    # is most of an hour of the plant's, and the short P-F intervals are gone before it acts
    plant = FactoryPlant(n_devices=50, seed=0, start_ts=1_700_000_000.0, site=site)
    stop = asyncio.Event()
    async with open_agent(settings, broker_url) as agent, MqttClient(broker_url, f"sim-{site}") as sim_client:
        task = asyncio.create_task(agent.run(stop))
        await asyncio.sleep(0.3)
        runner = PlantRunner(plant, sim_client, speed=2880.0)
        await runner.run(asyncio.Event(), sim_seconds=DAY)
        await asyncio.sleep(1.0)
        deadline = time.monotonic() + 60  # a loaded machine's agent may still be deciding on the day's last hours
        while (s := agent.stats).commands_sent > s.commands_acked + s.commands_rejected + s.commands_timed_out:
            if time.monotonic() > deadline:
                break
            runner.answer_commands()  # the plant keeps answering commands after its last step, as a real one would
            await asyncio.sleep(0.1)
        for device in plant.devices:  # leave no retained messages behind on a shared broker
            sim_client.publish(f"edgeloop/v1/{site}/{device}/meta", b"", qos=1, retain=True)
            sim_client.publish(f"edgeloop/v1/{site}/{device}/state", b"", qos=1, retain=True)
        await sim_client.flush()
        stop.set()
        stats = await task
        agent.store.flush()
        stored = (
            agent.store.count("commands", "status='done'"),
            agent.store.count("outcomes", "kind='maintenance_started'"),
            agent.store.points(),
        )

    truth = plant.ground_truth()
    developing = [f for f in truth["faults"] if f["developing"]]
    assert developing, "the seed must give the test developing faults to catch"
    assert stats.decisions >= 1
    # every command answered; a device that failed with no warning before its command came rejects it
    assert stats.commands_acked + stats.commands_rejected == stats.commands_sent
    assert stats.commands_acked >= 1
    assert sum(1 for f in developing if f["caught"]) >= 1, "at least one developing fault acted on before failure"
    acted = {a["device"] for a in truth["actions"] if a["status"] == "done"}
    assert acted & {f["device"] for f in developing}
    acked_in_store, maintenance_started, points_in_store = stored
    assert acked_in_store == stats.commands_acked
    assert maintenance_started >= 1
    assert points_in_store == stats.points > 0

    # the ledger: every device assigned, holdout devices decided about but never sent a command
    ledger = read_site_ledger(settings, n_boot=200)
    held = set(ledger.holdout.devices(Arm.HOLDOUT))
    assert len(held) == 10
    assert len(ledger.holdout.assignments) == 50
    assert not held & {a["device"] for a in truth["actions"]}
    assert ledger.entries
    assert ledger.report.reconciles()
    assert ledger.report.arms[Arm.TREATED].failures == sum(1 for f in truth["failures"] if f["device"] not in held)
    energy = sum(float(e.amount) for e in ledger.entries if e.kind == "energy")
    assert energy < 0, "each device's daily usage is booked as an energy cost"

    result = CliRunner().invoke(app, ["roi", "report", "--json", "--data-dir", str(tmp_path), "--site", site])
    assert result.exit_code == 0, result.output
    printed = orjson.loads(result.stdout)
    assert printed["net_value"] == str(ledger.report.net_value)
    assert printed["reconciles"] is True
