"""Four coordinator processes share a feeder's cap over a real broker; one is killed with SIGKILL midway.

Each process logs every limit it commands; a command holds for `hold_s`, after which a site with no agent draws
its reserve (its devices' fail-safe). From the logs, the summed draw is rebuilt at every moment it can change.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import orjson

CAP = 400.0
RESERVE = 10.0
HOLD = 0.5
WANT = {"a": 300.0, "b": 250.0, "c": 20.0, "d": 20.0}


def read(path: Path) -> list[dict[str, float]]:
    if not path.exists():
        return []
    lines = path.read_bytes().splitlines()
    return [orjson.loads(line) for line in lines if line.endswith(b"}")]


def wait_for(check: object, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return True
        time.sleep(0.05)
    return False


def summed_draw(logs: dict[str, list[dict[str, float]]]) -> float:
    """The largest summed draw: each site draws its last command for `HOLD`, else its reserve."""
    commands = {s: [(row["t"], row["limit_kw"]) for row in rows] for s, rows in logs.items()}
    moments = sorted({t for rows in commands.values() for t, _ in rows} | {t + HOLD for rows in commands.values()
                                                                            for t, _ in rows})  # fmt: skip
    worst = 0.0
    index = dict.fromkeys(commands, -1)
    for moment in moments:
        total = 0.0
        for s, rows in commands.items():
            while index[s] + 1 < len(rows) and rows[index[s] + 1][0] <= moment:
                index[s] += 1
            i = index[s]
            total += rows[i][1] if i >= 0 and moment < rows[i][0] + HOLD else RESERVE
        worst = max(worst, total)
    return worst


def test_the_fleet_never_exceeds_the_cap_and_a_killed_sites_share_goes_to_the_others(
    broker_url: str, tmp_path: Path
) -> None:
    logs = {s: tmp_path / f"{s}.jsonl" for s in WANT}
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    resource = f"feeder-{tmp_path.name[-12:].lower().replace('_', '-')}"
    options = {"--broker": broker_url, "--members": ",".join(WANT), "--cap": CAP, "--reserve": RESERVE,
               "--resource": resource, "--hold-s": HOLD, "--duration": 120}  # fmt: skip
    procs = {}
    for s, want in WANT.items():
        argv = [f"{k}={v}" for k, v in {**options, "--site": s, "--want": want, "--log": logs[s]}.items()]
        procs[s] = subprocess.Popen([sys.executable, "-m", "edgeloop.fleet.standin", *argv], env=env)
    try:  # generous waits: four Python processes start slowly on a busy machine
        started = wait_for(lambda: all(read(logs[s]) and not read(logs[s])[-1]["quarantined"] for s in WANT), 60)
        a_borrowed = wait_for(lambda: read(logs["a"])[-1]["borrowed_kw"] > 0, 30)
        b_before = read(logs["b"])[-1]["limit_kw"]
        procs["a"].send_signal(signal.SIGKILL)
        procs["a"].wait()
        b_after = wait_for(lambda: read(logs["b"])[-1]["limit_kw"] >= WANT["b"] - 1e-6, 30)
    finally:
        for p in procs.values():
            if p.poll() is None:
                p.terminate()
        for p in procs.values():
            p.wait(10)

    assert started
    assert a_borrowed
    assert b_before < WANT["b"]
    assert b_after
    assert summed_draw({s: read(path) for s, path in logs.items()}) <= CAP + 1e-6
