"""`edgeloop demo --json` as a user runs it, on the embedded broker and on Mosquitto."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson
import pytest

FIELDS = {
    "points",
    "decisions",
    "commands_acked",
    "faults_injected",
    "faults_caught_before_failure",
    "failures",
    "approvals_requested",
    "blocked_by_guardrails",
    "quarantined",
}


@pytest.mark.e2e
@pytest.mark.parametrize("external", [False, True], ids=["embedded", "mosquitto"])
def test_demo_closes_the_loop_and_prints_a_json_summary(
    external: bool, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    args = [
        sys.executable,
        "-m",
        "edgeloop",
        "demo",
        "--json",
        "--duration",
        "25",
        "--speed",
        "4320",
        "--data-dir",
        str(tmp_path),
    ]
    if external:
        args += ["--broker", request.getfixturevalue("mosquitto_url")]
    done = subprocess.run(args, capture_output=True, timeout=180, check=False)
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    summary = orjson.loads(done.stdout)
    assert summary.keys() >= FIELDS
    assert summary["points"] > 100_000
    assert summary["decisions"] >= 1
    assert summary["commands_acked"] >= 1
    assert summary["faults_caught_before_failure"] >= 1
    # the demo policy: motors wait for an operator; one still anomalous while it waits is held back by a guardrail
    assert summary["approvals_requested"] >= 1
    assert summary["blocked_by_guardrails"] >= 1
    assert (tmp_path / "factory" / "edgeloop.db").exists()


@pytest.mark.e2e
@pytest.mark.parametrize("protocol", ["opcua", "sparkplug"])
def test_demo_runs_the_loop_over_another_protocol(protocol: str, tmp_path: Path) -> None:
    """The plant served as an OPC UA server, or as a Sparkplug B edge node: the same agent decides on it, and
    the demo leaves no simulator running behind it."""
    site = f"demo-{protocol}-{tmp_path.name[-8:]}".replace("_", "-")  # names this run's simulator process
    args = [sys.executable, "-m", "edgeloop", "demo", "--json", "--protocol", protocol, "--devices", "10",
            "--duration", "20", "--speed", "2000", "--site", site, "--data-dir", str(tmp_path)]  # fmt: skip
    done = subprocess.run(args, capture_output=True, timeout=180, check=False)
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    summary = orjson.loads(done.stdout)
    assert summary["points"] > 1_000, summary
    assert summary["decisions"] >= 1, summary
    left = subprocess.run(["pgrep", "-f", f"edgeloop sim factory .*--site {site} "], capture_output=True, check=False)
    assert left.returncode == 1, f"a simulator still runs: {left.stdout.decode()}"
