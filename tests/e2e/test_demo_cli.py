"""`edgeloop demo --json` as a user runs it, on the embedded broker and on Mosquitto."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import subprocess
import sys
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pytest

from edgeloop.io.store.telemetry import read_series

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


def _edgeloop(cwd: Path, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-m", "edgeloop", *args], cwd=cwd, capture_output=True, timeout=timeout,
                          check=False, env={**os.environ, "COLUMNS": "80"})  # fmt: skip


#: 200 devices sampled each minute: as many messages as 50 every 15 s, four times the faults (with 50, a run caught
#: one fault or none and asked for no approval about one time in two); the shipped demo policy, where motors wait
#: for an operator's approval
DEMO = ["demo", "--json", "--devices", "200", "--duration", "25", "--speed", "4320", "--interval", "60",
        "--policy", str(resources.files("edgeloop.policy").joinpath("demo_policy.yaml"))]  # fmt: skip


def _check_summary(summary: dict[str, Any]) -> None:
    assert summary.keys() >= FIELDS
    assert summary["points"] > 100_000
    assert summary["decisions"] >= 1
    assert summary["commands_acked"] >= 1
    assert summary["faults_caught_before_failure"] >= 1
    # the demo policy: motors wait for an operator; one still anomalous while it waits is held back by a guardrail
    assert summary["approvals_requested"] >= 1
    assert summary["blocked_by_guardrails"] >= 1
    assert summary.keys() >= {"uplift_ci_low", "uplift_ci_high", "downtime_reduction", "treated_days", "holdout_days"}


@pytest.mark.e2e
def test_demo_on_mosquitto_closes_the_loop_and_prints_a_json_summary(tmp_path: Path, mosquitto_url: str) -> None:
    done = _edgeloop(tmp_path, *DEMO, "--data-dir", str(tmp_path), "--broker", mosquitto_url, timeout=180)
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    _check_summary(orjson.loads(done.stdout))
    assert (tmp_path / "factory" / "edgeloop.db").exists()


@pytest.mark.e2e
@pytest.mark.parametrize("protocol", ["opcua", "sparkplug"])
def test_demo_runs_the_loop_over_another_protocol(protocol: str, tmp_path: Path) -> None:
    """The plant served as an OPC UA server, or as a Sparkplug B edge node: the same agent decides on it, and
    the demo leaves no simulator running behind it."""
    site = f"demo-{protocol}-{tmp_path.name[-8:]}".replace("_", "-")  # names this run's simulator process
    # a simulated day and a half of 30 devices: enough faults with a precursor for a decision in the realistic
    # fault mix (with one day, a run in a full test session once saw none over OPC UA; alone, 4 to 6)
    args = [sys.executable, "-m", "edgeloop", "demo", "--json", "--protocol", protocol, "--devices", "30",
            "--duration", "35", "--speed", "3500", "--interval", "60", "--site", site,
            "--data-dir", str(tmp_path)]  # fmt: skip
    done = subprocess.run(args, capture_output=True, timeout=180, check=False)
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    summary = orjson.loads(done.stdout)
    assert summary["points"] > 1_000, summary
    with contextlib.closing(sqlite3.connect(summary["database"])) as conn:
        t, _, _ = read_series(conn, "pump-001", "speed")
    # the plant samples at --interval, served or not, and the agent keeps up: a served plant once ignored it
    # and sampled every 15 s, its server fell hours behind the plant, and the agent saw 5 of its 36 hours
    assert float(np.median(np.diff(t))) == 60.0
    assert t[-1] - t[0] > 86_400, f"the agent saw {(t[-1] - t[0]) / 3600:.1f} h of the plant's time"
    assert summary["decisions"] >= 1, summary
    left = subprocess.run(["pgrep", "-f", f"edgeloop sim factory .*--site {site} "], capture_output=True, check=False)
    assert left.returncode == 1, f"a simulator still runs: {left.stdout.decode()}"


@pytest.mark.e2e
def test_the_embedded_demo_closes_the_loop_and_the_other_commands_find_its_data_with_no_arguments(
    tmp_path: Path,
) -> None:
    """The demo on its embedded broker and store, then each command a user runs next, with no arguments."""
    first = _edgeloop(tmp_path, *DEMO, timeout=180)
    assert first.returncode == 0, first.stderr.decode()[-2000:]
    _check_summary(orjson.loads(first.stdout))
    assert (tmp_path / "var" / "factory" / "edgeloop.db").exists()

    audit = _edgeloop(tmp_path, "audit", "verify")
    roi = _edgeloop(tmp_path, "roi", "report")
    approvals = _edgeloop(tmp_path, "approvals", "list")
    decisions = _edgeloop(tmp_path, "decisions", "list", "--json", "--limit", "1")

    assert audit.returncode == 0, audit.stderr.decode()
    assert b"OK" in audit.stdout
    assert roi.returncode == 0, roi.stderr.decode()
    assert b"measured value" in roi.stdout
    assert approvals.returncode == 0, approvals.stderr.decode()
    assert decisions.returncode == 0, decisions.stderr.decode()
    newest = orjson.loads(decisions.stdout)
    shown = _edgeloop(tmp_path, "decisions", "show", newest["id"][:8])
    assert shown.returncode == 0, shown.stderr.decode()
    assert b"guardrails checked" in shown.stdout
    wide = [line for out in (roi, approvals, shown) for line in out.stdout.decode().splitlines() if len(line) > 80]
    assert wide == []


@pytest.mark.e2e
def test_a_second_demo_starts_clean_unless_told_to_resume(tmp_path: Path) -> None:
    demo = ["demo", "--json", "--devices", "20", "--duration", "4", "--speed", "4320"]
    assert _edgeloop(tmp_path, *demo, timeout=180).returncode == 0
    assert _edgeloop(tmp_path, *demo, timeout=180).returncode == 0
    assert _edgeloop(tmp_path, *demo, "--resume", timeout=180).returncode == 0

    assert (tmp_path / "var" / "previous" / "factory-1" / "edgeloop.db").exists()
    assert not (tmp_path / "var" / "previous" / "factory-2").exists()
    assert (tmp_path / "var" / "factory" / "edgeloop.db").exists()
