"""`edgeloop agent --partition i/P` as a user runs it: a second agent for a running partition refuses with exit
code 3 and the reason; a partition without the per-device holdout draw is refused at start with exit code 2."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

from edgeloop.io.broker import EmbeddedBroker


def agent(url: str, site: str, partition: str, data_dir: Path, draw: str = "device") -> subprocess.Popen[bytes]:
    env = {**os.environ, "EDGELOOP_LEDGER__HOLDOUT_DRAW": draw}
    return subprocess.Popen(
        [sys.executable, "-m", "edgeloop", "agent", "--broker", url, "--site", site, "--partition", partition,
         "--data-dir", str(data_dir)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env,
    )  # fmt: skip


def test_a_second_agent_for_the_same_partition_refuses_with_the_reason(
    embedded_broker: EmbeddedBroker, tmp_path: Path
) -> None:
    site = f"cli{uuid.uuid4().hex[:6]}"
    first = agent(embedded_broker.url, site, "1/2", tmp_path / "a")
    try:
        assert first.stderr is not None
        started = first.stderr.readline().decode()  # "agent for site ... partition 1/2 on ..."
        time.sleep(1.5)  # it subscribes and publishes its state: online
        second = agent(embedded_broker.url, site, "1/2", tmp_path / "b")
        _, err = second.communicate(timeout=60)
    finally:
        first.send_signal(signal.SIGINT)
        first.wait(timeout=30)

    assert "partition 1/2" in started
    assert second.returncode == 3
    assert "partition 1/2 of site" in err.decode()
    assert (tmp_path / "a" / site / "p1of2").is_dir()


def test_a_partition_with_the_sequence_holdout_draw_is_refused_at_start(
    embedded_broker: EmbeddedBroker, tmp_path: Path
) -> None:
    proc = agent(embedded_broker.url, "plant", "0/2", tmp_path, draw="sequence")
    _, err = proc.communicate(timeout=60)

    assert proc.returncode == 2
    assert "holdout_draw: device" in err.decode()
