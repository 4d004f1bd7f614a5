"""Crash safety: a torn last line is dropped on reopening, on the record, and the chain goes on and verifies."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from tests.unit.audit.builders import lines, write_log

from edgeloop.audit import GENESIS, LOG_FILE, AuditLog, Kind, Record, load_or_create_key, verify_file
from edgeloop.audit.log import last_line


def tear(directory: Path, partial: bytes) -> None:
    with (directory / LOG_FILE).open("ab") as f:
        f.write(partial)


def test_a_torn_partial_line_is_dropped_and_recorded_on_reopening(tmp_path: Path, key: Ed25519PrivateKey) -> None:
    write_log(tmp_path, key, n=5)
    partial = lines(tmp_path)[2][:60]
    tear(tmp_path, partial)

    with AuditLog.open(tmp_path, key) as log:
        assert log.recovered_bytes == 60
        record = log.append("decision", {"after": "crash"}, ts=6.0)

    recovery = Record.from_line(lines(tmp_path)[5])
    assert (recovery.seq, recovery.kind) == (5, Kind.RECOVERY)
    assert dict(recovery.body) == {"dropped_bytes": 60, "dropped_sha256": hashlib.sha256(partial).hexdigest()}
    assert (record.seq, record.prev) == (6, recovery.hash)
    report = verify_file(tmp_path / LOG_FILE, key.public_key())
    assert (report.ok, report.records, report.torn_tail) == (True, 7, False)


def test_a_zero_filled_tail_left_by_a_power_cut_is_dropped(tmp_path: Path, key: Ed25519PrivateKey) -> None:
    write_log(tmp_path, key, n=3)
    tear(tmp_path, b"\0" * 4096)

    with AuditLog.open(tmp_path, key) as log:
        log.append("decision", {"after": "power cut"}, ts=4.0)

    assert b"\0" not in (tmp_path / LOG_FILE).read_bytes()
    assert verify_file(tmp_path / LOG_FILE, key.public_key()).records == 5


def test_a_first_record_torn_in_half_leaves_a_log_that_starts_over(tmp_path: Path, key: Ed25519PrivateKey) -> None:
    tear(tmp_path, b'{"body":{"device":"pump-1"},"hash":"ab')

    with AuditLog.open(tmp_path, key) as log:
        log.append("decision", {"device": "pump-1"}, ts=1.0)

    first = Record.from_line(lines(tmp_path)[0])
    assert (first.seq, first.kind, first.prev) == (0, Kind.RECOVERY, GENESIS)
    assert verify_file(tmp_path / LOG_FILE, key.public_key()).ok


def test_a_clean_reopening_writes_nothing(tmp_path: Path, key: Ed25519PrivateKey) -> None:
    write_log(tmp_path, key, n=3)
    before = (tmp_path / LOG_FILE).read_bytes()

    with AuditLog.open(tmp_path, key) as log:
        assert (log.recovered_bytes, log.records) == (0, 3)

    assert (tmp_path / LOG_FILE).read_bytes() == before


WRITER = """
import sys
from pathlib import Path
from edgeloop.audit import AuditLog, load_or_create_key

directory = Path(sys.argv[1])
pad = "x" * 200_000  # large lines, so that a SIGKILL now and then lands inside the write of a batch
with AuditLog.open(directory, load_or_create_key(directory), checkpoint_every=25) as log:
    while True:
        batch = log.append_many([("decision", {"pad": pad, "i": i}) for i in range(10)])
        print(batch[-1].seq, flush=True)  # acknowledged: on disk
"""


def run_and_kill(directory: Path, acks: int, delay: float) -> int:
    """Start a writer, SIGKILL it after `acks` acknowledged batches and `delay` seconds; the last acked seq."""
    child = subprocess.Popen([sys.executable, "-c", WRITER, str(directory)], stdout=subprocess.PIPE)
    assert child.stdout is not None
    acked = [int(child.stdout.readline()) for _ in range(acks)][-1]
    time.sleep(delay)
    os.kill(child.pid, signal.SIGKILL)
    assert child.wait() == -signal.SIGKILL  # killed while still writing, not finished
    late = [int(line) for line in child.stdout.read().splitlines()]  # acks still in the pipe
    return max([acked, *late])


def test_a_writer_killed_mid_run_loses_no_acknowledged_record_and_the_chain_verifies(tmp_path: Path) -> None:
    key = load_or_create_key(tmp_path)
    for acks, delay in [(3, 0.0), (5, 0.004), (2, 0.013), (4, 0.007)]:
        acked = run_and_kill(tmp_path, acks, delay)

        with AuditLog.open(tmp_path, key) as log:
            assert log.records > acked
            log.append("decision", {"after": "kill"})

        report = verify_file(tmp_path / LOG_FILE, key.public_key())
        assert (report.ok, report.torn_tail) == (True, False), report.problem
        assert report.records == log.records


@pytest.mark.parametrize("block", [1, 7, 64, 1 << 16])
def test_the_last_complete_line_is_found_whatever_the_read_block(
    tmp_path: Path, key: Ed25519PrivateKey, block: int
) -> None:
    write_log(tmp_path, key, n=3)
    tear(tmp_path, b'{"torn":')
    path = tmp_path / LOG_FILE
    fd = os.open(path, os.O_RDONLY)
    try:
        end, line = last_line(fd, path.stat().st_size, block)
    finally:
        os.close(fd)

    assert (end, line) == (path.stat().st_size - 8, lines(tmp_path)[2])
