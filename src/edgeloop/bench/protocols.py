"""`edgeloop bench protocols`: each plant protocol into the real agent, next to the plain MQTT path, in one run.

One section per protocol (`SECTIONS`); each returns its figures as a flat dict. The `mqtt` section is the
reference: the agent's points/s and RSS per series for the same devices and metrics over the v1 JSON topics on
the embedded broker. Figures are printed, nothing is asserted.

Modbus (targets from issue 16: 1,000 devices x 20 registers at 1 Hz, under 1% of polls missed, poll-time jitter
p99 < 200 ms, p99 source-change-to-decision < 250 ms):
1. load: the devices served by pymodbus in a process of their own, polled by the adapter into the agent;
   polls, missed polls, jitter (how late each poll started against its schedule), registers/s, points/s, RSS;
2. latency: fewer devices polled faster, with anomalous bursts; from the source's value change (its timestamp
   register) to the decision, and from the poll that read it to the decision (a map without timestamp).
"""

from __future__ import annotations

import asyncio
import gc
import socket
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import psutil
from rich.console import Console
from rich.table import Table

from edgeloop.agent.service import open_agent
from edgeloop.bench.loadgen import ASSET_TYPE, Load, bench_economics
from edgeloop.bench.modbus_load import ModbusLoad, start_server
from edgeloop.bench.throughput import through_agent
from edgeloop.io.broker import EmbeddedBroker
from edgeloop.io.modbus.adapter import ModbusAdapter
from edgeloop.settings import load_settings


@dataclass(frozen=True, slots=True)
class BenchOptions:
    devices: int = 1000
    registers: int = 20
    seconds: float = 20.0
    latency_devices: int = 100
    latency_poll_s: float = 0.1
    broker: str = ""  # filled in by `protocols` with the embedded broker's URL when none is given


Progress = Callable[[str], None]
Section = Callable[[BenchOptions, Path, Progress], Awaitable[dict[str, Any]]]


def _free_ports(n: int) -> int:
    """The first of `n` consecutive free ports (checked, not reserved)."""
    for _ in range(50):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            first = int(s.getsockname()[1])
        if first + n < 65000 and all(_port_free(first + i) for i in range(n)):
            return first
    raise RuntimeError("no run of free ports found")


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _rss() -> int:
    gc.collect()
    return int(psutil.Process().memory_info().rss)


def _p(values: list[float], q: float) -> float:
    return round(float(np.percentile(values, q)), 2) if values else float("nan")


async def mqtt_section(options: BenchOptions, tmp: Path, progress: Progress) -> dict[str, Any]:
    """The reference: the same devices x metrics over v1 JSON on the broker, as fast as the agent takes them."""
    progress(f"mqtt: {options.devices:,} devices x {options.registers} metrics over v1 JSON, 10 s ...")
    site = f"bmq{int(time.time()) % 100000}"
    load = Load(options.broker, site, options.devices, options.registers, 10.0)
    before = _rss()
    agent, msgs, points, sent, received, cpu = await through_agent(options.broker, load, tmp / "mqtt")
    rss = (_rss() - before) / max(agent.registry.n_series, 1)
    progress(f"    {points:,.0f} points/s, {rss:,.0f} bytes RSS per series")
    return {"agent_points_per_s": round(points, 1), "agent_msgs_per_s": round(msgs, 1),
            "rss_bytes_per_series": round(rss, 1), "agent_cpu_percent": round(cpu, 1),
            "published": sent, "received": received}  # fmt: skip


@dataclass(slots=True)
class ModbusRun:
    """What one measured stretch of a Modbus run gave: deltas over `seconds`, after the warm-up."""

    seconds: float
    polls: int
    missed: int
    failed: int
    requests: int
    registers: int
    lateness_ms: list[float]
    points: int
    quarantined: int
    rss_per_series: float
    decision_latency_ms: list[float]


WARMUP_S = 3.0


async def _modbus_run(load: ModbusLoad, seconds: float, tmp: Path, name: str) -> ModbusRun:
    """The load's server process and the agent on the adapter: `WARMUP_S` to connect and describe every device,
    then `seconds` measured."""
    map_path = tmp / f"{name}.yaml"
    proc = start_server(load, map_path)
    settings = load_settings(None, agent={"site": load.site, "autonomy": 0, "data_dir": tmp / name},
                             ledger={"economics": bench_economics(tmp / name / "economics.yaml")})  # fmt: skip
    before = _rss()
    stop = asyncio.Event()
    try:
        async with open_agent(settings, "", protocol="modbus", protocol_map=map_path) as agent:
            adapter = agent.client
            assert isinstance(adapter, ModbusAdapter)
            task = asyncio.create_task(agent.run(stop))
            await asyncio.sleep(WARMUP_S)
            s0, points0, quarantined0, started = (
                adapter.stats,
                agent.stats.points,
                agent.stats.quarantined,
                time.monotonic(),
            )
            latency0 = len(agent.stats.decision_latency_s)
            await asyncio.sleep(seconds)
            s1, elapsed = adapter.stats, time.monotonic() - started
            run = ModbusRun(
                elapsed, s1.polls - s0.polls, s1.missed - s0.missed, s1.failed - s0.failed, s1.requests - s0.requests,
                s1.registers - s0.registers, [1000.0 * x for x in list(s1.lateness_s)[len(s0.lateness_s) :]],
                agent.stats.points - points0, agent.stats.quarantined - quarantined0,
                (_rss() - before) / max(agent.registry.n_series, 1),
                [1000.0 * x for x in agent.stats.decision_latency_s[latency0:]],
            )  # fmt: skip
            stop.set()
            await task
            await asyncio.to_thread(agent.store.flush)
            return run
    finally:
        proc.terminate()
        proc.join(10)


async def modbus_section(options: BenchOptions, tmp: Path, progress: Progress) -> dict[str, Any]:
    n, k = options.devices, options.registers
    ports = -(-n // 200)
    progress(f"modbus 1/3: {n:,} devices x {k} registers at 1 Hz, {ports} servers, {options.seconds:g} s ...")
    life = WARMUP_S + options.seconds + 10.0
    load = ModbusLoad(f"bmb{int(time.time()) % 100000}", n, k, _free_ports(ports), life, asset_type=ASSET_TYPE)
    r = await _modbus_run(load, options.seconds, tmp, "load")
    scheduled = r.polls + r.missed
    figures: dict[str, Any] = {
        "devices": n, "registers_per_device": k, "seconds": round(r.seconds, 1),
        "polls": r.polls, "polls_missed": r.missed, "polls_failed": r.failed,
        "polls_missed_percent": round(100.0 * (r.missed + r.failed) / max(scheduled, 1), 3),
        "poll_jitter_p50_ms": _p(r.lateness_ms, 50), "poll_jitter_p99_ms": _p(r.lateness_ms, 99),
        "requests_per_s": round(r.requests / r.seconds, 1), "registers_per_s": round(r.registers / r.seconds, 1),
        "agent_points_per_s": round(r.points / r.seconds, 1), "rss_bytes_per_series": round(r.rss_per_series, 1),
        "quarantined": r.quarantined,
    }  # fmt: skip
    f = figures
    progress(f"    {f['registers_per_s']:,.0f} registers/s, missed {f['polls_missed_percent']}%, "
             f"jitter p99 {f['poll_jitter_p99_ms']} ms, {f['agent_points_per_s']:,.0f} points/s")  # fmt: skip
    m, poll_s = options.latency_devices, options.latency_poll_s
    for step, stamped in ((2, True), (3, False)):
        what = "source change" if stamped else "the poll that read it"
        progress(f"modbus {step}/3: latency from {what} to decision, {m} devices polled every {poll_s:g} s ...")
        lat_load = ModbusLoad(f"bml{step}{int(time.time()) % 10000}", m, k, _free_ports(1), 30.0, tick_s=poll_s,
                              poll_s=poll_s, timestamp=stamped, anomaly_every=97, asset_type=ASSET_TYPE)  # fmt: skip
        lat = (await _modbus_run(lat_load, 15.0, tmp, f"latency{step}")).decision_latency_ms
        key = "change_to_decision" if stamped else "read_to_decision"
        figures |= {f"{key}_p50_ms": _p(lat, 50), f"{key}_p99_ms": _p(lat, 99), f"{key}_decisions": len(lat)}
        progress(f"    {len(lat)} decisions, p50 {_p(lat, 50)} ms, p99 {_p(lat, 99)} ms")
    figures["latency_poll_s"] = poll_s
    return figures


async def sparkplug_section(options: BenchOptions, tmp: Path, progress: Progress) -> dict[str, Any]:
    """Sparkplug B into the agent against plain JSON on the same broker, 20 metrics a message (`protocols_spb`)."""
    from edgeloop.bench.protocols_spb import bench_sparkplug  # protobuf is loaded only for this section

    devices = min(options.devices, 500)
    progress(f"sparkplug: {devices:,} devices x {options.registers} metrics, against JSON, 3 rounds ...")
    return await asyncio.to_thread(bench_sparkplug, options.broker, options.registers, 5.0, devices, 3, progress)


async def opcua_section(options: BenchOptions, tmp: Path, progress: Progress) -> dict[str, Any]:
    """OPC UA data changes through subscriptions into the agent (`protocols_opcua`)."""
    from edgeloop.bench.protocols_opcua import bench_opcua  # asyncua is loaded only for this section

    devices = min(options.devices, 100)
    progress(
        f"opcua: {devices:,} devices x {options.registers} variables at 6 Hz, then half of them for the latency ..."
    )
    return await asyncio.to_thread(bench_opcua, devices, options.registers, 6.0, 10.0)


#: one section per protocol
SECTIONS: dict[str, Section] = {
    "mqtt": mqtt_section,
    "modbus": modbus_section,
    "sparkplug": sparkplug_section,
    "opcua": opcua_section,
}


async def run(options: BenchOptions, only: list[str], progress: Progress) -> dict[str, dict[str, Any]]:
    results: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="edgeloop-bench-protocols-") as tmp:
        for name in only:
            results[name] = await SECTIONS[name](options, Path(tmp), progress)
    return results


def protocols(
    only: list[str] | None = None,
    devices: int = 1000,
    registers: int = 20,
    seconds: float = 20.0,
    broker: str | None = None,
    json_out: bool = False,
) -> int:
    """Run the sections (all by default) and print their figures (tables, or one JSON line); the exit code."""
    console = Console(stderr=True)
    names = only or list(SECTIONS)
    unknown = [n for n in names if n not in SECTIONS]
    if unknown:
        console.print(f"[red]error:[/red] no bench section for {unknown}; known: {', '.join(SECTIONS)}")
        return 2

    def main(url: str) -> dict[str, dict[str, Any]]:
        options = BenchOptions(devices, registers, seconds, broker=url)
        return asyncio.run(run(options, names, console.print))

    if broker:
        results = main(broker)
    else:
        with EmbeddedBroker() as embedded:
            results = main(embedded.url)
    if json_out:
        sys.stdout.write(orjson.dumps(results).decode() + "\n")
        return 0
    for name, figures in results.items():
        table = Table(title=f"edgeloop bench protocols: {name}")
        table.add_column("figure")
        table.add_column("value", justify="right")
        for key, value in figures.items():
            table.add_row(key, f"{value:,}" if isinstance(value, int | float) else str(value))
        Console().print(table)
    return 0
