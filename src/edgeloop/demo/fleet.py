"""`edgeloop demo --fleet N`: N sites, each a simulated factory and a site agent in processes of their own, met
only on one broker; a live fleet view in the terminal, fed by what the agents publish.

Every agent is a separate `edgeloop agent` process with its own data folder and key, sharing its learnt
summaries over `_fleet/knowledge/...` (`fleet.share_knowledge`); nothing but the broker joins them. The view
subscribes to each agent's `_agent/state` (retained, last will "offline") and `_agent/stats` (its counters,
every second), and to the knowledge topics, as an operator's fleet console would.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from rich.console import Console
from rich.live import Live
from rich.table import Table

from edgeloop.demo.processes import agent_command, simulator_command
from edgeloop.io.mqtt import Message, MqttClient
from edgeloop.io.topics import AGENT, PREFIX, fleet_topic

#: how often the agents of a demo fleet publish their knowledge (a real site: every few minutes)
PUBLISH_EVERY_S = 5.0


@dataclass(slots=True)
class SiteView:
    """What the fleet view knows of one site, from the broker alone."""

    site: str
    state: str = "starting"
    stats: dict[str, Any] = field(default_factory=dict)
    seen_at: float = 0.0


@dataclass(slots=True)
class FleetView:
    sites: dict[str, SiteView]
    knowledge: dict[str, set[str]] = field(default_factory=dict)  # asset type -> sites that published

    def take(self, message: Message) -> None:
        """Fold one message from the broker into the view; anything unexpected is ignored, not fatal."""
        parts = message.topic.split("/")
        if len(parts) == 6 and parts[2:4] == ["_fleet", "knowledge"]:  # .../_fleet/knowledge/{asset_type}/{site}
            if parts[5] in self.sites:  # a broker may hold other fleets' retained knowledge too
                self.knowledge.setdefault(parts[4], set()).add(parts[5])
            return
        if len(parts) != 5 or parts[3] != AGENT or parts[4] not in ("state", "stats"):
            return
        view = self.sites.get(parts[2])  # edgeloop/v1/{site}/_agent/{state,stats}
        if view is None:
            return
        if parts[4] == "state":
            view.state = message.payload.decode(errors="replace")[:20]
        else:
            with contextlib.suppress(orjson.JSONDecodeError):
                stats = orjson.loads(message.payload)
                if isinstance(stats, dict):
                    view.stats, view.seen_at = stats, time.monotonic()

    def table(self, elapsed: float, duration: float) -> Table:
        table = Table(title=f"edgeloop fleet: {len(self.sites)} sites, one broker ({elapsed:.0f} / {duration:.0f} s)")
        for column in ("site", "agent", "devices", "points", "decisions", "sent / acked", "caught early", "failures"):
            table.add_column(column, justify="left" if column in ("site", "agent") else "right")
        for view in self.sites.values():
            s = view.stats
            colour = {"online": "green", "offline": "red"}.get(view.state, "yellow")
            table.add_row(
                view.site, f"[{colour}]{view.state}[/{colour}]", str(s.get("devices", "-")), f"{s.get('points', 0):,}",
                str(s.get("decisions", 0)), f"{s.get('commands_sent', 0)} / {s.get('commands_acked', 0)}",
                str(s.get("repairs_found_fault", 0)), str(s.get("failures", 0)),
            )  # fmt: skip
        shared = ", ".join(f"{a}: {len(s)} sites" for a, s in sorted(self.knowledge.items())) or "none yet"
        table.caption = f"knowledge shared on {fleet_topic('knowledge', '#')}: {shared}"
        return table


async def run_fleet_demo(
    url: str, prefix: str, n_sites: int, devices: int, duration: float, speed: float, seed: int, data_dir: Path,
    console: Console | None,
) -> dict[str, Any]:  # fmt: skip
    """Start the fleet's processes, watch it for `duration` seconds, stop it cleanly; the summary per site.
    Sites are `{prefix}-1` .. `{prefix}-N`; site i's plant has seed `seed + i`."""
    sites = [f"{prefix}-{i + 1}" for i in range(n_sites)]
    view = FleetView({s: SiteView(s) for s in sites})
    env = {**os.environ, "EDGELOOP_FLEET__SHARE_KNOWLEDGE": "true",
           "EDGELOOP_FLEET__PUBLISH_EVERY_S": str(PUBLISH_EVERY_S),
           "EDGELOOP_AGENT__STATS_INTERVAL_S": "1"}  # fmt: skip  # the fleet view's live counters
    agents: list[asyncio.subprocess.Process] = []
    sims: list[asyncio.subprocess.Process] = []
    started = time.monotonic()
    async with MqttClient(url, "edgeloop-fleet-view") as client:
        await client.subscribe(f"{PREFIX}/+/_agent/state", f"{PREFIX}/+/_agent/stats", fleet_topic("knowledge", "#"))
        try:
            for site in sites:
                log = data_dir / site / "agent.log"
                agents.append(await _logged(agent_command(url, site, data_dir / site), env, log))
            await _until(client, view, lambda v: v.state == "online", "come online", 60)
            for i, site in enumerate(sites):
                truth = data_dir / site / "ground_truth.json"
                command = simulator_command(url, site, devices, seed + i, speed, truth)
                sims.append(await _logged(command, None, truth.with_name("sim.log")))
            await _until(client, view, lambda v: v.stats.get("devices", 0) >= devices, "know their devices", 120)
            started = time.monotonic()  # the run begins when every plant talks to its agent
            await _watch(client, view, started, duration, console)
        finally:
            await _stop(sims)
            await asyncio.sleep(1.0)  # the plants' last events and acks reach the agents
            await _stop(agents)
            await _drain_for(client, view, 1.0)
    return {
        "broker": url,
        "seconds": round(time.monotonic() - started, 1),
        "sites": [_site_summary(v, data_dir / v.site, agents[i].returncode) for i, v in enumerate(view.sites.values())],
        "knowledge_shared": {a: sorted(s) for a, s in sorted(view.knowledge.items())},
        "data_dir": str(data_dir),
    }


def _site_summary(view: SiteView, site_dir: Path, returncode: int | None) -> dict[str, Any]:
    truth_path = site_dir / "ground_truth.json"
    truth = orjson.loads(truth_path.read_bytes()) if truth_path.exists() else {}
    faults = truth.get("faults", [])
    return {
        "site": view.site,
        "agent_state": view.state,
        "agent_exit_code": returncode,
        "devices": view.stats.get("devices", 0),
        "points": view.stats.get("points", 0),
        "decisions": view.stats.get("decisions", 0),
        "commands_acked": view.stats.get("commands_acked", 0),
        "faults_injected": len(faults),
        "faults_caught_before_failure": sum(1 for f in faults if f.get("caught")),
        "failures": len(truth.get("failures", [])),
    }


async def _logged(command: list[str], env: dict[str, str] | None, log: Path) -> asyncio.subprocess.Process:
    """Start a process whose output goes to `log` (the live view owns the terminal)."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:  # the child keeps its own copy of the descriptor
        return await asyncio.create_subprocess_exec(
            *command, env=env, stdin=asyncio.subprocess.DEVNULL, stdout=out, stderr=asyncio.subprocess.STDOUT
        )


async def _until(
    client: MqttClient, view: FleetView, ready: Callable[[SiteView], bool], what: str, timeout: float
) -> None:
    """Wait until every site is `ready` (its agent online, or its plant's devices known to it)."""
    deadline = time.monotonic() + timeout
    while late := [v.site for v in view.sites.values() if not ready(v)]:
        if time.monotonic() > deadline:
            raise TimeoutError(f"the agents of {late} did not {what} within {timeout:g} s (see their logs)")
        await _drain_for(client, view, 0.2)


async def _drain_for(client: MqttClient, view: FleetView, seconds: float) -> None:
    end = time.monotonic() + seconds
    while (left := end - time.monotonic()) > 0:
        await client.wait(min(left, 0.2))
        for message in client.drain(10_000):
            view.take(message)


async def _watch(client: MqttClient, view: FleetView, started: float, duration: float, console: Console | None) -> None:
    live = Live(view.table(0, duration), console=console, refresh_per_second=2) if console else None
    try:
        if live is not None:
            live.start()
        while (elapsed := time.monotonic() - started) < duration:
            await _drain_for(client, view, min(0.5, duration - elapsed))
            if live is not None:
                live.update(view.table(time.monotonic() - started, duration))
    finally:
        if live is not None:
            live.stop()


async def _stop(processes: list[asyncio.subprocess.Process]) -> None:
    """SIGINT each process (a clean stop: the agent drains, flushes and says offline), then wait for it."""
    for process in processes:
        if process.returncode is None:
            process.send_signal(signal.SIGINT)
    for process in processes:
        try:
            await asyncio.wait_for(process.wait(), 30)
        except TimeoutError:
            process.kill()
            await process.wait()


def fleet_table(summary: dict[str, Any]) -> Table:
    """The end-of-run summary, one row per site."""
    table = Table(title=f"edgeloop fleet demo: summary ({summary['seconds']} s, data in {summary['data_dir']})")
    columns = ("site", "agent_state", "devices", "points", "decisions", "commands_acked", "faults_injected",
               "faults_caught_before_failure", "failures")  # fmt: skip
    for column in columns:
        table.add_column(column.replace("_", " "), justify="left" if column in ("site", "agent_state") else "right")
    for site in summary["sites"]:
        table.add_row(*(f"{site[c]:,}" if isinstance(site[c], int) else str(site[c]) for c in columns))
    shared = summary["knowledge_shared"]
    table.caption = "knowledge shared: " + (", ".join(f"{a} by {', '.join(s)}" for a, s in shared.items()) or "none")
    return table
