"""The writer: sequence and links, batches with one fsync, checkpoints, what it refuses."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from tests.unit.audit.builders import edit_body, lines, rewrite, write_log

from edgeloop.audit import GENESIS, LOG_FILE, AuditError, AuditLog, Kind, Record, verify_file


def test_records_are_numbered_from_zero_and_each_links_to_the_one_before(
    tmp_path: Path, key: Ed25519PrivateKey
) -> None:
    records = write_log(tmp_path, key, n=3)

    assert [r.seq for r in records] == [0, 1, 2]
    assert [r.prev for r in records] == [GENESIS, records[0].hash, records[1].hash]


def test_each_line_on_disk_is_the_record_returned(tmp_path: Path, key: Ed25519PrivateKey) -> None:
    records = write_log(tmp_path, key, n=3)

    assert [Record.from_line(line) for line in lines(tmp_path)] == records


def test_every_record_is_intact_and_signed_by_the_key(
    tmp_path: Path, key: Ed25519PrivateKey, public_key: Ed25519PublicKey
) -> None:
    records = write_log(tmp_path, key, n=3)

    assert all(r.intact() and r.signed_by(public_key) for r in records)
    assert not records[0].signed_by(Ed25519PrivateKey.generate().public_key())


def test_reopening_continues_the_chain_from_its_head(tmp_path: Path, key: Ed25519PrivateKey) -> None:
    first = write_log(tmp_path, key, n=3)

    with AuditLog.open(tmp_path, key) as log:
        assert (log.records, log.head) == (3, first[-1].hash)
        record = log.append("verdict", {"verdict": "confirmed"}, ts=9.0)

    assert (record.seq, record.prev) == (3, first[-1].hash)
    assert verify_file(tmp_path / LOG_FILE, key.public_key()).records == 4


def test_append_many_writes_a_batch_with_one_fsync(
    tmp_path: Path, key: Ed25519PrivateKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[int] = []
    real_fsync = os.fsync

    def counting_fsync(fd: int) -> None:
        calls.append(fd)
        real_fsync(fd)

    with AuditLog.open(tmp_path, key, checkpoint_every=1000) as log:
        monkeypatch.setattr(os, "fsync", counting_fsync)
        records = log.append_many([("decision", {"i": i}) for i in range(100)])
        monkeypatch.undo()

    assert len(calls) == 1
    assert [r.seq for r in records] == list(range(100))
    assert len(lines(tmp_path)) == 100


def test_append_many_takes_a_timestamp_per_item_or_the_clock(tmp_path: Path, key: Ed25519PrivateKey) -> None:
    with AuditLog.open(tmp_path, key, clock=lambda: 42.0) as log:
        records = log.append_many([("command", {"name": "stop"}, 7.0), ("ack", {"status": "done"})])

    assert [r.ts for r in records] == [7.0, 42.0]


def test_checkpoints_are_written_at_every_multiple_of_n_and_state_count_and_head(
    tmp_path: Path, key: Ed25519PrivateKey
) -> None:
    write_log(tmp_path, key, n=12, checkpoint_every=5)
    on_disk = [Record.from_line(line) for line in lines(tmp_path)]

    checkpoints = [r for r in on_disk if r.kind == Kind.CHECKPOINT]
    assert [r.seq for r in checkpoints] == [5, 10]
    assert [dict(r.body) for r in checkpoints] == [
        {"records": 5, "head": on_disk[4].hash},
        {"records": 10, "head": on_disk[9].hash},
    ]
    assert len(on_disk) == 12 + 2


def test_append_returns_the_callers_records_not_the_checkpoints(tmp_path: Path, key: Ed25519PrivateKey) -> None:
    with AuditLog.open(tmp_path, key, checkpoint_every=2) as log:
        records = log.append_many([("decision", {"i": i}) for i in range(3)])

    assert [(r.seq, r.kind) for r in records] == [(0, "decision"), (1, "decision"), (3, "decision")]
    assert log.records == 5  # a checkpoint at seq 2 and another at seq 4, after the third record


def test_a_checkpoint_can_be_asked_for(tmp_path: Path, key: Ed25519PrivateKey) -> None:
    records = write_log(tmp_path, key, n=3)

    with AuditLog.open(tmp_path, key) as log:
        checkpoint = log.checkpoint(ts=5.0)

    assert (checkpoint.seq, checkpoint.kind, dict(checkpoint.body)) == (
        3,
        "checkpoint",
        {"records": 3, "head": records[-1].hash},
    )


def test_the_body_is_stored_as_the_json_it_reads_back_as(tmp_path: Path, key: Ed25519PrivateKey) -> None:
    with AuditLog.open(tmp_path, key) as log:
        record = log.append("command", {"args": (1, 2), "limit": float("nan")}, ts=1.0)

    assert dict(record.body) == {"args": [1, 2], "limit": None}
    assert Record.from_line(lines(tmp_path)[0]) == record


@pytest.mark.parametrize(
    ("kind", "body", "ts", "reason"),
    [
        ("checkpoint", {}, 1.0, "written by the log itself"),
        ("recovery", {}, 1.0, "written by the log itself"),
        ("Decision!", {}, 1.0, "kind must match"),
        ("decision", {"x": object()}, 1.0, "not JSON data"),
        ("decision", {1: "x"}, 1.0, "not JSON data"),
        ("decision", {}, float("inf"), "finite"),
    ],
)
def test_a_bad_item_is_refused_and_nothing_of_its_batch_is_written(
    tmp_path: Path, key: Ed25519PrivateKey, kind: str, body: dict[object, object], ts: float, reason: str
) -> None:
    with AuditLog.open(tmp_path, key) as log:
        with pytest.raises(AuditError, match=reason):
            log.append_many([("decision", {"ok": True}, 0.0), (kind, body, ts)])  # type: ignore[list-item]
        assert log.records == 0

    assert (tmp_path / LOG_FILE).read_bytes() == b""


def test_a_second_writer_is_refused_while_the_log_is_open(tmp_path: Path, key: Ed25519PrivateKey) -> None:
    with AuditLog.open(tmp_path, key), pytest.raises(AuditError, match="open in another process"):
        AuditLog.open(tmp_path, key)


def test_a_closed_log_refuses_to_append(tmp_path: Path, key: Ed25519PrivateKey) -> None:
    log = AuditLog.open(tmp_path, key)
    log.close()

    with pytest.raises(AuditError, match="closed"):
        log.append("decision", {})


def test_a_log_signed_with_another_key_is_not_extended(tmp_path: Path, key: Ed25519PrivateKey) -> None:
    write_log(tmp_path, key, n=2)
    before = lines(tmp_path)

    with pytest.raises(AuditError, match="does not verify with this key"):
        AuditLog.open(tmp_path, Ed25519PrivateKey.generate())
    assert lines(tmp_path) == before


def test_a_log_whose_last_record_was_changed_is_not_extended(tmp_path: Path, key: Ed25519PrivateKey) -> None:
    write_log(tmp_path, key, n=2)
    original = lines(tmp_path)
    rewrite(tmp_path, [original[0], edit_body(original[1], score=0.1)])

    with pytest.raises(AuditError, match="does not verify"):
        AuditLog.open(tmp_path, key)
