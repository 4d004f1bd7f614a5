"""The Sparkplug B figures of `edgeloop bench protocols`: the agent's rate through our primary host next to its
rate on the plain JSON topics, in the same run, on the same broker, with the same load; and the delay from a
value's change at the edge node to the agent's decision.

1. JSON: `bench.throughput`'s agent phase (the load generator in its own process publishes v1 telemetry).
2. Sparkplug: the same devices born by NBIRTH and DBIRTH, then the same values as DDATA through aliases from a
   generator in its own process, into a `SparkplugHost` and the same agent.
   Phases 1 and 2 alternate for `rounds` rounds, and the figures are the medians: on a shared machine one phase's
   rate moves by a third from one run to the next, and a ratio of two single runs moves with it.
3. latency: the Sparkplug load at half the measured rate, with bursts of anomalous values; p50 and p99 from the
   DDATA's timestamp (stamped when published) to the decision.
"""

from __future__ import annotations

import asyncio
import gc
import multiprocessing as mp
import tempfile
import time
import tracemalloc
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from edgeloop.agent.ledger_writer import LedgerWriter
from edgeloop.agent.service import make_learner, make_policy
from edgeloop.agent.site import SiteAgent
from edgeloop.bench.loadgen import ASSET_TYPE, Load, bench_economics, device_id
from edgeloop.bench.throughput import _until_quiet, through_agent
from edgeloop.io.mqtt import MqttClient
from edgeloop.io.sparkplug import SparkplugHost, codec
from edgeloop.io.sparkplug.codec import BD_SEQ, DataType
from edgeloop.io.store import SqliteStore
from edgeloop.settings import load_settings

NODE = "bench-node"


@dataclass(slots=True)
class SparkplugBenchResult:
    broker: str
    metrics_per_message: int
    devices: int
    seconds: float
    json_points_per_s: float
    sparkplug_points_per_s: float
    ratio: float  # Sparkplug / JSON, target >= 0.7
    sparkplug_msgs_per_s: float
    sparkplug_cpu_percent: float
    #: memory the agent holds per series after one pass over the devices (tracemalloc, Python and numpy): RSS
    #: deltas within one process that ran other agents before are not a measure (they came out negative)
    held_bytes_per_series: float
    held_bytes_per_series_json: float
    p50_decision_latency_ms: float
    p99_decision_latency_ms: float  # target < 250
    latency_rate_msgs_per_s: float
    decisions_measured: int
    sent_json: int
    received_json: int
    sent_sparkplug: int
    received_sparkplug: int
    rejected_sparkplug: int
    rounds: int = 1
    json_points_per_s_rounds: tuple[float, ...] = ()
    sparkplug_points_per_s_rounds: tuple[float, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _births(load: Load) -> list[tuple[str, bytes]]:
    """NBIRTH (seq 0) and one DBIRTH per device (seq 1, 2, ...), the metrics m00.. with aliases 1.."""
    group, ms = load.site, int(time.time() * 1000)
    out = [(codec.topic(group, "NBIRTH", NODE),
            codec.payload(0, ms, [codec.metric(BD_SEQ, 0, DataType.INT64)]).SerializeToString())]  # fmt: skip
    props: dict[str, str | float] = {"engLow": -1e6, "engHigh": 1e6}
    for i in range(load.devices):
        metrics = [codec.metric("Properties/asset_type", ASSET_TYPE, DataType.STRING)]
        metrics += [
            codec.metric(f"m{j:02d}", 0.0, DataType.DOUBLE, j + 1, props) for j in range(load.metrics_per_message)
        ]
        body = codec.payload((i + 1) % 256, ms, metrics).SerializeToString()
        out.append((codec.topic(group, "DBIRTH", NODE, device_id(i)), body))
    return out


#: pre-encoded value rows per device: a DDATA is one of them with its timestamp and seq appended (protobuf merges
#: concatenated messages), so that the generator, not the host under test, is never the bottleneck
ROWS = 64


def _rows(load: Load) -> tuple[list[list[bytes]], list[list[bytes]]]:
    """Each device's normal and anomalous (+400) value rows, as serialized metric lists."""
    rng = np.random.default_rng(load.seed)
    k = load.metrics_per_message
    base = rng.normal(100.0, 5.0, size=(load.devices, k))
    noise = rng.normal(0.0, 1.0, size=(load.devices, ROWS, k))
    template = codec.payload(
        None, 0, [codec.metric(None, 0.0, DataType.DOUBLE, j + 1, with_type=False) for j in range(k)]
    )
    template.ClearField("timestamp")

    def encode(values: list[float]) -> bytes:
        for m, v in zip(template.metrics, values, strict=True):
            m.double_value = v
        return template.SerializeToString()

    normal = [[encode((base[d] + noise[d, r]).tolist()) for r in range(ROWS)] for d in range(load.devices)]
    anomalous = [[encode((base[d] + noise[d, r] + 400.0).tolist()) for r in range(ROWS)] for d in range(load.devices)]
    return normal, anomalous


async def _generate(load: Load, seq0: int) -> tuple[int, float]:
    """`loadgen._generate`'s load as DDATA: same devices, bursts and pacing; seq going on from `seq0`."""
    topics = [codec.topic(load.site, "DDATA", NODE, device_id(i)) for i in range(load.devices)]
    normal, anomalous = _rows(load)
    bursting = np.zeros(load.devices, dtype=np.int64)
    header = codec.Payload()
    async with MqttClient(load.url, f"edgeloop-spb-loadgen-{load.seed}", max_outbox=10_000_000) as client:
        start = time.perf_counter()
        stamp = time.time()
        n = 0
        while (n % 1024 or time.perf_counter() - start < load.seconds) and (
            load.max_messages == 0 or n < load.max_messages
        ):
            d = n % load.devices
            rows = normal
            if load.anomaly_every and n % load.anomaly_every == load.anomaly_every - 1 and bursting[d] == 0:
                bursting[d] = load.burst
            if bursting[d]:
                rows = anomalous
                bursting[d] -= 1
            if load.rate > 0 or n % 1024 == 0:
                stamp = time.time()
            header.seq = (seq0 + n) % 256
            header.timestamp = int(stamp * 1000)
            client.publish(topics[d], rows[d][(n // load.devices) % ROWS] + header.SerializeToString())
            if load.rate > 0:
                ahead = (n + 1) / load.rate - (time.perf_counter() - start)
                if ahead > 0.002:
                    await asyncio.sleep(ahead)
            elif n % 2000 == 1999:
                await asyncio.sleep(0)
            n += 1
        await client.flush(timeout=120)
        await _sent(client)
        return n, time.perf_counter() - start


async def _sent(client: MqttClient, timeout: float = 30.0) -> None:
    """Wait until the socket's send buffer is empty: QoS 0 has nothing to acknowledge, and what is still buffered
    when the process ends is lost (gmqtt keeps the transport private, hence the guarded look)."""
    transport = getattr(getattr(client._client, "_connection", None), "_transport", None)
    deadline = time.monotonic() + timeout
    while transport is not None and transport.get_write_buffer_size() and time.monotonic() < deadline:
        await asyncio.sleep(0.01)


def _main(load: Load, seq0: int, result: mp.Queue[tuple[int, float]]) -> None:
    result.put(asyncio.run(_generate(load, seq0)))


async def through_sparkplug(
    url: str, load: Load, data_dir: Path
) -> tuple[SiteAgent, float, float, int, int, float, int]:
    """The agent on a `SparkplugHost`: the agent, msgs/s, points/s, sent, received, CPU% and host rejections."""
    settings = load_settings(
        None,
        broker={"url": url},
        agent={"site": load.site, "autonomy": 0, "data_dir": data_dir, "batch_max": 20_000},
        ledger={"economics": bench_economics(data_dir / "economics.yaml")},
    )
    cfg = settings.agent
    store = SqliteStore(cfg.db_path, cfg.site)
    try:
        async with SparkplugHost(url, load.site, load.site, host_id=f"bench-{load.site}") as host:
            agent = SiteAgent(
                cfg, host, store, make_learner(cfg), make_policy(cfg), LedgerWriter.open(store, settings.ledger)
            )
            stop = asyncio.Event()
            task = asyncio.create_task(agent.run(stop))
            async with MqttClient(url, f"edgeloop-spb-births-{load.site}") as births:
                await asyncio.sleep(0.2)
                for i, (topic, body) in enumerate(_births(load)):
                    births.publish(topic, body, qos=1)
                    if i % 500 == 499:  # brokers queue only so many QoS 1 messages per subscriber
                        await births.flush(timeout=60)
                        while len(agent.registry) < i - 1:
                            await asyncio.sleep(0.01)
                await births.flush(timeout=60)
            deadline = time.monotonic() + 30
            while len(agent.registry) < load.devices and time.monotonic() < deadline:
                await asyncio.sleep(0.01)
            ctx = mp.get_context("spawn")
            result: mp.Queue[tuple[int, float]] = ctx.Queue()
            proc = ctx.Process(target=_main, args=(load, load.devices + 1, result), daemon=True)
            proc.start()
            first, last, cpu_s = await _until_quiet(lambda: agent.stats.messages, proc, load.seconds + 300)
            flush_start = time.perf_counter()
            await asyncio.to_thread(agent.store.flush)
            done = last + (time.perf_counter() - flush_start)
            proc.join(10)
            sent, _ = result.get(timeout=10)
            stop.set()
            await task
    finally:
        await asyncio.to_thread(store.close)
    elapsed = max(done - first, 1e-9)
    cpu = 100.0 * cpu_s / max(last - first, 1e-9)
    s = agent.stats
    return agent, s.messages / elapsed, s.points / elapsed, sent, s.messages, cpu, host.session.counters.rejected


async def run(
    url: str, k: int = 20, seconds: float = 5.0, devices: int = 500, progress: Any = print, rounds: int = 3
) -> SparkplugBenchResult:
    json_rates: list[float] = []
    spb_rates: list[tuple[float, float, float]] = []  # points/s, msgs/s, CPU %
    sent_j = recv_j = sent_s = recv_s = rejected = 0
    with tempfile.TemporaryDirectory(prefix="edgeloop-bench-spb-") as tmp:
        site = f"benchspb{int(time.time()) % 100000}"
        for r in range(rounds):
            step = f" (round {r + 1}/{rounds})" if rounds > 1 else ""
            progress(f"sparkplug 1/3 JSON on the v1 topics{step}: {seconds:g} s of K={k} messages over {devices:,} "
                     "devices ...")  # fmt: skip
            _a, _m, points, sent, recv, _c = await through_agent(
                url, Load(url, f"{site}j{r}", devices, k, seconds), Path(tmp) / f"j{r}"
            )
            del _a
            json_rates.append(points)
            sent_j, recv_j = sent_j + sent, recv_j + recv
            progress(f"    {points:,.0f} points/s ({recv:,} of {sent:,} messages)")
            offered = sent / seconds  # the JSON generator's rate: the same load, not a faster one
            progress(
                f"sparkplug 2/3 the same load as DDATA through the Sparkplug host{step} ({offered:,.0f} msgs/s) ..."
            )
            agent, msgs, points, sent, recv, cpu, bad = await through_sparkplug(
                url, Load(url, f"{site}s{r}", devices, k, seconds, rate=offered), Path(tmp) / f"s{r}"
            )
            del agent
            spb_rates.append((points, msgs, cpu))
            sent_s, recv_s, rejected = sent_s + sent, recv_s + recv, rejected + bad
            progress(f"    {points:,.0f} points/s ({recv:,} of {sent:,} messages, {bad} rejected), "
                     f"{points / max(json_rates[-1], 1e-9):.0%} of JSON")  # fmt: skip
        json_points = float(np.median(json_rates))
        points, msgs, cpu = (float(np.median([x[i] for x in spb_rates])) for i in range(3))
        if rounds > 1:
            progress(f"    medians: JSON {json_points:,.0f}, Sparkplug {points:,.0f} points/s "
                     f"({points / max(json_points, 1e-9):.0%})")  # fmt: skip
        progress("sparkplug memory: one pass over the devices each way ...")
        held_j = await _held_per_series(
            through_agent, url, Load(url, f"{site}mj", devices, k, 3600.0, max_messages=devices), Path(tmp) / "mj"
        )
        held_s = await _held_per_series(
            through_sparkplug, url, Load(url, f"{site}ms", devices, k, 3600.0, max_messages=devices), Path(tmp) / "ms"
        )
        progress(f"    {held_s:,.0f} bytes held per series through Sparkplug, {held_j:,.0f} on JSON")
        rate = max(msgs / 2, 100.0)
        lat_devices = min(devices, 1000)
        progress(f"sparkplug 3/3 latency at {rate:,.0f} msgs/s with anomaly bursts ...")
        lat_load = Load(url, site + "l", lat_devices, k, max(seconds, 5.0), rate=rate, anomaly_every=97)
        lat_agent, *_ = await through_sparkplug(url, lat_load, Path(tmp) / "l")
        lat = [1000.0 * x for x in lat_agent.stats.decision_latency_s]
        p50 = float(np.percentile(lat, 50)) if lat else float("nan")
        p99 = float(np.percentile(lat, 99)) if lat else float("nan")
        progress(f"    {len(lat)} decisions, p50 {p50:.1f} ms, p99 {p99:.1f} ms")
    return SparkplugBenchResult(
        broker=url, metrics_per_message=k, devices=devices, seconds=seconds,
        json_points_per_s=round(json_points, 1), sparkplug_points_per_s=round(points, 1),
        ratio=round(points / json_points, 3) if json_points else 0.0,
        sparkplug_msgs_per_s=round(msgs, 1), sparkplug_cpu_percent=round(cpu, 1),
        held_bytes_per_series=round(held_s, 1), held_bytes_per_series_json=round(held_j, 1),
        p50_decision_latency_ms=round(p50, 2), p99_decision_latency_ms=round(p99, 2),
        latency_rate_msgs_per_s=round(rate, 1), decisions_measured=len(lat),
        sent_json=sent_j, received_json=recv_j, sent_sparkplug=sent_s, received_sparkplug=recv_s,
        rejected_sparkplug=rejected, rounds=rounds,
        json_points_per_s_rounds=tuple(round(x, 1) for x in json_rates),
        sparkplug_points_per_s_rounds=tuple(round(x[0], 1) for x in spb_rates),
    )  # fmt: skip


async def _held_per_series(path: Any, url: str, load: Load, data_dir: Path) -> float:
    """The memory an agent holds per series after `path` (`through_agent` or `through_sparkplug`) ran `load`."""
    gc.collect()
    tracemalloc.start()
    try:
        agent, *_ = await path(url, load, data_dir)
        gc.collect()
        held = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    return float(held / max(agent.registry.n_series, 1))


def bench_sparkplug(
    url: str,
    metrics_per_message: int = 20,
    seconds: float = 5.0,
    devices: int = 500,
    rounds: int = 3,
    progress: Any = lambda _: None,
) -> dict[str, Any]:
    """The figures as a dict, for `edgeloop bench protocols` (it owns the broker and prints)."""
    return asyncio.run(run(url, metrics_per_message, seconds, devices, progress, rounds)).as_dict()
