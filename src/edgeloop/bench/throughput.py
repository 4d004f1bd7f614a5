"""`edgeloop bench throughput`: the broker's own rate and the agent's end-to-end rate, measured in one run.

1. broker only: the load generator (its own process) publishes for S seconds; a plain subscriber counts.
2. agent: the same load into a real site agent (decode, validate, score, store in SQLite).
   Phases 1 and 2 alternate for `rounds` rounds; the rates reported are each phase's median, and the ratio is
   theirs. On a shared 2-core machine the broker-only rate alone varies up to twofold between rounds (the generator,
   the broker and the receiver compete for the cores), so one pair of phases says more about the neighbours
   than about the agent.
3. memory: one pass over every series into a fresh agent, in a process of its own; its RSS growth per series.
4. latency: the load at half the agent's measured rate, with bursts of anomalous values; the delay from a
   message's publication to the decision it completes, p50 and p99.
"""

from __future__ import annotations

import asyncio
import gc
import multiprocessing as mp
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import psutil
from rich.console import Console
from rich.table import Table

from edgeloop.agent.service import open_agent
from edgeloop.agent.site import SiteAgent
from edgeloop.bench.loadgen import Load, MetasRefusedError, bench_economics, publish_metas, start_load
from edgeloop.io.broker import EmbeddedBroker
from edgeloop.io.mqtt import MqttClient
from edgeloop.io.topics import Channel, site_filter
from edgeloop.settings import load_settings

#: messages each latency-phase device gets: twice the default learner's warm-up of 60 points, so bursts decide
LATENCY_MESSAGES_PER_DEVICE = 120
STALL_S = 3.0  # the receiver is done when nothing new arrived for this long after the publisher finished


@dataclass(slots=True)
class ThroughputResult:
    broker: str
    metrics_per_message: int
    series: int
    seconds: float
    broker_msgs_per_s: float
    agent_msgs_per_s: float
    agent_points_per_s: float
    ratio: float
    agent_cpu_percent: float
    rss_bytes_per_series: float
    p50_decision_latency_ms: float
    p99_decision_latency_ms: float
    latency_rate_msgs_per_s: float
    decisions_measured: int
    published_broker_phase: int
    received_broker_phase: int
    published_agent_phase: int
    received_agent_phase: int
    rounds: int = 1
    broker_msgs_per_s_rounds: tuple[float, ...] = ()
    agent_msgs_per_s_rounds: tuple[float, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


async def _until_quiet(count: Any, proc: Any, limit: float) -> tuple[float, float, float]:
    """Wait until the publisher has exited and `count()` has stopped growing.

    Returns the times of the first and last change, and this process's CPU seconds between them."""
    first = last = 0.0
    cpu_first = cpu_last = 0.0
    seen = 0
    deadline = time.monotonic() + limit
    me = psutil.Process()  # once: making one reads /proc, and this loop runs in the measured agent's process
    while time.monotonic() < deadline:
        await asyncio.sleep(0.002)
        now_count = count()
        if now_count != seen:
            times = me.cpu_times()
            if seen == 0:
                first, cpu_first = time.perf_counter(), times.user + times.system
            seen, last, cpu_last = now_count, time.perf_counter(), times.user + times.system
        elif not proc.is_alive() and seen and time.perf_counter() - last > STALL_S:
            break
    return first, last, cpu_last - cpu_first


async def broker_only(url: str, load: Load) -> tuple[float, int, int]:
    async with MqttClient(url, "edgeloop-bench-sub") as sub:
        await sub.subscribe(site_filter(load.site, Channel.TELEMETRY))
        await asyncio.sleep(0.2)
        proc, result = start_load(load)
        received = [0]

        def count() -> int:
            received[0] += len(sub.drain(1_000_000))
            return received[0]

        first, last, _ = await _until_quiet(count, proc, load.seconds + 120)
        proc.join(10)
        sent, _ = result.get(timeout=10)
        return received[0] / max(last - first, 1e-9), sent, received[0]


async def through_agent(
    url: str, load: Load, data_dir: Path, store_url: str | None = None
) -> tuple[SiteAgent, float, float, int, int, float]:
    """Returns the agent, msgs/s, points/s, sent, received and CPU% of this process during the run. The agent
    stores in SQLite in `data_dir`, or in the PostgreSQL store at `store_url`."""
    settings = load_settings(
        None,
        # acknowledged on arrival: holding acks until stored, a burst of QoS 1 metas overflows Mosquitto's default
        # window (20 in flight, 1,000 queued) and it drops the rest (docs/topics.md); this bench measures speed
        broker={"url": url, "ack": "received"},
        agent={"site": load.site, "autonomy": 0, "data_dir": data_dir, "batch_max": 20_000},
        ledger={"economics": bench_economics(data_dir / "economics.yaml")},
        store={"url": store_url} if store_url else {},
    )
    async with open_agent(settings, url) as agent:
        stop = asyncio.Event()
        task = asyncio.create_task(agent.run(stop))
        async with MqttClient(url, "edgeloop-bench-meta") as meta_client:
            await asyncio.sleep(0.2)
            try:
                await publish_metas(load, meta_client, lambda: len(agent.registry))
            except MetasRefusedError as exc:
                reasons = ", ".join(f"{n} x {r}" for r, n in agent.stats.quarantine_reasons.items()) or "none"
                raise RuntimeError(f"{exc}; quarantined: {reasons}") from exc
        proc, result = start_load(load)
        first, last, cpu_s = await _until_quiet(lambda: agent.stats.messages, proc, load.seconds + 300)
        flush_start = time.perf_counter()
        await asyncio.to_thread(agent.store.flush)  # stored means committed: count what was still queued
        done = last + (time.perf_counter() - flush_start)
        proc.join(10)
        sent, _ = result.get(timeout=10)
        stop.set()
        await task
        elapsed = max(done - first, 1e-9)
        cpu = 100.0 * cpu_s / max(last - first, 1e-9)
        return agent, agent.stats.messages / elapsed, agent.stats.points / elapsed, sent, agent.stats.messages, cpu


async def memory_per_series(url: str, load: Load, data_dir: Path) -> float:
    """Agent RSS growth per series after one pass of messages over `load.devices` devices."""
    gc.collect()
    before = psutil.Process().memory_info().rss
    agent, *_ = await through_agent(url, load, data_dir)
    gc.collect()
    after = psutil.Process().memory_info().rss
    series = agent.registry.n_series
    return (after - before) / max(series, 1)


def _memory_main(url: str, load: Load, data_dir: Path, result: mp.Queue[float]) -> None:
    result.put(asyncio.run(memory_per_series(url, load, data_dir)))


def memory_in_fresh_process(url: str, load: Load, data_dir: Path) -> float:
    """`memory_per_series` in a process of its own. Measured in the bench's process after the rate phases, the
    growth could come out negative (-25 bytes a series): the agent reused memory the earlier phases had freed."""
    ctx = mp.get_context("spawn")
    result: mp.Queue[float] = ctx.Queue()
    proc = ctx.Process(target=_memory_main, args=(url, load, data_dir, result))  # not a daemon: it starts the load
    proc.start()
    try:
        return result.get(timeout=load.seconds + 600)
    finally:
        proc.join(30)


async def decision_latency(url: str, load: Load, data_dir: Path) -> tuple[list[float], float]:
    agent, msgs_per_s, *_ = await through_agent(url, load, data_dir)
    return [1000.0 * x for x in agent.stats.decision_latency_s], msgs_per_s


async def run(
    url: str,
    k: int,
    seconds: float,
    series: int,
    progress: Any = print,
    rounds: int = 3,
    latency_s: float = 10.0,
    rate: float = 0.0,
) -> ThroughputResult:
    """The four phases; the latency phase runs `latency_s` (at least `seconds`), long enough for a p99, and long
    enough for each of its devices to get `LATENCY_MESSAGES_PER_DEVICE` messages.

    Phases 1 and 2 publish as fast as the generator can (`rate` 0) or at `rate` messages/s. At full speed a
    default Mosquitto drops QoS 0 messages for a subscriber with 1,000 packets queued, so what the agent received
    can fall short of what was sent; at a rate the agent keeps up with, nothing is dropped."""
    devices = max(1, series // k)
    broker_rates: list[float] = []
    agent_rates: list[tuple[float, float, float]] = []  # msgs/s, points/s, CPU %
    sent_b = recv_b = sent_a = recv_a = 0
    with tempfile.TemporaryDirectory(prefix="edgeloop-bench-") as tmp:
        site = f"bench{int(time.time()) % 100000}"
        for r in range(rounds):
            step = f"round {r + 1}/{rounds}" if rounds > 1 else ""
            progress(f"1/4 broker only {step}: {seconds:g} s of K={k} messages over {devices:,} devices ...")
            rate, sent, recv = await broker_only(url, Load(url, f"{site}b{r}", devices, k, seconds, rate=rate))
            broker_rates.append(rate)
            sent_b, recv_b = sent_b + sent, recv_b + recv
            progress(f"    {rate:,.0f} msgs/s received ({recv:,} of {sent:,})")
            progress(f"2/4 agent end to end (decode, score, store) {step} ...")
            load = Load(url, f"{site}a{r}", devices, k, seconds, rate=rate)
            _agent, msgs, points, sent, recv, cpu = await through_agent(url, load, Path(tmp) / f"a{r}")
            del _agent
            agent_rates.append((msgs, points, cpu))
            sent_a, recv_a = sent_a + sent, recv_a + recv
            progress(f"    {msgs:,.0f} msgs/s, {points:,.0f} points/s ({recv:,} of {sent:,}), CPU {cpu:.0f}%")
        broker_rate = float(np.median(broker_rates))
        msgs, points, cpu = (float(np.median([a[i] for a in agent_rates])) for i in range(3))
        if rounds > 1:
            progress(f"    medians: broker only {broker_rate:,.0f} msgs/s, agent {msgs:,.0f} msgs/s")
        progress(f"3/4 memory: one pass over {devices:,} devices x {k} metrics ...")
        mem_load = Load(url, site + "m", devices, k, 3600.0, max_messages=devices)
        rss = await asyncio.to_thread(memory_in_fresh_process, url, mem_load, Path(tmp) / "m")
        progress(f"    {rss:,.0f} bytes of RSS per series")
        lat_devices = min(devices, 1000)
        rate = max(msgs / 2, 100.0)
        # every device must get past its learner's warm-up before a burst can decide anything: at 3 s and half of
        # 7,600 msgs/s, 200 devices got 57 messages each, under the 60 of the warm-up, and CI measured 0 decisions
        lat_s = max(seconds, latency_s, LATENCY_MESSAGES_PER_DEVICE * lat_devices / rate)
        progress(
            f"4/4 latency: {lat_s:.0f} s at {rate:,.0f} msgs/s (half the agent's rate), {lat_devices} devices with "
            "anomaly bursts ..."
        )
        lat_load = Load(url, site + "l", lat_devices, k, lat_s, rate=rate, anomaly_every=97)
        lat, _ = await decision_latency(url, lat_load, Path(tmp) / "l")
        p50 = float(np.percentile(lat, 50)) if lat else float("nan")
        p99 = float(np.percentile(lat, 99)) if lat else float("nan")
        progress(f"    {len(lat)} decisions, p50 {p50:.1f} ms, p99 {p99:.1f} ms")
    return ThroughputResult(
        broker=url,
        metrics_per_message=k,
        series=devices * k,
        seconds=seconds,
        broker_msgs_per_s=round(broker_rate, 1),
        agent_msgs_per_s=round(msgs, 1),
        agent_points_per_s=round(points, 1),
        ratio=round(msgs / broker_rate, 3) if broker_rate else 0.0,
        agent_cpu_percent=round(cpu, 1),
        rss_bytes_per_series=round(rss, 1),
        p50_decision_latency_ms=round(p50, 2),
        p99_decision_latency_ms=round(p99, 2),
        latency_rate_msgs_per_s=round(rate, 1),
        decisions_measured=len(lat),
        published_broker_phase=sent_b,
        received_broker_phase=recv_b,
        published_agent_phase=sent_a,
        received_agent_phase=recv_a,
        rounds=rounds,
        broker_msgs_per_s_rounds=tuple(round(x, 1) for x in broker_rates),
        agent_msgs_per_s_rounds=tuple(round(a[0], 1) for a in agent_rates),
    )


def throughput(
    broker: str | None = None,
    metrics_per_message: int = 1,
    seconds: float = 10.0,
    series: int = 100_000,
    json_out: bool = False,
    rounds: int = 3,
) -> int:
    """Run the throughput bench and print its figures (a table, or one JSON line); the exit code, always 0."""
    console = Console(stderr=True)

    def progress(text: str) -> None:
        console.print(text)

    async def main(url: str) -> ThroughputResult:
        return await run(url, metrics_per_message, seconds, series, progress, rounds)

    if broker:
        result = asyncio.run(main(broker))
    else:
        with EmbeddedBroker() as embedded:
            result = asyncio.run(main(embedded.url))
    if json_out:
        sys.stdout.write(orjson.dumps(result.as_dict()).decode() + "\n")
        return 0
    table = Table(title=f"edgeloop bench throughput (K={metrics_per_message}, {result.series:,} series, QoS 0)")
    table.add_column("figure")
    table.add_column("value", justify="right")
    for key, value in result.as_dict().items():
        shown = ", ".join(f"{v:,}" for v in value) if isinstance(value, tuple) else value
        table.add_row(key, f"{shown:,}" if isinstance(shown, int | float) else str(shown))
    Console().print(table)
    return 0
