"""The command lines of the processes a demo starts: a simulated plant and a site agent, each a process of its
own that meets the others only on the broker. Both the site demo and the fleet demo start them."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import sys
import time
from collections.abc import AsyncIterator, Sequence
from pathlib import Path


def simulator_command(
    url: str, site: str, devices: int, seed: int, speed: float, truth: Path, extra: Sequence[str] = (),
    interval: float = 15.0,
) -> list[str]:  # fmt: skip
    """The factory simulator's command line; `extra` adds options (a protocol other than MQTT, its port, ...)."""
    return [
        sys.executable, "-m", "edgeloop", "sim", "factory", "--broker", url, "--site", site,
        "--devices", str(devices), "--seed", str(seed), "--speed", str(speed), "--ground-truth", str(truth), "--quiet",
        "--interval", str(interval), *extra,
    ]  # fmt: skip


def agent_command(url: str, site: str, data_dir: Path) -> list[str]:
    return [sys.executable, "-m", "edgeloop", "agent", "--broker", url, "--site", site, "--data-dir", str(data_dir),
            "--autonomy", "3"]  # fmt: skip


#: the protocols whose simulated plant is a server the agent connects to, with the map the simulator writes
SERVED = ("modbus", "opcua")


class PlantNotServedError(RuntimeError):
    """The simulator did not come up serving its protocol."""


@contextlib.asynccontextmanager
async def serve_plant(
    protocol: str,
    url: str,
    site: str,
    devices: int,
    seed: int,
    speed: float,
    truth: Path,
    tmp: Path,
    interval: float = 15.0,
) -> AsyncIterator[tuple[asyncio.subprocess.Process | None, Path | None]]:
    """Start the simulator serving `protocol` and wait until it has written the map it serves; kill it on the
    way out if it still runs (the demo stops it itself when all goes well)."""
    map_path = tmp / f"{protocol}-map.yaml"
    with socket.socket() as s:  # a free port for the first server (the simulator takes the next ones too)
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    poll_s = max(0.05, interval / speed)  # a new sample every poll where the machine allows, at most 20 polls/s
    extra = ["--protocol", protocol, "--port", str(port), "--map-out", str(map_path), "--poll-s", str(poll_s)]
    sim = await asyncio.create_subprocess_exec(*simulator_command(url, site, devices, seed, speed, truth, extra,
                                                                  interval=interval),
                                               stdin=asyncio.subprocess.DEVNULL)  # fmt: skip
    deadline = time.monotonic() + 30
    try:
        while not map_path.exists():
            if sim.returncode is not None or time.monotonic() > deadline:
                raise PlantNotServedError(
                    f"the simulator did not start serving {protocol} "
                    + (f"(it exited with {sim.returncode})" if sim.returncode is not None else "within 30 s")
                )
            await asyncio.sleep(0.1)
        await asyncio.sleep(0.3)  # the map is written just before the servers listen
        yield sim, map_path
    finally:
        if sim.returncode is None:
            sim.kill()
            await sim.wait()
