"""The OPC UA figures of `edgeloop bench protocols`: data changes per second from a server's subscription into
the agent, and the delay from a value's change in the server (its SourceTimestamp) to the agent's decision.

The server runs in its own process (an asyncua server: `devices` objects of `metrics` Double variables, written
`rate` times per second each, with a burst of anomalous values now and then in the latency run); our
`OpcUaSource` browses it, subscribes to every variable, and feeds the agent in this process.
"""

from __future__ import annotations

import asyncio
import gc
import multiprocessing as mp
import socket
import tempfile
import time
import tracemalloc
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from asyncua import Server, ua

from edgeloop.agent.ledger_writer import LedgerWriter
from edgeloop.agent.service import make_learner, make_policy
from edgeloop.agent.site import SiteAgent
from edgeloop.bench.loadgen import ASSET_TYPE, bench_economics, device_id
from edgeloop.io.opcua import OpcUaConfig, OpcUaSource
from edgeloop.io.store import SqliteStore
from edgeloop.settings import load_settings

TYPE = "BenchDeviceType"


async def _serve(
    url: str, devices: int, metrics: int, rate_hz: float, seconds: float, anomaly_every: int, go: Any, result: Any
) -> None:
    server = Server()
    await server.init()
    server.set_endpoint(url)
    server.set_security_policy([ua.SecurityPolicyType.NoSecurity])
    idx = await server.register_namespace("urn:edgeloop:bench")
    dtype = await server.nodes.base_object_type.add_object_type(idx, TYPE)
    folder = await server.nodes.objects.add_folder(idx, "Bench")
    nodes: list[list[ua.NodeId]] = []
    for d in range(devices):
        name = device_id(d)
        obj = await folder.add_object(ua.NodeId(name, idx), f"{idx}:{name}", objecttype=dtype.nodeid)
        await obj.add_property(ua.NodeId(f"{name}.AssetType", idx), "0:AssetType", ASSET_TYPE)
        row = []
        for j in range(metrics):
            var = await obj.add_variable(ua.NodeId(f"{name}.m{j:02d}", idx), f"{idx}:m{j:02d}", 100.0)
            await var.add_property(ua.NodeId(f"{name}.m{j:02d}.EURange", idx), "0:EURange", ua.Range(-1e6, 1e6))
            row.append(var.nodeid)
        nodes.append(row)
    rng = np.random.default_rng(0)
    base = rng.normal(100.0, 5.0, size=(devices, metrics))
    writes = 0
    bursting = np.zeros(devices, dtype=np.int64)
    async with server:
        while not go.is_set():  # the source connects, browses and subscribes first
            await asyncio.sleep(0.05)
        aspace = server.iserver.aspace
        start = time.perf_counter()
        tick = 0
        while time.perf_counter() - start < seconds:
            noise = rng.normal(0.0, 1.0, size=(devices, metrics))
            for d in range(devices):
                # each device's values stamped as they are written: a tick's writes take a while (the server
                # copies each value for its monitored item), and the device written last is not that much late
                stamp = datetime.now(UTC)
                values = base[d] + noise[d]
                n = tick * devices + d  # as `loadgen`: every n-th write of a device's values starts a burst of
                if anomaly_every and n % anomaly_every == anomaly_every - 1 and not bursting[d]:  # 6 on it
                    bursting[d] = 6
                if bursting[d]:
                    values = values + 400.0
                    bursting[d] -= 1
                for node, value in zip(nodes[d], values.tolist(), strict=True):
                    dv = ua.DataValue(ua.Variant(value, ua.VariantType.Double), SourceTimestamp=stamp)
                    await aspace.write_attribute_value(node, ua.AttributeIds.Value, dv)
                    writes += 1
                await asyncio.sleep(0)  # a write does not suspend: let the subscriptions publish between devices
            tick += 1
            ahead = tick / rate_hz - (time.perf_counter() - start)
            await asyncio.sleep(max(ahead, 0.0))
        result.put(writes)
        deadline = time.monotonic() + 60  # the last notifications go out; the bench clears `go` when it has them
        while go.is_set() and time.monotonic() < deadline:
            await asyncio.sleep(0.05)


def _main(args: tuple[Any, ...], result: mp.Queue[int]) -> None:
    asyncio.run(_serve(*args, result))


async def through_opcua(
    devices: int,
    metrics: int,
    rate_hz: float,
    seconds: float,
    data_dir: Path,
    anomaly_every: int = 0,
    held: bool = False,
) -> dict[str, Any]:
    """One run; with `held`, also the memory the source and the agent hold per series (tracemalloc: slow, so not
    in a run whose rate or latency counts)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        url = f"opc.tcp://127.0.0.1:{s.getsockname()[1]}/bench/"
    ctx = mp.get_context("spawn")
    result: mp.Queue[int] = ctx.Queue()
    go = ctx.Event()
    proc = ctx.Process(target=_main, args=((url, devices, metrics, rate_hz, seconds, anomaly_every, go), result),
                       daemon=True)  # fmt: skip
    proc.start()
    site = f"benchopc{int(time.time()) % 100000}"
    settings = load_settings(None, agent={"site": site, "autonomy": 0, "data_dir": data_dir, "batch_max": 20_000},
                             ledger={"economics": bench_economics(data_dir / "economics.yaml")})  # fmt: skip
    cfg = settings.agent
    store = SqliteStore(cfg.db_path, cfg.site)
    config = OpcUaConfig(url, browse_folder="Bench", browse_type=TYPE, sampling_ms=0.0, publish_ms=50.0,
                         queue_size=100)  # fmt: skip
    if held:
        gc.collect()
        tracemalloc.start()
    try:
        source = None
        deadline = time.monotonic() + 120  # the server process takes a while to build its address space
        while source is None and time.monotonic() < deadline:
            try:
                source = OpcUaSource(config, site)
                await source.__aenter__()
            except Exception:  # not up yet: refused, or still building
                source = None
                await asyncio.sleep(0.5)
        if source is None:
            raise RuntimeError(f"the bench's OPC UA server did not come up at {url}")
        agent = SiteAgent(
            cfg, source, store, make_learner(cfg), make_policy(cfg), LedgerWriter.open(store, settings.ledger)
        )
        stop = asyncio.Event()
        task = asyncio.create_task(agent.run(stop))
        await asyncio.sleep(0.5)  # the metas are taken before the data starts
        go.set()
        first = last = 0.0
        seen = 0
        writes = 0
        deadline = time.monotonic() + seconds + 120
        # the server process puts its count when it has written everything, and serves on until `go` is cleared
        while (not writes or time.perf_counter() - last < 1.0) and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
            if agent.stats.points != seen:
                first = first or time.perf_counter()
                seen, last = agent.stats.points, time.perf_counter()
            if not writes and not result.empty():
                writes = result.get()
        stop.set()
        await task
        if held:
            gc.collect()
            held_bytes = tracemalloc.get_traced_memory()[0] / max(agent.registry.n_series, 1)
        await source.__aexit__(None, None, None)  # before the server goes: its going is no loss of this run
    finally:
        if held:
            tracemalloc.stop()
        go.clear()  # the server may stop
        await asyncio.to_thread(store.close)
        proc.join(5)
    latency = [1000.0 * x for x in agent.stats.decision_latency_s]
    return {
        "server_writes": writes,
        "changes_received": source.changes,
        "points": agent.stats.points,
        "changes_per_s": round(agent.stats.points / max(last - first, 1e-9), 1),
        "decisions": len(latency),
        "p50_decision_latency_ms": round(float(np.percentile(latency, 50)), 2) if latency else None,
        "p99_decision_latency_ms": round(float(np.percentile(latency, 99)), 2) if latency else None,
        "quarantined": agent.stats.quarantined,
        **({"held_bytes_per_series": round(held_bytes, 1)} if held else {}),
    }


def bench_opcua(devices: int = 100, metrics: int = 20, rate_hz: float = 6.0, seconds: float = 10.0) -> dict[str, Any]:
    """The figures as a dict, for `edgeloop bench protocols`: data changes/s at the given load (6 Hz: 12,000
    changes/s offered by 100 devices of 20 variables), then the change-to-decision delay at half that load (half
    the devices) with anomaly bursts, as the other protocols measure it (a p99 at saturation measures the queue,
    not the path); that run lasts at least 20 s, for the learners to warm up and decide often enough for a p99.
    Last, a short run at 1 Hz for the memory held per series."""
    half = max(devices // 2, 1)
    with tempfile.TemporaryDirectory(prefix="edgeloop-bench-opcua-") as tmp:
        rate = asyncio.run(through_opcua(devices, metrics, rate_hz, seconds, Path(tmp) / "rate"))
        latency = asyncio.run(
            through_opcua(half, metrics, rate_hz, max(seconds, 20.0), Path(tmp) / "lat", anomaly_every=97)
        )
        memory = asyncio.run(through_opcua(devices, metrics, 1.0, 2.0, Path(tmp) / "mem", held=True))
    keep = ("decisions", "p50_decision_latency_ms", "p99_decision_latency_ms")
    return {"devices": devices, "metrics": metrics, "rate_hz": rate_hz, "offered_changes_per_s":
            devices * metrics * rate_hz, **{k: v for k, v in rate.items() if k not in keep},
            "latency_devices": half, "latency_changes_per_s": latency["changes_per_s"], **{k: latency[k] for k in keep},
            "latency_run_quarantined": latency["quarantined"],
            "held_bytes_per_series": memory["held_bytes_per_series"]}  # fmt: skip
