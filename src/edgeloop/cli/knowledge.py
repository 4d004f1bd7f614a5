"""`edgeloop knowledge`: see what the fleet shares, and publish a simulated site's knowledge.

`show` subscribes to every site's retained summary of an asset type, checks and merges them as an agent does,
and prints the merged prior with the sites used and those left out (and why). `publish` runs a factory plant
through the agent's learner for some simulated hours (no broker needed for that) and publishes the site's
signed summaries, as a site agent with `fleet.share_knowledge` does: a way to seed a fleet, or to test one.
"""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path
from typing import Annotated

import numpy as np
import orjson
import typer
from rich.console import Console

from edgeloop.audit.keys import load_or_create_key
from edgeloop.fleet.envelope import Trust
from edgeloop.fleet.knowledge import merge
from edgeloop.fleet.share import (
    KNOWLEDGE_FILTER,
    FleetKnowledge,
    describe,
    publish_summaries,
    site_summaries,
)
from edgeloop.io.mqtt import MqttClient, MqttError
from edgeloop.io.registry import DeviceRegistry
from edgeloop.learn.base import Learner
from edgeloop.learn.catalog import LEARNERS
from edgeloop.sim.factory import FactoryPlant

knowledge_app = typer.Typer(help="Fleet knowledge: the merged prior new devices start from.", no_args_is_help=True)
console = Console(stderr=True)

BrokerOpt = Annotated[str, typer.Option("--broker", help="mqtt://host:port of the fleet's broker")]


@knowledge_app.command("show")
def show(
    broker: BrokerOpt,
    asset_type: Annotated[str, typer.Option("--asset-type", help="the asset type to merge")] = "pump",
    site: Annotated[
        list[str] | None,
        typer.Option("--site", help="merge only this site's summary; stop waiting once each one's is in (repeatable)"),
    ] = None,
    wait: Annotated[float, typer.Option(min=0.1, help="longest wait for summaries, seconds")] = 3.0,
    json_out: Annotated[bool, typer.Option("--json", help="print one JSON object, nothing else on stdout")] = False,
) -> None:
    """Take the fleet's retained summaries of an asset type, check and merge them, and print the prior."""
    fleet = FleetKnowledge(Trust())

    async def collect() -> None:
        async with MqttClient(broker) as client:
            await client.subscribe(KNOWLEDGE_FILTER, qos=1)
            deadline = time.monotonic() + wait
            while time.monotonic() < deadline:
                await client.wait(0.1)
                for message in client.drain(1000):
                    fleet.take(message.topic, message.payload)
                if site and set(site) <= fleet.heard:
                    break

    try:
        asyncio.run(collect())
    except MqttError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    taken = {s: summary for s, summary in fleet.summaries.get(asset_type, {}).items() if not site or s in site}
    refused = {s: why for s, why in fleet.refused_sites.items() if not site or s in site}
    result = {"asset_type": asset_type, "sites": sorted(taken), "refused": refused,
              **describe(merge(list(taken.values())))}  # fmt: skip
    if json_out:
        sys.stdout.write(orjson.dumps(result).decode() + "\n")
        return
    out = Console()
    out.print(f"[bold]{asset_type}[/bold]: summaries from {', '.join(result['sites']) or 'no site'}")
    for metric, p in result["priors"].items():
        kind = "relative" if p["relative"] else "absolute"
        out.print(f"  {metric}: noise {p['scale']:.4g} ({p['rel_scale']:.2%} of level, {kind}), level "
                  f"{p['level']:.4g}, {p['devices']} devices")  # fmt: skip
    for r in result["rejected"]:
        out.print(f"  left out: {r['site']} {r['metric']}: {r['reason']}")
    for refused_site, reason in refused.items():
        out.print(f"  refused the message of {refused_site}: {reason}")


def learn_plant(plant: FactoryPlant, learner: Learner, steps: int) -> DeviceRegistry:
    """Feed `steps` of the plant's telemetry through `learner`; returns the registry of its series keys."""
    registry = DeviceRegistry()
    for meta in plant.metas():
        registry.add(meta)
    for _ in range(steps):
        step = plant.step()
        keys, values = [], []
        for device, metrics in step.telemetry:
            known = registry.devices[device]
            for metric, value in metrics.items():
                keys.append(known.keys[metric])
                values.append(value)
        n = len(keys)
        learner.score_learn(np.array(keys, dtype=np.int64), np.array(values), np.full(n, step.ts))
    return registry


@knowledge_app.command("publish")
def publish(
    broker: BrokerOpt,
    site: Annotated[str, typer.Option("--site", help="the site id to publish as")],
    key_dir: Annotated[Path, typer.Option("--key-dir", help="where the site's Ed25519 key is (made if missing)")],
    devices: Annotated[int, typer.Option(min=2, help="simulated pumps and motors")] = 10,
    hours: Annotated[float, typer.Option(min=1.0, help="simulated hours to learn from")] = 2.0,
    seed: Annotated[int, typer.Option(help="simulator seed")] = 0,
    learner: Annotated[str, typer.Option(help="learner name (one that takes priors)")] = "robust_ewma",
) -> None:
    """Learn a simulated factory site for some hours, then publish its signed summaries (retained)."""
    if learner not in LEARNERS:
        console.print(f"[red]error:[/red] unknown learner {learner!r}; known: {', '.join(sorted(LEARNERS))}")
        raise typer.Exit(2)
    plant = FactoryPlant(devices, seed, site=site)
    model = LEARNERS[learner]()
    registry = learn_plant(plant, model, int(hours * 3600 / plant.interval_s))
    summaries = site_summaries(site, registry, model, plant.now)
    if not summaries:
        console.print(f"[red]error:[/red] learner {learner!r} cannot summarize what it learnt")
        raise typer.Exit(2)
    key = load_or_create_key(key_dir)

    async def send() -> None:
        async with MqttClient(broker, f"edgeloop-knowledge-{site}") as client:
            publish_summaries(client, key, summaries)
            if not await client.flush(timeout=10.0):
                raise MqttError(broker, "summaries not acknowledged within 10 s")

    try:
        asyncio.run(send())
    except MqttError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    console.print(f"published {len(summaries)} summaries of site {site}: {', '.join(s.asset_type for s in summaries)}")
