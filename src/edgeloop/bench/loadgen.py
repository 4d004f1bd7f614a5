"""A telemetry load generator that runs in its own process, so the receiver under test has a core to itself.

For `seconds` it publishes telemetry messages of `metrics_per_message` metrics over `devices` devices as fast as
it can (or at `rate` messages/s), with optional bursts of anomalous values for the latency measurement.
"""

from __future__ import annotations

import asyncio
import multiprocessing as mp
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import orjson
import yaml

from edgeloop.io.mqtt import MqttClient
from edgeloop.ledger.economics import load_economics
from edgeloop.model import CommandSpec, DeviceMeta, MetricSpec


@dataclass(frozen=True, slots=True)
class Load:
    url: str
    site: str
    devices: int
    metrics_per_message: int
    seconds: float  # publish for this long
    max_messages: int = 0  # stop after this many (0: no limit)
    rate: float = 0.0  # messages per second; 0: as fast as possible
    anomaly_every: int = 0  # every n-th message of the run starts an anomalous burst on its device (0: none)
    burst: int = 6
    seed: int = 0
    qos: int = 0  # of the telemetry messages


def device_id(i: int) -> str:
    return f"dev-{i:06d}"


#: the load's devices' asset type; `bench_economics` prices it, since the agent refuses a device it cannot price
ASSET_TYPE = "bench"


def metas(load: Load) -> list[DeviceMeta]:
    metrics = tuple(MetricSpec(f"m{j:02d}", "", -1e6, 1e6) for j in range(load.metrics_per_message))
    return [DeviceMeta(device_id(i), ASSET_TYPE, metrics, (CommandSpec("stop"),)) for i in range(load.devices)]


def bench_economics(path: Path) -> Path:
    """Write the shipped economics, with the load's asset type priced as a pump, to `path`; returns it."""
    doc = load_economics(None).model_dump(mode="json")
    doc["assets"][ASSET_TYPE] = doc["assets"]["pump"]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    return path


#: the agent is given up on when it registers no further device for this long
STALL_S = 15.0


class MetasRefusedError(RuntimeError):
    """The agent stopped registering the devices announced to it (it quarantines their metas, or is stuck)."""

    def __init__(self, registered: int, expected: int) -> None:
        self.registered, self.expected = registered, expected
        super().__init__(f"the agent registered {registered:,} of {expected:,} devices, none more in {STALL_S:g} s")


async def publish_metas(load: Load, client: MqttClient, registered: Callable[[], int], chunk: int = 500) -> None:
    """Publish the devices' meta in chunks, each once the agent has `registered()` the previous one: brokers
    queue only so many QoS 1 messages per subscriber (Mosquitto: 1000) and drop the rest.

    Raises `MetasRefusedError` as soon as registration makes no progress for `STALL_S`: a bench must fail, not wait
    for hours, when the agent refuses the devices (it once did, for an asset type it had no economics for)."""
    all_metas = metas(load)
    for i in range(0, len(all_metas), chunk):
        for meta in all_metas[i : i + chunk]:
            client.publish(f"edgeloop/v1/{load.site}/{meta.device}/meta", orjson.dumps(meta.to_json()), qos=1)
        await client.flush(timeout=60)
        expected = min(i + chunk, len(all_metas))
        seen, progress_at = registered(), time.monotonic()
        while seen < expected:
            await asyncio.sleep(0.01)
            if registered() != seen:
                seen, progress_at = registered(), time.monotonic()
            elif time.monotonic() - progress_at > STALL_S:
                raise MetasRefusedError(seen, expected)


async def _generate(load: Load) -> tuple[int, float]:
    rng = np.random.default_rng(load.seed)
    k = load.metrics_per_message
    names = [f"m{j:02d}" for j in range(k)]
    topics = [f"edgeloop/v1/{load.site}/{device_id(i)}/telemetry" for i in range(load.devices)]
    base = rng.normal(100.0, 5.0, size=(load.devices, k))
    noise = rng.normal(0.0, 1.0, size=(4096, k))
    bursting = np.zeros(load.devices, dtype=np.int64)
    # at QoS 1, a persistent session: after a fail-over the new node then has the session, and what was in flight
    # is sent again (with a clean one, the client must drop its unacknowledged messages when it reconnects)
    clean = load.qos == 0
    async with MqttClient(
        load.url, f"edgeloop-loadgen-{load.seed}", max_outbox=10_000_000, clean_session=clean
    ) as client:
        start = time.perf_counter()
        stamp = time.time()
        n = 0
        while (n % 1024 or time.perf_counter() - start < load.seconds) and (
            load.max_messages == 0 or n < load.max_messages
        ):
            d = n % load.devices
            values = base[d] + noise[n & 4095]
            if load.anomaly_every and n % load.anomaly_every == load.anomaly_every - 1 and bursting[d] == 0:
                bursting[d] = load.burst
            if bursting[d]:
                values = values + 400.0
                bursting[d] -= 1
            if load.rate > 0 or load.anomaly_every or n % 1024 == 0:  # latency is measured from this stamp
                stamp = time.time()
            payload = orjson.dumps(
                {"ts": stamp, "seq": n // load.devices, "metrics": dict(zip(names, values.tolist(), strict=True))}
            )
            client.publish(topics[d], payload, qos=load.qos)
            if load.rate > 0:
                ahead = (n + 1) / load.rate - (time.perf_counter() - start)
                if ahead > 0.002:
                    await asyncio.sleep(ahead)
            elif n % 2000 == 1999:
                await asyncio.sleep(0)  # let the socket drain
            n += 1
        await client.flush(timeout=120)
        return n, time.perf_counter() - start


def _main(load: Load, result: mp.Queue[tuple[int, float]]) -> None:
    result.put(asyncio.run(_generate(load)))


def start_load(load: Load) -> tuple[mp.process.BaseProcess, mp.Queue[tuple[int, float]]]:
    """Start the generator in a fresh process; its queue yields (messages sent, seconds it took)."""
    ctx = mp.get_context("spawn")
    result: mp.Queue[tuple[int, float]] = ctx.Queue()
    proc = ctx.Process(target=_main, args=(load, result), daemon=True)
    proc.start()
    return proc, result
