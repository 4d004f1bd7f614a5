"""The chaos bench's parts that can be checked alone: the fuzz corpus, the disk-full fault, the score comparison."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import orjson

from edgeloop.bench.chaos_replay import Recording, replay, score_difference
from edgeloop.bench.faults import fuzz_corpus, limit_file_size
from edgeloop.io.inbound import InboundSplitter
from edgeloop.io.transport import Message


def test_every_fuzz_message_targets_the_site_and_none_is_well_formed_telemetry() -> None:
    corpus = list(fuzz_corpus("s1", ["pump-1", "pump-2"], 300))

    assert len(corpus) == 300
    assert all(topic.startswith("edgeloop/v1/s1/") for topic, _, _ in corpus)
    assert len({payload for _, payload, _ in corpus}) > 10


def test_the_fuzz_corpus_is_rejected_at_the_edge() -> None:
    split = InboundSplitter("s1", 300.0, 3e8)
    messages = [Message(t, p, r) for t, p, r in fuzz_corpus("s1", ["pump-1"], 100) if "/telemetry" not in t]

    inbound = split(messages, 1_700_000_000.0)

    assert len(inbound.rejected) + len(inbound.controls) == len(messages)
    assert len(inbound.rejected) >= len(messages) // 2


def test_a_process_whose_file_size_limit_is_lowered_cannot_grow_a_file_until_it_is_raised(tmp_path: Path) -> None:
    script = (
        "import os, sys, time\n"
        "sys.stdin.readline()\n"
        "fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT | os.O_APPEND)\n"
        "try:\n    os.write(fd, b'x')\n    print('wrote', flush=True)\n"
        "except OSError as e:\n    print('refused', e.errno, flush=True)\n"
        "sys.stdin.readline()\n"
        "os.write(fd, b'y')\nprint('wrote', flush=True)\n"
    )
    target = tmp_path / "grow.bin"
    proc = subprocess.Popen([sys.executable, "-c", script, str(target)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)  # fmt: skip
    assert proc.stdin is not None
    assert proc.stdout is not None
    limit_file_size(proc.pid, 0)
    proc.stdin.write("go\n")
    proc.stdin.flush()
    first = proc.stdout.readline().split()
    limit_file_size(proc.pid, None)
    proc.stdin.write("go\n")
    proc.stdin.flush()
    second = proc.stdout.readline().split()
    proc.wait(10)

    assert first[0] == "refused"
    assert int(first[1]) == 27  # EFBIG
    assert second == ["wrote"]
    assert target.read_bytes() == b"y"
    assert os.stat(target).st_size == 1


def test_scores_are_compared_on_the_points_both_runs_stored() -> None:
    run = {("p", "v", 1.0): 0.5, ("p", "v", 2.0): 0.7, ("p", "v", 3.0): 0.1}
    base = {("p", "v", 1.0): 0.5, ("p", "v", 2.0): 0.6}

    diff = score_difference(run, base)

    assert diff["points_compared"] == 2
    assert diff["only_in_faulted_run"] == 1
    assert diff["only_in_replay"] == 0
    assert abs(diff["max"] - 0.1) < 1e-9
    assert diff["within_1e-9"] == 1
    assert orjson.dumps(diff)


def test_the_replay_scores_every_point_the_broker_delivered(tmp_path: Path) -> None:
    """The baseline is one agent that never stopped, fed the recording in arrival order: a meta and 300 readings
    of one device give 300 scores, keyed by device, metric and timestamp; the anomaly at the end scores highest."""
    meta = {"device": "pump-1", "asset_type": "pump", "commands": {},
            "metrics": {"vibration": {"unit": "mm/s", "low": 0, "high": 50}}}  # fmt: skip
    t0 = time.time() - 3600
    recording: Recording = []
    recording.append((t0, "edgeloop/v1/s1/pump-1/meta", orjson.dumps(meta), True))
    for i in range(300):
        value = 3.0 + 0.1 * (i % 7) + (25.0 if i >= 295 else 0.0)
        body = {"ts": t0 + 10 * i, "metrics": {"vibration": value}}
        recording.append((t0 + 10 * i + 1, "edgeloop/v1/s1/pump-1/telemetry", orjson.dumps(body), False))

    scores, came = replay(recording, "s1", tmp_path)

    assert sorted(scores) == [("pump-1", "vibration", t0 + 10 * i) for i in range(300)]
    assert max(scores, key=lambda k: scores[k])[2] >= t0 + 10 * 295
    assert came == {}  # nothing came late


def test_the_replay_tells_which_points_were_scored_before_a_late_repair_came(tmp_path: Path) -> None:
    """A repair at step 100 that comes after steps 100-119: the old series scored those (the fresh series learn
    them when it comes), so they count as scored before the late restart came."""
    meta = {"device": "pump-1", "asset_type": "pump", "commands": {},
            "metrics": {"vibration": {"unit": "mm/s", "low": 0, "high": 50}}}  # fmt: skip
    t0 = time.time() - 3600
    recording: Recording = [(t0, "edgeloop/v1/s1/pump-1/meta", orjson.dumps(meta), True)]
    repair = (t0 + 10 * 120, "edgeloop/v1/s1/pump-1/event",
              orjson.dumps({"kind": "repaired", "reason": "failure", "ts": t0 + 10 * 100}), False)  # fmt: skip
    for i in range(200):
        body = {"ts": t0 + 10 * i, "metrics": {"vibration": 3.0 + 0.1 * (i % 7)}}
        recording.append((t0 + 10 * i + 1, "edgeloop/v1/s1/pump-1/telemetry", orjson.dumps(body), False))
        if i == 119:
            recording.append(repair)

    _, came = replay(recording, "s1", tmp_path)

    assert came == {("pump-1", "vibration"): t0 + 10 * 119}
