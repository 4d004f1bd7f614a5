"""Verification: a clean log holds; each kind of tampering is named at the first bad record."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from tests.unit.audit.builders import edit_body, lines, rehash, resign, rewrite, write_log

from edgeloop.audit import GENESIS, LOG_FILE, AuditLog, Record, Tamper, VerifyReport, verify_file, verify_lines
from edgeloop.audit.record import seal


def verify(directory: Path, public_key: Ed25519PublicKey) -> VerifyReport:
    return verify_file(directory / LOG_FILE, public_key)


@pytest.fixture
def log_dir(tmp_path: Path, key: Ed25519PrivateKey) -> Path:
    write_log(tmp_path, key, n=10)
    return tmp_path


def test_a_clean_log_verifies(log_dir: Path, public_key: Ed25519PublicKey) -> None:
    report = verify(log_dir, public_key)

    assert (report.ok, report.records, report.first_bad, report.tamper) == (True, 10, None, None)
    assert report.head == Record.from_line(lines(log_dir)[-1]).hash


def test_an_empty_log_verifies(public_key: Ed25519PublicKey) -> None:
    report = verify_lines([], public_key)

    assert (report.ok, report.records, report.head) == (True, 0, GENESIS)


def test_the_wrong_public_key_fails_at_the_first_record(log_dir: Path) -> None:
    report = verify(log_dir, Ed25519PrivateKey.generate().public_key())

    assert (report.ok, report.first_bad) == (False, 0)
    assert "the wrong public key" in report.problem


# -- changed ----------------------------------------------------------------------------------------------------


def test_a_changed_body_field_is_found_at_its_record(log_dir: Path, public_key: Ed25519PublicKey) -> None:
    original = lines(log_dir)
    rewrite(log_dir, [*original[:4], edit_body(original[4], score=0.1), *original[5:]])

    report = verify(log_dir, public_key)

    assert (report.ok, report.first_bad, report.tamper, report.records) == (False, 4, Tamper.CHANGED, 4)
    assert report.problem == "record 4 (line 5) was changed: its hash does not match its content"


def test_a_changed_and_rehashed_record_is_found_by_its_signature(log_dir: Path, public_key: Ed25519PublicKey) -> None:
    original = lines(log_dir)
    rewrite(log_dir, [*original[:4], rehash(edit_body(original[4], score=0.1)), *original[5:]])

    report = verify(log_dir, public_key)

    assert (report.first_bad, report.tamper) == (4, Tamper.CHANGED)
    assert "signature does not verify" in report.problem


def test_a_record_resigned_with_another_key_is_found_as_changed(log_dir: Path, public_key: Ed25519PublicKey) -> None:
    original = lines(log_dir)
    forged = resign(edit_body(original[4], score=0.1), Ed25519PrivateKey.generate())
    rewrite(log_dir, [*original[:4], forged, *original[5:]])

    report = verify(log_dir, public_key)

    assert (report.first_bad, report.tamper) == (4, Tamper.CHANGED)


def test_a_changed_seq_is_found_as_a_change_not_a_gap(log_dir: Path, public_key: Ed25519PublicKey) -> None:
    original = lines(log_dir)
    rewrite(log_dir, [*original[:4], original[4].replace(b'"seq":4', b'"seq":7'), *original[5:]])

    report = verify(log_dir, public_key)

    assert (report.first_bad, report.tamper) == (4, Tamper.CHANGED)


def test_a_line_that_is_not_a_record_any_more_is_found_as_changed(log_dir: Path, public_key: Ed25519PublicKey) -> None:
    original = lines(log_dir)
    rewrite(log_dir, [*original[:4], original[4][:40] + b"\n", *original[5:]])

    report = verify(log_dir, public_key)

    assert (report.first_bad, report.tamper) == (4, Tamper.CHANGED)
    assert "not a valid record" in report.problem


# -- deleted ----------------------------------------------------------------------------------------------------


def test_a_deleted_line_is_found_as_the_missing_seq(log_dir: Path, public_key: Ed25519PublicKey) -> None:
    original = lines(log_dir)
    rewrite(log_dir, [*original[:4], *original[5:]])

    report = verify(log_dir, public_key)

    assert (report.ok, report.first_bad, report.tamper) == (False, 4, Tamper.DELETED)
    assert report.problem == "record 4 is missing: expected seq 4 at line 5, found 5 (deleted)"


def test_several_deleted_lines_are_named_as_a_range(log_dir: Path, public_key: Ed25519PublicKey) -> None:
    original = lines(log_dir)
    rewrite(log_dir, [*original[:4], *original[7:]])

    report = verify(log_dir, public_key)

    assert (report.first_bad, report.tamper) == (4, Tamper.DELETED)
    assert report.problem.startswith("records 4 to 6 are missing")


def test_a_deleted_first_line_is_found(log_dir: Path, public_key: Ed25519PublicKey) -> None:
    rewrite(log_dir, lines(log_dir)[1:])

    report = verify(log_dir, public_key)

    assert (report.first_bad, report.tamper, report.records) == (0, Tamper.DELETED, 0)


def test_records_cut_from_the_end_are_found_against_a_checkpoint_kept_elsewhere(
    tmp_path: Path, key: Ed25519PrivateKey, public_key: Ed25519PublicKey
) -> None:
    write_log(tmp_path, key, n=6)
    with AuditLog.open(tmp_path, key) as log:
        checkpoint = log.checkpoint(ts=6.0)
        log.append("decision", {"late": True}, ts=7.0)
    published = (int(checkpoint.body["records"]), str(checkpoint.body["head"]))
    rewrite(tmp_path, lines(tmp_path)[:4])

    assert verify(tmp_path, public_key).ok  # the chain alone cannot see a cut at its end
    report = verify_file(tmp_path / LOG_FILE, public_key, expect_head=published)

    assert (report.ok, report.first_bad, report.tamper) == (False, 4, Tamper.DELETED)
    assert report.problem.startswith("records 4 to 5 are missing")


def test_a_rewritten_history_is_found_against_a_checkpoint_kept_elsewhere(
    tmp_path: Path, key: Ed25519PrivateKey, public_key: Ed25519PublicKey
) -> None:
    honest = write_log(tmp_path / "honest", key, n=4)
    with AuditLog.open(tmp_path / "rewritten", key) as log:  # same key, other content from record 0 on
        log.append_many([("decision", {"device": "other"}, float(i)) for i in range(5)])
    published = (4, honest[-1].hash)

    report = verify_file(tmp_path / "rewritten" / LOG_FILE, public_key, expect_head=published)

    assert (report.ok, report.first_bad, report.tamper) == (False, 3, Tamper.CHANGED)


# -- reordered --------------------------------------------------------------------------------------------------


def test_two_swapped_lines_are_found_as_reordered(log_dir: Path, public_key: Ed25519PublicKey) -> None:
    original = lines(log_dir)
    rewrite(log_dir, [*original[:4], original[5], original[4], *original[6:]])

    report = verify(log_dir, public_key)

    assert (report.ok, report.first_bad, report.tamper) == (False, 4, Tamper.REORDERED)
    assert report.problem == "records out of order at line 5: seq 5 before 4 (reordered)"


def test_a_line_moved_to_the_end_is_found_as_reordered(log_dir: Path, public_key: Ed25519PublicKey) -> None:
    original = lines(log_dir)
    rewrite(log_dir, [*original[:2], *original[3:], original[2]])

    report = verify(log_dir, public_key)

    assert (report.first_bad, report.tamper) == (2, Tamper.REORDERED)


# -- inserted ---------------------------------------------------------------------------------------------------


def test_a_forged_line_signed_with_another_key_is_found_as_inserted(
    log_dir: Path, public_key: Ed25519PublicKey
) -> None:
    original = lines(log_dir)
    head = Record.from_line(original[3]).hash
    forged = seal(4, 3.5, "approval", {"by": "mallory"}, head, Ed25519PrivateKey.generate()).to_line()
    rewrite(log_dir, [*original[:4], forged, *original[4:]])

    report = verify(log_dir, public_key)

    assert (report.ok, report.first_bad, report.tamper) == (False, 4, Tamper.INSERTED)
    assert report.problem == (
        "line 5 is not part of the chain: its signature does not verify with this public key (inserted)"
    )


def test_an_unsigned_forged_line_is_found_as_inserted(log_dir: Path, public_key: Ed25519PublicKey) -> None:
    original = lines(log_dir)
    forged = b'{"kind":"approval","body":{"by":"mallory"}}\n'
    rewrite(log_dir, [*original[:4], forged, *original[4:]])

    report = verify(log_dir, public_key)

    assert (report.first_bad, report.tamper) == (4, Tamper.INSERTED)


def test_two_forged_lines_in_a_row_are_named_together(log_dir: Path, public_key: Ed25519PublicKey) -> None:
    original = lines(log_dir)
    rewrite(log_dir, [*original[:4], b"{}\n", b"junk\n", *original[4:]])

    report = verify(log_dir, public_key)

    assert (report.first_bad, report.tamper) == (4, Tamper.INSERTED)
    assert report.problem.startswith("lines 5 to 6 are not part of the chain")


def test_a_replayed_copy_of_a_genuine_record_is_found_as_inserted(log_dir: Path, public_key: Ed25519PublicKey) -> None:
    original = lines(log_dir)
    rewrite(log_dir, [*original[:6], original[2], *original[6:]])

    report = verify(log_dir, public_key)

    assert (report.first_bad, report.tamper) == (6, Tamper.INSERTED)
    assert "a second copy of record 2" in report.problem


def test_a_genuine_record_from_another_chain_is_found_as_inserted(
    tmp_path: Path, key: Ed25519PrivateKey, public_key: Ed25519PublicKey
) -> None:
    write_log(tmp_path / "a", key, n=6)
    with AuditLog.open(tmp_path / "b", key) as other:
        other.append_many([("policy", {"autonomy": 3}) for _ in range(5)])
    original = lines(tmp_path / "a")
    rewrite(tmp_path / "a", [*original[:4], lines(tmp_path / "b")[4], *original[4:]])

    report = verify(tmp_path / "a", public_key)

    assert (report.first_bad, report.tamper) == (4, Tamper.INSERTED)
    assert "another chain" in report.problem


def test_a_forged_line_appended_at_the_end_is_found_as_inserted(log_dir: Path, public_key: Ed25519PublicKey) -> None:
    original = lines(log_dir)
    head = Record.from_line(original[-1]).hash
    forged = seal(10, 10.0, "approval", {"by": "mallory"}, head, Ed25519PrivateKey.generate()).to_line()
    rewrite(log_dir, [*original, forged])

    report = verify(log_dir, public_key)

    assert (report.ok, report.first_bad, report.tamper, report.records) == (False, 10, Tamper.INSERTED, 10)


# -- checkpoints and torn tails ---------------------------------------------------------------------------------


def test_checkpoints_are_counted_when_they_hold(tmp_path: Path, key: Ed25519PrivateKey) -> None:
    write_log(tmp_path, key, n=12, checkpoint_every=5)

    report = verify(tmp_path, key.public_key())

    assert (report.ok, report.records, report.checkpoints) == (True, 14, 2)


def test_a_signed_checkpoint_that_misstates_the_count_fails(key: Ed25519PrivateKey) -> None:
    first = seal(0, 0.0, "decision", {}, GENESIS, key)
    second = seal(1, 1.0, "decision", {}, first.hash, key)
    checkpoint = seal(2, 1.0, "checkpoint", {"records": 3, "head": second.hash}, second.hash, key)

    report = verify_lines([r.to_line() for r in (first, second, checkpoint)], key.public_key())

    assert (report.ok, report.first_bad, report.checkpoints) == (False, 2, 0)
    assert "checkpoint that does not match" in report.problem


def test_a_torn_last_line_is_reported_but_does_not_fail(log_dir: Path, public_key: Ed25519PublicKey) -> None:
    original = lines(log_dir)
    rewrite(log_dir, [*original, original[3][:50]])

    report = verify(log_dir, public_key)

    assert (report.ok, report.records, report.torn_tail) == (True, 10, True)


def test_a_broken_last_line_with_its_newline_is_no_torn_write(log_dir: Path, public_key: Ed25519PublicKey) -> None:
    original = lines(log_dir)
    rewrite(log_dir, [*original[:-1], original[-1][:50] + b"\n"])

    report = verify(log_dir, public_key)

    assert (report.ok, report.first_bad, report.tamper, report.torn_tail) == (False, 9, Tamper.CHANGED, False)
