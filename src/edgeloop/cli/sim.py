"""`edgeloop sim factory`, `edgeloop sim building` and `edgeloop sim depot`: simulated plants on a real broker;
`edgeloop sim record`: a factory run on disk."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from edgeloop.io.mqtt import MqttClient, MqttError, parse_brokers
from edgeloop.io.signals import stop_on_signals
from edgeloop.sim.protocols import SERVERS, Serve
from edgeloop.sim.runner import Plant, PlantRunner, SimStats, write_ground_truth

sim_app = typer.Typer(help="Device simulators that speak the real protocols.", no_args_is_help=True)
console = Console(stderr=True)
DAY = 86_400.0

# the options every `sim` command has (the site and the seed differ only in their default and help)
Broker = Annotated[
    str,
    typer.Option("--broker", envvar="EDGELOOP_BROKER__URL",
                 help="mqtt://host:port, or a comma-separated list of a cluster's nodes (fail-over)"),
]  # fmt: skip
Speed = Annotated[float, typer.Option(min=0, help="simulated seconds per real second (0: flat out)")]
Interval = Annotated[float, typer.Option(min=0.1, help="simulated seconds between samples")]
Duration = Annotated[float | None, typer.Option(help="stop after this many real seconds")]
SimDays = Annotated[float | None, typer.Option(help="stop after this many simulated days")]
StartTs = Annotated[float | None, typer.Option(help="simulated start, unix s (default: 30 days ago)")]
GroundTruth = Annotated[Path | None, typer.Option(help="write the ground truth JSON here at the end")]
Quiet = Annotated[bool, typer.Option(help="no progress lines")]
Site = Annotated[str, typer.Option(help="site id")]


def default_start() -> float:
    """Thirty days ago at midnight UTC: an accelerated clock then stays behind the wall clock for a long run."""
    return (time.time() // DAY - 30) * DAY


@sim_app.command("factory")
def factory(
    broker: Annotated[
        str | None, typer.Option("--broker", envvar="EDGELOOP_BROKER__URL", help="mqtt://host:port (protocol mqtt)")
    ] = None,
    site: Site = "factory",
    devices: Annotated[int, typer.Option(min=1, help="number of pumps and motors")] = 50,
    seed: Annotated[int, typer.Option(help="seed: same seed, same plant, same faults")] = 0,
    speed: Speed = 1440.0,
    interval: Interval = 15.0,
    duration: Duration = None,
    sim_days: SimDays = None,
    start_ts: StartTs = None,
    ground_truth: GroundTruth = None,
    quiet: Quiet = False,
    protocol: Annotated[
        str,
        typer.Option(
            "--protocol",
            help="what the plant speaks: mqtt (v1 topics on --broker) or modbus (TCP slaves, units 1-200 per port "
            "from --port on; the register map it serves goes to --map-out)",
        ),
    ] = "mqtt",
    port: Annotated[int | None, typer.Option(help="first port of a server protocol (modbus: 5020)")] = None,
    host: Annotated[str, typer.Option(help="address a server protocol listens on")] = "127.0.0.1",
    map_out: Annotated[
        Path | None, typer.Option("--map-out", help="write the map the plant is served with here (for --map)")
    ] = None,
    poll_s: Annotated[
        float | None, typer.Option("--poll-s", min=0.01, help="poll interval written into the served map")
    ] = None,
) -> None:
    """Simulate pumps and motors with injected faults; they publish telemetry and obey commands.

    Over Modbus (--protocol modbus) the same plant, physics, faults and ground truth sit in input registers
    (each sample's time in registers 0-3), commands are writes of holding registers and coils; see
    docs/protocols.md.
    """
    from edgeloop.sim.factory import FactoryPlant  # the plant model is only loaded when a plant is run

    if protocol not in SERVERS:
        console.print(f"[red]error:[/red] --protocol {protocol!r}: known are {', '.join(sorted(SERVERS))}")
        raise typer.Exit(2)
    if protocol == "mqtt" and broker is None:
        console.print("[red]error:[/red] --broker is needed for protocol mqtt")
        raise typer.Exit(2)
    start = start_ts or default_start()
    plant = FactoryPlant(n_devices=devices, seed=seed, start_ts=start, interval_s=interval, site=site)
    options = {} if poll_s is None else {"poll_s": poll_s}
    serve = Serve(broker, host, port, map_out, options) if protocol != "mqtt" else None
    run_plant(plant, broker or "", speed, interval, duration, sim_days, ground_truth, quiet, protocol=protocol,
              serve=serve)  # fmt: skip


@sim_app.command("building")
def building(
    broker: Broker,
    site: Site = "building",
    zones: Annotated[int, typer.Option(min=1, help="number of zones, one air handler each (plus one chiller)")] = 8,
    seed: Annotated[int, typer.Option(help="seed: same seed, same building, weather and faults")] = 0,
    speed: Speed = 1440.0,
    interval: Interval = 15.0,
    duration: Duration = None,
    sim_days: SimDays = None,
    start_ts: StartTs = None,
    outdoor_mean: Annotated[float, typer.Option(help="mean outdoor temperature, degC (the day swings 8 K)")] = 26.0,
    faults_per_day: Annotated[float, typer.Option(min=0, help="faults per device per simulated day")] = 0.15,
    ground_truth: GroundTruth = None,
    quiet: Quiet = False,
) -> None:
    """Simulate an office building's air handlers and chiller with injected faults; they publish telemetry and obey
    commands (setpoints, fan speed, economizer, maintenance)."""
    from edgeloop.sim.building import BuildingPlant  # the plant model is only loaded when a plant is run

    start = start_ts or default_start()
    plant = BuildingPlant(zones, seed, start, interval, site, faults_per_day, outdoor_mean_c=outdoor_mean)
    run_plant(plant, broker, speed, interval, duration, sim_days, ground_truth, quiet, power=plant.power_kw)


@sim_app.command("depot")
def depot(
    broker: Broker,
    site: Site = "depot",
    chargers: Annotated[int, typer.Option(min=1, help="number of chargers (one bus each)")] = 12,
    max_kw: Annotated[float, typer.Option(min=1, help="each charger's rating, kW")] = 50.0,
    seed: Annotated[int, typer.Option(help="seed: same seed, same arrivals and batteries")] = 0,
    speed: Speed = 1440.0,
    interval: Interval = 15.0,
    duration: Duration = None,
    sim_days: SimDays = None,
    start_ts: StartTs = None,
    ground_truth: GroundTruth = None,
    quiet: Quiet = False,
) -> None:
    """Simulate an EV depot: buses arrive in the evening and must leave charged; chargers obey `set_power` (kW)."""
    from edgeloop.sim.depot import DepotPlant

    start = start_ts or default_start()
    plant = DepotPlant(n_chargers=chargers, seed=seed, start_ts=start, interval_s=interval, site=site, max_kw=max_kw)
    run_plant(plant, broker, speed, interval, duration, sim_days, ground_truth, quiet, power=plant.power_kw)


def run_plant(
    plant: Plant,
    broker: str,
    speed: float,
    interval: float,
    duration: float | None,
    sim_days: float | None,
    ground_truth: Path | None,
    quiet: bool,
    power: Callable[[], float] | None = None,
    protocol: str = "mqtt",
    serve: Serve | None = None,
) -> None:
    """Run a plant on the broker (or served over `protocol`) until stopped, printing progress every 5 s unless
    quiet."""
    if protocol == "mqtt":
        try:
            parse_brokers(broker)
        except ValueError as exc:
            console.print(f"[red]error:[/red] --broker: {exc}")
            raise typer.Exit(2) from None
    start, site = plant.now, plant.site
    last = [time.monotonic()]

    def progress(stats: SimStats) -> None:
        if not quiet and time.monotonic() - last[0] >= 5:
            last[0] = time.monotonic()
            day = (stats.sim_ts - start) / DAY
            load = "" if power is None else f" | power {power():,.1f} kW"
            console.print(
                f"sim day {day:.2f} | messages {stats.messages:,} | events {stats.events} | commands {stats.commands}"
                + load
            )

    async def main() -> None:
        stop = asyncio.Event()
        stop_on_signals(stop)
        if duration is not None:
            asyncio.get_running_loop().call_later(duration, stop.set)
        if protocol == "mqtt":
            # given a cluster's nodes, a persistent session: its unacknowledged QoS 1 messages (events, acks) and
            # the commands sent to it while it fails over are not lost
            failover = "," in broker
            async with MqttClient(broker, f"edgeloop-sim-{site}", clean_session=not failover) as client:
                runner = PlantRunner(plant, client, speed=speed, interval_s=interval)
                await runner.run(stop, sim_seconds=None if sim_days is None else sim_days * DAY, on_step=progress)
            return
        async with SERVERS[protocol](plant, serve or Serve(broker or None)) as link:
            if not quiet:
                console.print(f"site {site} served over {protocol}")
            runner = PlantRunner(plant, link, speed=speed, interval_s=interval)
            await runner.run(stop, sim_seconds=None if sim_days is None else sim_days * DAY, on_step=progress)

    try:
        asyncio.run(main())
    except MqttError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    except (OSError, ValueError) as exc:  # a served protocol: a port taken, a map that does not fit the plant
        if protocol == "mqtt":
            raise
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    finally:
        if ground_truth is not None:
            write_ground_truth(plant, ground_truth)
    if not quiet:
        console.print(f"done: {plant.ground_truth().get('summary', {})}")


@sim_app.command("record")
def record(
    out: Annotated[Path, typer.Option("--out", help="folder to write the recording to")],
    days: Annotated[float, typer.Option(min=0.1, help="simulated days")] = 7.0,
    devices: Annotated[int, typer.Option(min=2, help="pumps and motors (alternating)")] = 20,
    seed: Annotated[int, typer.Option(help="seed: same seed, same plant, same faults")] = 0,
    interval: Annotated[float, typer.Option(min=1.0, help="simulated seconds between samples")] = 15.0,
) -> None:
    """Record a factory run (telemetry CSV per device, events, ground truth) for `edgeloop bench select`."""
    from edgeloop.sim.factory import FactoryPlant
    from edgeloop.sim.record import START_TS, record_factory

    console = Console(stderr=True)
    plant = FactoryPlant(devices, seed, START_TS, interval)
    steps = int(days * DAY / interval)
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=console) as progress:
        task = progress.add_task(f"factory seed {seed}, {devices} devices, {days:g} days", total=steps)
        truth = record_factory(plant, steps, out, lambda n: progress.advance(task, n))
        progress.update(task, completed=steps)
    summary = truth["summary"]
    console.print(f"wrote {out}: {steps} steps, {summary['faults']} faults "
                  f"({summary['developing_faults']} developing), {summary['failures']} failures")  # fmt: skip
