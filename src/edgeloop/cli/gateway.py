"""`edgeloop gateway PROTOCOL --map FILE --broker URL --site S`: a plant's protocol onto the v1 MQTT scheme."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from edgeloop.io.mqtt import MqttClient, MqttError
from edgeloop.io.protocols import PROTOCOLS, Link, open_protocol
from edgeloop.io.relay import RelayStats, relay
from edgeloop.io.signals import stop_on_signals
from edgeloop.model import is_valid_id

console = Console(stderr=True)


#: the protocols whose link is described by a map file (Sparkplug B describes itself in its births)
WITH_MAP = ("modbus", "opcua")


def gateway(
    protocol: Annotated[str, typer.Argument(help="the plant's protocol: modbus, opcua or sparkplug")],
    broker: Annotated[str, typer.Option("--broker", envvar="EDGELOOP_BROKER__URL", help="mqtt://host:port")],
    site: Annotated[str, typer.Option("--site", help="the site id the devices are published under")],
    map_file: Annotated[
        Path | None,
        typer.Option(
            "--map",
            exists=True,
            dir_okay=False,
            help="the protocol's map: Modbus register map or OPC UA nodes YAML (not for sparkplug)",
        ),
    ] = None,
    plant_broker: Annotated[
        str | None,
        typer.Option(help="sparkplug: mqtt://host:port the edge nodes publish to (default: --broker)"),
    ] = None,
    group: Annotated[str | None, typer.Option(help="sparkplug: the group id to host (default: the site id)")] = None,
    quiet: Annotated[bool, typer.Option(help="no progress lines")] = False,
) -> None:
    """Publish a plant onto the v1 topics of a broker and relay the agent's commands back, for sites where the
    agent runs on another machine. Each device gets its retained meta (from the map, or its Sparkplug birth) and
    state, then telemetry; bad answers go out as `bad_input` events the agent quarantines. Stops on Ctrl-C or
    SIGTERM.
    """
    if protocol not in PROTOCOLS or protocol == "mqtt":
        known = ", ".join(p for p in sorted(PROTOCOLS) if p != "mqtt")
        console.print(f"[red]error:[/red] no gateway for protocol {protocol!r}; known: {known}")
        raise typer.Exit(2)
    if protocol in WITH_MAP and map_file is None:
        console.print(f"[red]error:[/red] a {protocol} gateway needs --map (the plant's {protocol} map YAML)")
        raise typer.Exit(2)
    if not is_valid_id(site):
        console.print(f"[red]error:[/red] --site {site!r} is not a valid id ([a-z0-9][a-z0-9_-]{{0,63}})")
        raise typer.Exit(2)
    stats = RelayStats()

    async def progress(stop: asyncio.Event) -> None:
        last = stats.up
        while not stop.is_set():
            await asyncio.sleep(10)
            if not quiet:
                console.print(f"{(stats.up - last) / 10:,.0f} messages/s up | up {stats.up:,} | commands {stats.down}")
            last = stats.up

    async def main() -> None:
        stop = asyncio.Event()
        stop_on_signals(stop)
        options = {"group": group} if group else {}
        link = Link(site, map_file, plant_broker or broker, f"edgeloop-gateway-{protocol}-{site}", options=options)
        async with MqttClient(broker, link.client_id) as mqtt, open_protocol(protocol, link) as plant:
            source = map_file or f"group {group or site} on {plant_broker or broker}"
            console.print(f"gateway {protocol} ({source}) -> {broker}, site [bold]{site}[/bold]")
            ticker = asyncio.create_task(progress(stop))
            await relay(plant, mqtt, site, stop, stats)
            ticker.cancel()
        console.print(f"stopped: {stats.up:,} messages relayed up, {stats.down} commands down")

    started = time.monotonic()
    try:
        asyncio.run(main())
    except (MqttError, ValueError) as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    if not quiet:
        console.print(f"ran {time.monotonic() - started:.0f} s")
