"""The command lines of the processes a demo starts: a simulated plant and a site agent, each a process of its
own that meets the others only on the broker. Both the site demo and the fleet demo start them."""

from __future__ import annotations

import sys
from collections.abc import Sequence
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
