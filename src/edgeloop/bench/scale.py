"""`edgeloop bench scale`: many sites over A agent processes on a three-node broker cluster, in one run.

For each A (default 1, 2, 4): the S sites are dealt round-robin to A agent processes
(`edgeloop.bench.scale_worker`, each running its sites' agents in one event loop, connected to every node of the
cluster for fail-over); once every agent knows its devices (retained metas), one publisher process per site
(`bench.loadgen`, QoS 0, with bursts of anomalous values) publishes for `seconds`. Printed per A:

- the aggregate points/s the agents took in (all points over the span from the first to the last point);
- p50 and p99 decision latency (publication to decision; at saturation it includes the queueing);
- the cluster's own rate in the same run: the publishers' sending rate, and the messages the nodes received
  (from clients and routes, summed over the nodes, from their monitoring port);
- then one more phase at the largest A, at QoS 1 end to end with persistent sessions, in which the node
  leading JetStream's meta layer is SIGKILLed halfway and restarted 2 s later: what was published and never
  stored (`lost`, counted on the stored (device, data time) pairs, so QoS 1 repeats do not hide a loss).

On a 2-core machine scaling past two processes is not expected: the publishers, the three brokers and the
agents share the two cores.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import orjson
from rich.console import Console
from rich.table import Table

from edgeloop.bench.loadgen import Load, bench_economics, metas, start_load
from edgeloop.io.cluster import BrokerCluster
from edgeloop.io.mqtt import MqttClient
from edgeloop.model import DeviceMeta

#: messages/s per publisher in the phase that kills a node (QoS 1 through JetStream R3 is the cluster's slow path)
KILL_RATE = 1000.0


@dataclass(slots=True)
class ScalePhase:
    agents: int
    sites: int
    devices_per_site: int
    seconds: float
    published: int
    points: int
    points_per_s: float
    published_msgs_per_s: float
    broker_in_msgs_per_s: float
    decisions: int
    p50_decision_latency_ms: float | None
    p99_decision_latency_ms: float | None
    quarantined: int
    store: str = "sqlite"
    qos: int = 0
    killed_node: str | None = None  # SIGKILLed mid-run and restarted (its name, and whether it led JetStream's meta)
    distinct_points: int = 0  # stored, each (device, data time) once
    lost: int = 0  # published and never stored
    longest_pause_s: float = 0.0  # the longest an agent process went without a point while the publishers published
    longest_offline_s: float = 0.0  # the longest an agent was without a connection to the cluster


def site_names(sites: int, tag: str = "") -> list[str]:
    """The sites of one phase: their own ids, so that phases sharing a PostgreSQL store do not mix."""
    return [f"scale{tag}-{i:03d}" for i in range(sites)]


async def retain_metas(url: str, site_metas: Iterable[tuple[str, DeviceMeta]], clear: bool = False) -> None:
    """Publish each (site, meta) retained, so agents started later know the devices; `clear` removes them."""
    async with MqttClient(url, f"edgeloop-bench-metas-{os.getpid()}") as client:
        for site, meta in site_metas:
            payload = b"" if clear else orjson.dumps(meta.to_json())
            client.publish(f"edgeloop/v1/{site}/{meta.device}/meta", payload, qos=1, retain=True)
        await client.flush(timeout=60)


async def _retained_metas(url: str, sites: list[str], devices: int, clear: bool = False) -> None:
    await retain_metas(url, ((site, m) for site in sites for m in metas(Load(url, site, devices, 1, 0.0))), clear)


def start_worker(spec: dict[str, Any]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "edgeloop.bench.scale_worker", orjson.dumps(spec).decode()],
        stdout=subprocess.PIPE,
        stdin=subprocess.PIPE,  # the bench tells it how many points to expect (see scale_worker)
    )


def start_workers(specs: Iterable[dict[str, Any]], workers: list[subprocess.Popen[bytes]]) -> None:
    """Start an agent process per spec, adding each to `workers` at once (for the caller's `stop_all` if this
    fails), and wait until every one has said `ready`."""
    for spec in specs:
        workers.append(start_worker(spec))
    for w in workers:
        assert w.stdout is not None
        line = w.stdout.readline().decode().strip()
        if line != "ready":
            raise RuntimeError(f"an agent process did not get ready: {line or 'it exited'}")


def stop_all(workers: list[subprocess.Popen[bytes]], publishers: Iterable[Any]) -> None:
    """Kill what still runs of a phase's agent processes and publisher processes (a failed or interrupted run)."""
    for w in workers:
        if w.poll() is None:
            w.kill()
            w.wait(10)
    for proc in publishers:
        if proc.is_alive():
            proc.kill()
        proc.join(5)


class NodeKiller:
    """SIGKILLs the node leading JetStream's meta layer (the worst one to lose) at `at_s` into the run and starts
    it again `down_s` later. Driven from the main thread (`step`): a node started from a worker thread would be
    stopped when that thread ends (the broker asks Linux to stop it with its parent thread)."""

    def __init__(self, cluster: BrokerCluster, at_s: float, down_s: float) -> None:
        self.cluster, self.at_s, self.down_s = cluster, at_s, down_s
        self.started = time.monotonic()
        self.victim: int | None = None
        self.killed: str | None = None
        self.restarted = False

    def step(self) -> None:
        elapsed = time.monotonic() - self.started
        if self.victim is None and elapsed >= self.at_s:
            leader = self.cluster.meta_leader()
            self.victim = 1 if leader is None else leader
            self.cluster.kill(self.victim)
            self.killed = self.cluster.nodes[self.victim].name + (" (meta leader)" if leader == self.victim else "")
        elif self.victim is not None and not self.restarted and elapsed >= self.at_s + self.down_s:
            self.cluster.restart(self.victim, wait=False)
            self.restarted = True


def _broker_rate(
    cluster: BrokerCluster, publishers: list[Any], limit_s: float, killer: NodeKiller | None = None
) -> float:
    """The cluster's received messages/s while the publishers publish: the nodes' counters sampled every 0.25 s
    (a restarted node's from 0 again), over the span in which they grew by more than the cluster's own
    background traffic. Drives `killer` meanwhile."""
    last = cluster.messages_in()
    samples = [(time.monotonic(), 0)]
    deadline = time.monotonic() + limit_s
    while any(p.is_alive() for p in publishers) and time.monotonic() < deadline:
        time.sleep(0.25)
        if killer is not None:
            killer.step()
        now = cluster.messages_in()
        grew = 0
        for before, after in zip(last, now, strict=True):
            if after is not None:
                grew += after - before if before is not None and after >= before else after
        last = [a if a is not None else b for a, b in zip(now, last, strict=True)]
        samples.append((time.monotonic(), samples[-1][1] + grew))
    busy = [i for i in range(1, len(samples)) if samples[i][1] - samples[i - 1][1] > 50]
    if not busy:
        return 0.0
    (t0, n0), (t1, n1) = samples[busy[0] - 1], samples[busy[-1]]
    return (n1 - n0) / max(t1 - t0, 1e-9)


def run_phase(
    cluster: BrokerCluster,
    sites: list[str],
    devices: int,
    agents: int,
    seconds: float,
    rate: float,
    root: Path,
    store: str | None = None,
    kill: bool = False,
) -> ScalePhase:
    """One phase; with `kill`, at QoS 1 end to end (persistent sessions), the node leading JetStream's meta layer
    (the worst one to lose) is SIGKILLed halfway through the publishing and restarted 2 s later."""
    economics = str(bench_economics(root / "economics.yaml"))
    groups = [sites[j::agents] for j in range(agents)]
    workers: list[subprocess.Popen[bytes]] = []
    loads: list[Any] = []
    asyncio.run(_retained_metas(cluster.url, sites, devices))
    try:
        specs = [{"url": cluster.url, "sites": group, "devices": devices, "economics": economics, "store": store,
                  "data_dir": str(root / f"a{agents}-w{j}-{int(kill)}"), "deadline_s": seconds + 240,
                  "qos": 1 if kill else 0, "stall_s": 40.0 if kill else 3.0}
                 for j, group in enumerate(g for g in groups if g)]  # fmt: skip
        start_workers(specs, workers)
        per_publisher = rate or (KILL_RATE if kill else 0.0)
        for i, site in enumerate(sites):
            load = Load(cluster.url, site, devices, 1, seconds, rate=per_publisher, anomaly_every=97,
                        seed=1000 * agents + 100 * kill + i, qos=1 if kill else 0)  # fmt: skip
            loads.append(start_load(load))
        killer = NodeKiller(cluster, 1.0 + seconds / 2, 2.0) if kill else None
        broker_in = _broker_rate(cluster, [proc for proc, _ in loads], seconds + 120, killer)
        sent, sending = 0, 0.0
        per_site: dict[str, int] = {}
        for site, (proc, result) in zip(sites, loads, strict=True):
            n, took = result.get(timeout=60)
            sent, sending, per_site[site] = sent + n, sending + n / max(took, 1e-9), n
            proc.join(10)
        results = []
        for w, group in zip(workers, (g for g in groups if g), strict=True):
            expect = orjson.dumps({"expect_points": sum(per_site[s] for s in group)}) + b"\n"  # K=1: a point each
            out, _ = w.communicate(expect, timeout=seconds + 240)
            results.append(orjson.loads(out.decode().strip().splitlines()[-1]))
        if killer is not None:
            if not killer.restarted:
                killer.started -= 3600  # the publishers were done before its time: kill and restart it now
                killer.step()
                killer.step()
            cluster.wait_healthy(range(len(cluster.nodes)))
    finally:
        stop_all(workers, (proc for proc, _ in loads))
        with contextlib.suppress(Exception):  # leave no retained metas behind on the cluster
            asyncio.run(_retained_metas(cluster.url, sites, devices, clear=True))
    errors = [r["error"] for r in results if "error" in r]
    if errors:
        raise RuntimeError("; ".join(errors))
    points = sum(int(r["points"]) for r in results)
    first = min(float(r["first"]) for r in results if r["first"])
    last = max(float(r["last"]) for r in results)
    latency = [1000.0 * x for r in results for x in r["latency_s"]]
    return ScalePhase(
        agents=agents,
        sites=len(sites),
        devices_per_site=devices,
        seconds=seconds,
        published=sent,
        points=points,
        points_per_s=round(points / max(last - first, 1e-9), 1),
        published_msgs_per_s=round(sending, 1),
        broker_in_msgs_per_s=round(broker_in, 1),
        decisions=sum(int(r["decisions"]) for r in results),
        p50_decision_latency_ms=round(float(np.percentile(latency, 50)), 1) if latency else None,
        p99_decision_latency_ms=round(float(np.percentile(latency, 99)), 1) if latency else None,
        quarantined=sum(int(r["quarantined"]) for r in results),
        store="postgresql" if store else "sqlite",
        qos=1 if kill else 0,
        killed_node=None if killer is None else killer.killed,
        distinct_points=(distinct := sum(int(r["distinct"]) for r in results)),
        lost=sent - distinct,
        longest_pause_s=max(float(r.get("longest_pause_s", 0.0)) for r in results),
        longest_offline_s=max(float(r.get("longest_offline_s", 0.0)) for r in results),
    )


def scale(
    sites: int = 4,
    devices: int = 100,
    agents: tuple[int, ...] = (1, 2, 4),
    seconds: float = 10.0,
    rate: float = 0.0,
    json_out: bool = False,
    store: str | None = None,
    kill: bool = True,
    ack_wait_s: float | None = None,
) -> int:
    """Run the phases and print their figures (a table, or one JSON line); the exit code. With `store`
    (postgresql://...) the agents store there; with `kill`, one more phase at the largest A kills a node."""
    console = Console(stderr=True)
    phases: list[ScalePhase] = []
    with contextlib.ExitStack() as stack:
        if store:  # a schema of its own, dropped after the run: the database may hold real sites
            from edgeloop.io.store.postgres.schema import scratch_schema  # psycopg only when asked for

            store = stack.enter_context(scratch_schema(store, "edgeloop_scale"))
        tmp = stack.enter_context(tempfile.TemporaryDirectory(prefix="edgeloop-scale-"))
        cluster = stack.enter_context(BrokerCluster(3, ack_wait_s=ack_wait_s))
        console.print(f"cluster of 3 nodes up: {cluster.url}" + (f", ack wait {ack_wait_s:g} s" if ack_wait_s else ""))
        for a in agents:
            console.print(f"A={a}: {sites} sites x {devices} devices over {min(a, sites)} agent processes, "
                          f"{sites} publishers for {seconds:g} s ...")  # fmt: skip
            phase = run_phase(cluster, site_names(sites, f"a{a}"), devices, a, seconds, rate, Path(tmp), store)
            console.print(f"    {phase.points_per_s:,.0f} points/s, p99 {phase.p99_decision_latency_ms} ms, "
                          f"cluster in {phase.broker_in_msgs_per_s:,.0f} msgs/s")  # fmt: skip
            phases.append(phase)
        if kill:
            a = max(agents)
            console.print(f"A={a}, QoS 1: a node SIGKILLed halfway and restarted 2 s later ...")
            names = site_names(sites, f"a{a}k")
            phase = run_phase(cluster, names, devices, a, seconds, rate, Path(tmp), store, kill=True)
            console.print(f"    killed {phase.killed_node}: {phase.published:,} published, "
                          f"{phase.distinct_points:,} stored, {phase.lost:,} lost; agents without a connection "
                          f"for up to {phase.longest_offline_s:g} s, without a point for up to "
                          f"{phase.longest_pause_s:g} s")  # fmt: skip
            phases.append(phase)
    doc = {"bench": "scale", "broker": "nats cluster x3", "cores": os.cpu_count(), "ack_wait_s": ack_wait_s,
           "phases": [asdict(p) for p in phases]}  # fmt: skip
    if json_out:
        sys.stdout.write(orjson.dumps(doc).decode() + "\n")
        return 0
    table = Table(title=f"edgeloop bench scale ({sites} sites x {devices} devices, 3-node NATS cluster)")
    columns = ("agents", "QoS", "points/s", "published msgs/s", "cluster in msgs/s", "decisions", "p50 ms", "p99 ms",
               "node killed", "lost", "longest pause s")  # fmt: skip
    for column in columns:
        table.add_column(column, justify="right")
    for p in phases:
        table.add_row(str(p.agents), str(p.qos), f"{p.points_per_s:,.0f}", f"{p.published_msgs_per_s:,.0f}",
                      f"{p.broker_in_msgs_per_s:,.0f}", str(p.decisions), str(p.p50_decision_latency_ms),
                      str(p.p99_decision_latency_ms), p.killed_node or "-", f"{p.lost:,}",
                      f"{p.longest_pause_s:g}")  # fmt: skip
    Console().print(table)
    return 0
