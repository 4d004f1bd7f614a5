"""`edgeloop demo`: broker, simulated factory and site agent together, with live progress and a summary.

The simulator runs as its own process (as a real plant would be), the agent in this one; they meet only on
the broker. Whether faults were caught before they failed is read from the simulator's ground truth.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer
from rich.console import Console
from rich.live import Live

from edgeloop.agent.roi import read_site_ledger
from edgeloop.agent.service import broker_url, open_agent
from edgeloop.agent.site import SiteAgent
from edgeloop.api.serve import serve_api
from edgeloop.demo.fleet import fleet_table, run_fleet_demo
from edgeloop.demo.processes import SERVED, PlantNotServedError, serve_plant, simulator_command
from edgeloop.demo.view import live_view, measured, roi_table, summary_table
from edgeloop.io.broker import BrokerError
from edgeloop.io.mqtt import MqttError
from edgeloop.io.protocols import PROTOCOLS
from edgeloop.io.signals import stop_on_signals
from edgeloop.ledger import ReportError, RoiReport, headline
from edgeloop.settings import Settings, SettingsError, load_settings


async def run_demo(
    settings: Settings,
    url: str,
    devices: int,
    duration: float,
    speed: float,
    seed: int,
    console: Console | None,
    with_dashboard: bool = True,
    protocol: str = "mqtt",
    interval: float = 15.0,
) -> dict[str, Any]:
    site = settings.agent.site
    web: dict[str, str] = {}
    with tempfile.TemporaryDirectory(prefix="edgeloop-demo-") as tmp:
        truth_path = Path(tmp) / "ground_truth.json"
        stop = asyncio.Event()
        stop_on_signals(stop)
        # a served plant (modbus, opcua) comes up first: the agent reads it with the map the simulator writes
        serving = (serve_plant(protocol, url, site, devices, seed, speed, truth_path, Path(tmp), interval)
                   if protocol in SERVED else contextlib.nullcontext((None, None)))  # fmt: skip
        async with serving as (served, map_path), \
                open_agent(settings, url, protocol=protocol, protocol_map=map_path) as agent, \
                contextlib.AsyncExitStack() as stack:  # fmt: skip
            if with_dashboard:
                web["dashboard_url"], web["dashboard_token"] = await stack.enter_async_context(
                    serve_api(settings, "edgeloop demo")
                )
                if console is not None:
                    console.print(
                        f"dashboard: [bold]{web['dashboard_url']}[/bold]  admin token: {web['dashboard_token']}"
                    )
            task = asyncio.create_task(agent.run(stop))
            if served is not None:
                sim = served
            else:
                await asyncio.sleep(0.3)  # subscribed before the plant starts talking
                extra = [] if protocol == "mqtt" else ["--protocol", protocol]  # on the broker: sparkplug too
                sim = await asyncio.create_subprocess_exec(
                    *simulator_command(url, site, devices, seed, speed, truth_path, extra, interval=interval),
                    stdin=asyncio.subprocess.DEVNULL,
                )
            started = time.monotonic()
            await _watch(agent, sim, stop, started, duration, console, settings)
            if served is not None:  # a served plant that stops would be told as devices gone offline: stop first
                await agent.client.flush(timeout=5.0)
                stop.set()
                await task
            if sim.returncode is None:
                sim.send_signal(signal.SIGINT)
            try:
                await asyncio.wait_for(sim.wait(), 60)
            except TimeoutError:  # a plant still flushing a backlog: its ground truth is lost, the ledger is not
                sim.kill()
                await sim.wait()
            if served is None:
                await asyncio.sleep(1.0)  # the plant's last events and acks
            stop.set()
            stats = await task
        truth = orjson.loads(truth_path.read_bytes()) if truth_path.exists() else {}
    faults = truth.get("faults", [])
    return {
        "site": site,
        **web,
        "broker": url,
        "seconds": round(time.monotonic() - started, 1),
        "simulated_days": round((truth.get("end_ts", 0) - truth.get("start_ts", 0)) / 86400, 2),
        "devices": devices,
        "autonomy": int(settings.agent.autonomy),
        "policy": settings.agent.policy.name if settings.agent.policy else "default",
        "points": stats.points,
        "messages": stats.messages,
        "anomalous_samples": stats.anomalous_samples,
        "decisions": stats.decisions,
        "commands_sent": stats.commands_sent,
        "commands_acked": stats.commands_acked,
        "commands_rejected": stats.commands_rejected,
        "commands_timed_out": stats.commands_timed_out,
        "approvals_requested": stats.approvals_requested,
        "blocked_by_guardrails": stats.blocked,
        "faults_injected": len(faults),
        "faults_caught_before_failure": sum(1 for f in faults if f.get("caught")),
        "failures": len(truth.get("failures", [])),
        "maintenance_found_fault": stats.repairs_found_fault,
        "maintenance_found_nothing": stats.repairs_found_nothing,
        "quarantined": stats.quarantined,
        "database": str(settings.agent.db_path),
    }


async def _watch(
    agent: SiteAgent,
    sim: asyncio.subprocess.Process,
    stop: asyncio.Event,
    started: float,
    duration: float,
    console: Console | None,
    settings: Settings,
) -> None:
    """Until the duration is up, the user interrupts, or the simulator ends; keeps the live view fresh. The
    treated and holdout arms are read from the store every few seconds, by the code `roi report` runs."""
    ended = asyncio.create_task(sim.wait())
    interrupted = asyncio.create_task(stop.wait())
    live = Live(live_view(agent, started, 0.0, duration), console=console, refresh_per_second=4) if console else None
    last_points, last_t, rate = 0, started, 0.0
    report: RoiReport | None = None
    reading: asyncio.Task[RoiReport | None] | None = None
    try:
        if live is not None:
            live.start()
        while (left := duration - (time.monotonic() - started)) > 0:
            done, _ = await asyncio.wait({ended, interrupted}, timeout=min(left, 1.0))
            if done:
                break
            now = time.monotonic()
            rate = (agent.stats.points - last_points) / (now - last_t)
            last_points, last_t = agent.stats.points, now
            if live is None:
                continue
            if reading is not None and reading.done():
                report, reading = reading.result(), None
            if reading is None and int(now - started) % ARMS_EVERY_S == 0:
                reading = asyncio.create_task(asyncio.to_thread(_arms_so_far, settings))
            live.update(live_view(agent, started, rate, duration, report))
    finally:
        if reading is not None:
            with contextlib.suppress(Exception):
                await reading
        if live is not None:
            live.stop()
        interrupted.cancel()
        if not ended.done():
            ended.cancel()


#: seconds between two readings of the arms for the live view (a report over the whole ledger each time)
ARMS_EVERY_S = 5


def _arms_so_far(settings: Settings) -> RoiReport | None:
    """The ROI report so far (fewer bootstrap draws than `roi report`: it is redrawn every few seconds)."""
    try:
        return read_site_ledger(settings, n_boot=400).report
    except ReportError:
        return None  # no device or no day yet


def fresh_site_dir(site_dir: Path) -> Path | None:
    """Move an earlier run's site directory to `<data dir>/previous/<site>-<n>`, so this run starts clean; returns
    where it went (None when there was none). Moved, not deleted: it may hold more than a demo's data."""
    if not site_dir.exists():
        return None
    previous = site_dir.parent / "previous"
    previous.mkdir(parents=True, exist_ok=True)
    n = 1
    while (target := previous / f"{site_dir.name}-{n}").exists():
        n += 1
    site_dir.rename(target)
    return target


def _policy_choice(policy: Path | None, autonomy: int | None) -> dict[str, Any]:
    """--policy runs that policy file; --autonomy runs the default policy at that level; otherwise the default
    policy at autonomy 3, as `bench roi` runs it (the demo shows what the bench measures; the shipped demo policy,
    `edgeloop/policy/demo_policy.yaml`, shows approvals instead)."""
    if policy is not None:
        return {"policy": policy, **({"autonomy": autonomy} if autonomy is not None else {})}
    return {"autonomy": 3 if autonomy is None else autonomy, "policy": None}


def demo(
    broker: Annotated[
        str | None, typer.Option("--broker", help="mqtt://host:port of an external broker (default: embedded)")
    ] = None,
    devices: Annotated[int, typer.Option(min=1, help="simulated pumps and motors")] = 500,
    duration: Annotated[float, typer.Option(min=1, help="real seconds to run")] = 150.0,
    speed: Annotated[
        float | None,
        typer.Option(
            min=1,
            help="simulated seconds per real second (default 2880: two days a minute, five in the demo's 150 s, "
            "enough device-days for the measured value's interval; over modbus and opcua 600, so that 20 polls a "
            "second see every other sample)",
        ),
    ] = None,
    interval: Annotated[
        float | None,
        typer.Option(
            min=1,
            help="simulated seconds between a device's samples (default 120, a common condition-monitoring rate, "
            "which keeps 500 devices at 2880x to 12,000 messages a second; over modbus and opcua 15)",
        ),
    ] = None,
    seed: Annotated[int, typer.Option(help="simulator seed")] = 0,
    cooldown_h: Annotated[
        float,
        typer.Option(
            min=0,
            help="simulated hours before a device still anomalous is decided about again (agent.cooldown_s; 6 "
            "outside the demo): short here, so that guardrails and open approvals show what they hold back",
        ),
    ] = 1.0,
    autonomy: Annotated[
        int | None,
        typer.Option(
            min=0, max=3, help="run the default policy at this level instead (0 observe, 1 recommend, 2 approve, 3 act)"
        ),
    ] = None,
    policy: Annotated[
        Path | None,
        typer.Option("--policy", exists=True, help="policy YAML (default: the default policy at autonomy 3)"),
    ] = None,
    site: Annotated[str, typer.Option(help="site id (with --fleet: the sites are SITE-1 .. SITE-N)")] = "factory",
    data_dir: Annotated[
        Path | None,
        typer.Option("--data-dir", help="where site stores live (default ./var, where every other command looks)"),
    ] = None,
    resume: Annotated[
        bool,
        typer.Option(
            "--resume",
            help="carry on with the site's data from an earlier run (default: a fresh store; the old one "
            "is moved to <data-dir>/previous/)",
        ),
    ] = False,
    holdout_fraction: Annotated[
        float,
        typer.Option(
            "--holdout-fraction",
            min=0.05,
            max=0.95,
            help="share of devices held out as the baseline (half: the most precise comparison for a fleet's size)",
        ),
    ] = 0.5,
    json_out: Annotated[
        bool, typer.Option("--json", help="print the summary as one JSON object, nothing else")
    ] = False,
    fleet: Annotated[
        int,
        typer.Option(
            min=0, max=20, help="run N sites instead, each a simulator and an agent process, one broker, a fleet view"
        ),
    ] = 0,
    protocol: Annotated[
        str,
        typer.Option(
            "--protocol",
            help="what the simulated plant speaks and the agent listens to: mqtt (v1 topics on the broker), modbus "
            "(Modbus TCP slaves the agent polls), opcua (an OPC UA server the agent subscribes to) or sparkplug "
            "(a Sparkplug B edge node on the broker)",
        ),
    ] = "mqtt",
) -> None:
    """Start a broker, a simulated factory and a site agent; show them closing the loop; print a summary.

    The agent learns each device's normal behaviour, turns sustained anomalies into decisions, sends
    maintenance commands, and the summary checks against the simulator's ground truth which faults were
    caught before they became failures.
    """
    console = Console(stderr=True)
    speed = speed if speed is not None else 600.0 if protocol in SERVED else 2880.0
    interval = interval if interval is not None else 15.0 if protocol in SERVED else 120.0
    if protocol not in PROTOCOLS:
        console.print(f"[red]error:[/red] --protocol {protocol!r}: known are {', '.join(sorted(PROTOCOLS))}")
        raise typer.Exit(2)
    if fleet and protocol != "mqtt":
        console.print("[red]error:[/red] --fleet runs over mqtt only")
        raise typer.Exit(2)
    if fleet:
        where = data_dir or Path("var")
        _fleet_demo(broker, site, fleet, devices, duration, speed, seed, where, json_out, console)
        return
    try:
        settings = load_settings(
            None,
            broker={"url": broker} if broker else {},
            agent={
                "site": site,
                **({"data_dir": data_dir} if data_dir is not None else {}),
                "cooldown_s": cooldown_h * 3600,
                **_policy_choice(policy, autonomy),
            },
            ledger={"holdout_fraction": holdout_fraction},
        )
    except SettingsError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    if not resume and (moved := fresh_site_dir(settings.agent.site_dir)) is not None and not json_out:
        console.print(f"the previous run's data moved to {moved} (--resume carries on with it)")
    try:
        with broker_url(settings) as url:
            if not json_out:
                over = "" if protocol == "mqtt" else f" over {protocol}"
                console.print(f"broker {url}; {devices} devices{over}, {speed:g}x; running {duration:g} s ...")
            view = None if json_out else console
            summary = asyncio.run(
                run_demo(settings, url, devices, duration, speed, seed, view, protocol=protocol, interval=interval)
            )
    except (MqttError, BrokerError, PlantNotServedError) as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    try:
        figures = headline(read_site_ledger(settings).report)
    except ReportError as exc:
        if json_out:
            sys.stdout.write(orjson.dumps({**summary, "roi": {"error": str(exc)}}).decode() + "\n")
        else:
            Console().print(summary_table(summary))
        console.print(f"[yellow]no ROI figures:[/yellow] {exc}")
        return
    if json_out:
        sys.stdout.write(orjson.dumps({**summary, **measured(figures), "roi": figures.to_json()}).decode() + "\n")
    else:
        Console().print(summary_table(summary))
        Console().print(roi_table(figures))
        Console().print(f"[bold]{figures.verdict}[/bold]")


def _fleet_demo(
    broker: str | None, site: str, n_sites: int, devices: int, duration: float, speed: float, seed: int, data_dir: Path,
    json_out: bool, console: Console,
) -> None:  # fmt: skip
    try:
        settings = load_settings(None, broker={"url": broker} if broker else {})
        with broker_url(settings) as url:
            if not json_out:
                console.print(f"broker {url}; {n_sites} sites of {devices} devices, {speed:g}x; running {duration:g} s")
            view, where = None if json_out else console, data_dir / "fleet"
            summary = asyncio.run(run_fleet_demo(url, site, n_sites, devices, duration, speed, seed, where, view))
    except (MqttError, BrokerError, SettingsError, TimeoutError) as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    if json_out:
        sys.stdout.write(orjson.dumps(summary).decode() + "\n")
    else:
        Console().print(fleet_table(summary))
