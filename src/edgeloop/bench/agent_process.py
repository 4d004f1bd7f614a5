"""`edgeloop agent` as a process of its own, for the benches that kill and restart it (`bench chaos`)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path


class AgentProcess:
    """`edgeloop agent` as its own process, started, killed and restarted by the bench."""

    def __init__(self, url: str, site: str, data_dir: Path, redelivery_s: float | None = None) -> None:
        self.args = [sys.executable, "-m", "edgeloop", "agent", "--broker", url, "--site", site,
                     "--data-dir", str(data_dir), "--autonomy", "3"]  # fmt: skip
        self.env = {**os.environ, "EDGELOOP_BROKER__PERSISTENT_SESSION": "true", "EDGELOOP_BROKER__QOS": "1",
                    "EDGELOOP_AGENT__CHECKPOINT_S": "5", "XDG_CONFIG_HOME": str(data_dir / "config")}  # fmt: skip
        if redelivery_s is not None:
            self.env["EDGELOOP_BROKER__REDELIVERY_S"] = f"{redelivery_s:g}"
        self.log = data_dir / "agent.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.crashes = 0
        self.stopped = False  # killed or stopped by the bench: not a crash

    def start(self) -> None:
        self.stopped = False
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(self.args, env=self.env, stdout=subprocess.DEVNULL, stderr=log)

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def restart_if_dead(self) -> bool:
        """A crash (an exit nobody asked for) is counted and the agent started again."""
        if self.proc is not None and not self.stopped and self.proc.poll() is not None:
            self.crashes += 1
            self.start()
            return True
        return False

    def kill(self) -> None:
        self.stopped = True
        if self.alive():
            assert self.proc is not None
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()

    def terminate(self, within: float = 15.0) -> float | None:
        """SIGTERM; the seconds until it exited, or None if it had to be killed after `within`."""
        if not self.alive():
            return None
        assert self.proc is not None
        self.stopped = True
        t0 = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(within)
        except subprocess.TimeoutExpired:
            self.kill()
            return None
        return time.monotonic() - t0
