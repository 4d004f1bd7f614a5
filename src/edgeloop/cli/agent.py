"""`edgeloop agent`: run one site agent until SIGINT/SIGTERM."""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from edgeloop.agent.claim import PartitionTakenError
from edgeloop.agent.service import broker_url, open_agent, publish_stats, site_key
from edgeloop.agent.site import SiteAgent
from edgeloop.agent.stats import AgentStats
from edgeloop.audit import AuditError
from edgeloop.fleet.share import share_site_knowledge
from edgeloop.io.mqtt import MqttError
from edgeloop.io.protocols import PROTOCOLS
from edgeloop.io.signals import stop_on_signals
from edgeloop.io.store import StoreError
from edgeloop.model import Decision
from edgeloop.settings import Settings, SettingsError, load_settings

console = Console(stderr=True)


async def run_agent(
    settings: Settings,
    url: str,
    stop: asyncio.Event,
    on_tick: Callable[[SiteAgent], None] | None = None,
    tick_s: float = 1.0,
    protocol: str = "mqtt",
    protocol_map: Path | None = None,
    on_decision: Callable[[Decision], None] | None = None,
) -> AgentStats:
    """One agent process: the site agent, its stats on the broker every `agent.stats_interval_s` (checked every
    `tick_s`, when `on_tick` runs too), and the fleet's knowledge sharing when the settings ask for it."""
    async with open_agent(settings, url, protocol=protocol, protocol_map=protocol_map) as agent:
        if on_decision is not None:
            agent.dispatcher.observers.append(on_decision)
        sharing = None
        if settings.fleet.share_knowledge:  # the fleet part, wired here where the process is composed
            key = site_key(settings.agent)
            sharing = asyncio.create_task(share_site_knowledge(agent, url, settings.fleet, key, stop))
        task = asyncio.create_task(agent.run(stop))
        published = -math.inf
        while not task.done():
            await asyncio.wait({task}, timeout=tick_s)
            if (now := time.monotonic()) - published >= settings.agent.stats_interval_s:
                publish_stats(agent)
                published = now
            if on_tick is not None:
                on_tick(agent)
        if sharing is not None:
            await sharing
        return task.result()


def decision_line(d: Decision) -> str:
    """One readable line per decision: data time, device, score and leading metric, what happened, why."""
    when = datetime.fromtimestamp(d.ts, UTC).strftime("%Y-%m-%d %H:%M")
    metric = max(d.evidence, key=lambda m: d.evidence[m]) if d.evidence else "-"
    action = d.action.name if d.action is not None else "nothing"
    return f"{when} {d.device}: score {d.score:.2f} ({metric}) -> {d.status} {action}: {d.reason}"


def settings_overrides(
    broker: str | None,
    site: str | None,
    autonomy: int | None,
    data_dir: Path | None,
    store: str | None = None,
    partition: str | None = None,
) -> dict[str, dict[str, Any]]:
    agent: dict[str, Any] = {}
    if partition is not None:
        agent["partition"] = partition
    if site is not None:
        agent["site"] = site
    if autonomy is not None:
        agent["autonomy"] = autonomy
    if data_dir is not None:
        agent["data_dir"] = data_dir
    return {"broker": {"url": broker} if broker else {}, "agent": agent, "store": {"url": store} if store else {}}


BrokerOpt = Annotated[
    str | None,
    typer.Option(
        "--broker",
        help="mqtt://host:port of an external broker, or a comma-separated list of a "
        "cluster's nodes to fail over between (default: start an embedded one)",
    ),
]
SiteOpt = Annotated[str | None, typer.Option("--site", help="site id (default from settings: factory)")]
ConfigOpt = Annotated[
    Path | None, typer.Option("--config", help="site settings YAML file", exists=True, dir_okay=False)
]
AutonomyOpt = Annotated[
    int | None,
    typer.Option("--autonomy", min=0, max=3, help="0 observe, 1 recommend, 2 act with approval, 3 act (default 1)"),
]
DataDirOpt = Annotated[Path | None, typer.Option("--data-dir", help="where the site database lives (default ./var)")]
StoreOpt = Annotated[
    str | None,
    typer.Option("--store", help="postgresql://user:password@host:port/db of a shared PostgreSQL store (default: "
                 "SQLite in the data dir; or EDGELOOP_STORE__URL)"),
]  # fmt: skip
ProtocolOpt = Annotated[
    str,
    typer.Option(
        "--protocol",
        help="how the agent hears its devices: mqtt (v1 topics on the broker) or a plant protocol straight from the "
        f"agent ({', '.join(p for p in sorted(PROTOCOLS) if p != 'mqtt')}; give its --map)",
    ),
]
PartitionOpt = Annotated[
    str | None,
    typer.Option("--partition", help="i/P: run partition i of P of the site's devices (stable hash of the device "
                 "id); needs ledger.holdout_draw: device. Another agent running it makes this one refuse"),
]  # fmt: skip
MapOpt = Annotated[
    Path | None,
    typer.Option("--map", exists=True, dir_okay=False, help="the protocol's map file (Modbus: register map YAML)"),
]


def agent(
    broker: BrokerOpt = None,
    site: SiteOpt = None,
    config: ConfigOpt = None,
    autonomy: AutonomyOpt = None,
    data_dir: DataDirOpt = None,
    store: StoreOpt = None,
    protocol: ProtocolOpt = "mqtt",
    map_file: MapOpt = None,
    partition: PartitionOpt = None,
) -> None:
    """Run a site agent: ingest telemetry, learn, decide, act, record. Stops cleanly on Ctrl-C or SIGTERM.

    Settings come from --config (YAML), then EDGELOOP_* environment variables (e.g. EDGELOOP_AGENT__THRESHOLD=0.95,
    EDGELOOP_BROKER__URL=mqtt://host:1883), then these options. With --protocol modbus --map FILE the agent polls
    the map's gateways itself (no broker needed); see docs/protocols.md.
    """
    if protocol not in PROTOCOLS:
        console.print(f"[red]error:[/red] --protocol {protocol!r}: known are {', '.join(sorted(PROTOCOLS))}")
        raise typer.Exit(2)
    if protocol != "mqtt" and map_file is None:
        console.print(f"[red]error:[/red] --protocol {protocol} needs --map FILE")
        raise typer.Exit(2)
    try:
        settings = load_settings(config, **settings_overrides(broker, site, autonomy, data_dir, store, partition))
    except SettingsError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    last = [time.monotonic(), 0]

    def say(text: str) -> None:
        # stderr may be a file on a full disk: a progress line that cannot be written must not stop the agent
        with contextlib.suppress(OSError):
            console.print(text)

    def tick(a: SiteAgent) -> None:
        now = time.monotonic()
        if now - last[0] >= 10:
            s = a.stats
            rate = (s.points - last[1]) / (now - last[0])
            say(
                f"{rate:,.0f} points/s | points {s.points:,} | decisions {s.decisions} | acked {s.commands_acked} "
                f"| quarantined {s.quarantined} | devices {len(a.registry)}"
            )
            last[:] = [now, s.points]

    async def main(url: str) -> None:
        stop = asyncio.Event()
        stop_on_signals(stop)
        where = url if protocol == "mqtt" else f"{protocol} ({map_file})"
        part = "" if settings.agent.part is None else f" partition {settings.agent.part}"
        console.print(
            f"agent for site [bold]{settings.agent.site}[/bold]{part} on {where}, data in {settings.agent.site_dir}"
        )
        try:
            stats = await run_agent(
                settings,
                url,
                stop,
                on_tick=tick,
                protocol=protocol,
                protocol_map=map_file,
                on_decision=lambda d: console.print(decision_line(d), highlight=False),
            )
        except (ValueError, MqttError) as exc:  # a map that does not load, a plant that is not there
            if protocol == "mqtt":
                raise
            console.print(f"[red]error:[/red] {exc}")
            raise typer.Exit(2) from None
        console.print(
            f"stopped: {stats.points:,} points, {stats.decisions} decisions, {stats.commands_sent} commands sent "
            f"({stats.commands_acked} acked, {stats.commands_rejected} rejected, {stats.commands_timed_out} timed "
            f"out), {stats.blocked} blocked by guardrails, {stats.quarantined} inputs quarantined"
        )

    try:
        if protocol != "mqtt":  # the agent talks to its devices itself: a broker only if one is named
            asyncio.run(main(settings.broker.url or ""))
            return
        with broker_url(settings) as url:
            asyncio.run(main(url))
    except PartitionTakenError as exc:
        console.print(f"[red]refused:[/red] {exc}")
        raise typer.Exit(3) from None
    except (StoreError, AuditError) as exc:  # a store or audit log that cannot be written: said plainly, it stops
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
