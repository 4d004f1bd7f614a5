"""`edgeloop serve`: agent, API and dashboard in one process, as a user starts and stops it."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx


def test_serve_prints_a_working_url_and_token_and_stops_cleanly(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "edgeloop", "serve", "--data-dir", str(tmp_path), "--port", "0"],
        stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    try:
        seen = ""
        deadline = time.monotonic() + 60
        assert proc.stderr is not None
        while not re.search(r"el_\w+_\S+", seen) and time.monotonic() < deadline:
            seen += proc.stderr.readline()
        url = re.search(r"dashboard (http://\S+/)", seen)
        token = re.search(r"(el_\w+_\S+)", seen)
        assert url is not None, seen
        assert token is not None, seen
        headers = {"Authorization": f"Bearer {token.group(1)}"}

        assert httpx.get(url.group(1) + "api/v1/health", headers=headers).json()["store"] is True
        assert httpx.get(url.group(1) + "api/v1/decisions", headers=headers).status_code == 200
        assert "edgeloop" in httpx.get(url.group(1)).text  # the dashboard page
    finally:
        proc.send_signal(signal.SIGINT)
        rest = proc.communicate(timeout=30)[1]
    assert proc.returncode == 0, rest[-2000:]
    assert "stopped:" in rest
