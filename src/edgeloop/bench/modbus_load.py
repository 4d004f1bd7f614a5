"""A Modbus TCP load for `edgeloop bench protocols`: many devices of 20 registers, served in a process of its own.

Each device is a unit (200 per port) with `registers` uint16 input registers after a float64 timestamp (input
0-3, the time its values last changed). Every `tick_s` all values change (noise around 1,000); every
`anomaly_every`-th device-tick starts a burst of values 400 higher on that device for `burst` ticks, for the
source-to-decision latency. It is served through the simulator's own `ModbusPlantLink`, so the bench measures
the same server code that `edgeloop sim factory --protocol modbus` runs.
"""

from __future__ import annotations

import asyncio
import multiprocessing as mp
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import orjson

from edgeloop.io.modbus.map import DeviceRef, Gateway, Metric, Model, Register, RegisterMap
from edgeloop.sim.protocols.modbus import UNITS_PER_PORT, ModbusPlantLink, write_map


@dataclass(frozen=True, slots=True)
class ModbusLoad:
    site: str
    devices: int
    registers: int
    first_port: int
    seconds: float
    tick_s: float = 1.0
    poll_s: float = 1.0
    timestamp: bool = True  # False: the map has no timestamp register, samples are stamped when read
    connections: int = 4  # per server: 50 devices per connection at 1 Hz leaves 20 ms a round trip
    anomaly_every: int = 0
    burst: int = 6
    asset_type: str = "bench"
    seed: int = 0


def device_id(i: int) -> str:
    return f"mb-{i:06d}"


def load_map(load: ModbusLoad) -> RegisterMap:
    metrics = {f"m{j:02d}": Metric(function="input", address=4 + j, range=(0.0, 65535.0))
               for j in range(load.registers)}  # fmt: skip
    stamp = Register(function="input", address=0, type="float64") if load.timestamp else None
    model = Model(asset_type=load.asset_type, poll_s=load.poll_s, timestamp=stamp, metrics=metrics)
    gateways = []
    for p, start in enumerate(range(0, load.devices, UNITS_PER_PORT)):
        refs = [DeviceRef(unit=j + 1, id=device_id(start + j), model="bench")
                for j in range(min(UNITS_PER_PORT, load.devices - start))]  # fmt: skip
        gateways.append(
            Gateway(
                host="127.0.0.1", port=load.first_port + p, timeout_s=2.0, devices=refs, connections=load.connections
            )
        )
    return RegisterMap(models={"bench": model}, gateways=gateways)


async def _serve(load: ModbusLoad, ready: mp.Queue[int]) -> None:
    register_map = load_map(load)
    link = ModbusPlantLink(load.site, register_map)
    await link.start()
    ready.put(len(link.servers))
    rng = np.random.default_rng(load.seed)
    names = [f"m{j:02d}" for j in range(load.registers)]
    topics = [f"edgeloop/v1/{load.site}/{device_id(i)}/telemetry" for i in range(load.devices)]
    base = rng.uniform(900, 1100, size=(load.devices, load.registers))
    bursting = np.zeros(load.devices, dtype=np.int64)
    start = time.monotonic()
    tick = 0
    n = 0
    while time.monotonic() - start < load.seconds:
        stamp = time.time()
        values = np.round(base + rng.normal(0, 5, size=base.shape))
        for d in range(load.devices):
            n += 1
            if load.anomaly_every and n % load.anomaly_every == 0 and bursting[d] == 0:
                bursting[d] = load.burst
            row = values[d] + 400.0 if bursting[d] else values[d]
            bursting[d] = max(0, bursting[d] - 1)
            metrics = dict(zip(names, row.tolist(), strict=True))
            link.publish(topics[d], orjson.dumps({"ts": stamp, "metrics": metrics}))
            if d % 25 == 24:
                await asyncio.sleep(0)  # a PLC's registers change while it answers: never hold the server up
        tick += 1
        await asyncio.sleep(max(0.0, start + tick * load.tick_s - time.monotonic()))
    await link.stop()


def _main(load: ModbusLoad, ready: mp.Queue[int]) -> None:
    asyncio.run(_serve(load, ready))


def start_server(load: ModbusLoad, map_path: Path) -> mp.process.BaseProcess:
    """Write the load's map to `map_path` and start its servers in a fresh process; returns once they listen."""
    write_map(load_map(load), map_path)
    ctx = mp.get_context("spawn")
    ready: mp.Queue[int] = ctx.Queue()
    proc = ctx.Process(target=_main, args=(load, ready), daemon=True)
    proc.start()
    ready.get(timeout=60)
    return proc
