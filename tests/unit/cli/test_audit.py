"""`edgeloop audit verify|export` as a user runs them: exit codes and what they print."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from tests.unit.audit.builders import edit_body, lines, rewrite
from typer.testing import CliRunner

from edgeloop.audit import GENESIS, PUBLIC_KEY_FILE, AuditLog, Record, export_public_key
from edgeloop.audit.record import seal
from edgeloop.audit.trust import fingerprint, load_pinned_key
from edgeloop.cli.audit import audit_app, store_site_of

runner = CliRunner()


def where(audit_dir: Path) -> list[str]:
    """The options that find a site's log: its data directory and site id (the log is <data-dir>/<site>/audit)."""
    return ["--data-dir", str(audit_dir.parent.parent), "--site", audit_dir.parent.name]


@pytest.fixture
def audit_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "var" / "factory" / "audit"
    with AuditLog.open(directory, load_pinned_key(directory), checkpoint_every=5) as log:
        log.append_many([("decision", {"i": i}, float(i)) for i in range(12)])
    return directory


def test_verify_exits_0_and_says_ok_for_a_sound_log(audit_dir: Path) -> None:
    result = runner.invoke(audit_app, ["verify", *where(audit_dir)])

    assert result.exit_code == 0, result.output
    assert "14 records, 2 checkpoints" in result.stdout
    assert "OK" in result.stdout
    assert "trust on first use" in result.stdout


def test_verify_catches_a_log_re_signed_with_a_swapped_key_pair(audit_dir: Path) -> None:
    forger = Ed25519PrivateKey.generate()
    resigned, prev = [], GENESIS
    for r in (Record.from_line(line) for line in lines(audit_dir)):  # edit record 3, re-hash and re-sign all
        body = (
            {"records": r.seq, "head": prev}
            if r.kind == "checkpoint"
            else {**r.body, "i": 99}
            if r.seq == 3
            else r.body
        )
        resigned.append(seal(r.seq, r.ts, r.kind, body, prev, forger))
        prev = resigned[-1].hash
    rewrite(audit_dir, [r.to_line() for r in resigned])
    export_public_key(forger, audit_dir / PUBLIC_KEY_FILE)
    (audit_dir / "audit.key").unlink()

    result = runner.invoke(
        audit_app, ["verify", "--data-dir", str(audit_dir.parent.parent), "--site", audit_dir.parent.name]
    )
    with_forged_key = runner.invoke(
        audit_app,
        [
            "verify",
            "--data-dir",
            str((audit_dir).parent.parent),
            "--site",
            (audit_dir).parent.name,
            "--key",
            str(audit_dir / PUBLIC_KEY_FILE),
        ],
    )

    assert result.exit_code == 1
    assert "line 1" in result.stdout
    assert with_forged_key.exit_code == 0  # the forgery is self-consistent: only an out-of-band key finds it


def test_verify_trusts_a_fingerprint_from_the_command_line_or_the_settings(
    audit_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from edgeloop.audit import load_public_key

    good = fingerprint(load_public_key(audit_dir / PUBLIC_KEY_FILE))
    wrong = "ab" * 32

    ok = runner.invoke(
        audit_app,
        [
            "verify",
            "--data-dir",
            str((audit_dir).parent.parent),
            "--site",
            (audit_dir).parent.name,
            "--fingerprint",
            good,
        ],
    )
    refused = runner.invoke(
        audit_app,
        [
            "verify",
            "--data-dir",
            str((audit_dir).parent.parent),
            "--site",
            (audit_dir).parent.name,
            "--fingerprint",
            wrong,
        ],
    )

    assert ok.exit_code == 0, ok.output
    assert "the fingerprint given" in ok.stdout
    assert refused.exit_code == 2
    assert "does not match" in refused.stderr


def test_verify_exits_1_and_names_the_first_bad_record_of_a_tampered_log(audit_dir: Path) -> None:
    original = lines(audit_dir)
    rewrite(audit_dir, [*original[:3], edit_body(original[3], i=99), *original[4:]])

    result = runner.invoke(audit_app, ["verify", *where(audit_dir)])

    assert result.exit_code == 1
    assert "record 3 (line 4) was changed" in result.stdout


def test_verify_exits_2_when_there_is_no_log(tmp_path: Path) -> None:
    result = runner.invoke(audit_app, ["verify", "--data-dir", str(tmp_path)])

    assert result.exit_code == 2
    assert "no audit log" in result.stderr


def test_an_export_verifies_offline_by_file_and_public_key(audit_dir: Path, tmp_path: Path) -> None:
    exported = runner.invoke(audit_app, ["export", *where(audit_dir), "--out", str(tmp_path / "f.jsonl")])
    assert exported.exit_code == 0, exported.output
    (audit_dir / "audit.key").unlink()

    result = runner.invoke(audit_app, ["verify", "--file", str(tmp_path / "f.jsonl"), "--key", str(tmp_path / "f.pub")])

    assert result.exit_code == 0, result.output
    assert "14 records" in result.stdout


def test_verify_of_a_file_does_not_trust_the_key_beside_it_alone(audit_dir: Path, tmp_path: Path) -> None:
    runner.invoke(audit_app, ["export", *where(audit_dir), "--out", str(tmp_path / "f.jsonl")])
    from edgeloop.audit import load_public_key

    alone = runner.invoke(audit_app, ["verify", "--file", str(tmp_path / "f.jsonl")])
    good = fingerprint(load_public_key(tmp_path / "f.pub"))
    matched = runner.invoke(audit_app, ["verify", "--file", str(tmp_path / "f.jsonl"), "--fingerprint", good])

    assert alone.exit_code == 2
    assert "not trusted" in alone.stderr
    assert matched.exit_code == 0, matched.output


def test_verify_expect_catches_records_cut_from_the_end(audit_dir: Path) -> None:
    original = lines(audit_dir)
    rewrite(audit_dir, original[:8])
    checkpoint = Record.from_line(original[10]).body  # the checkpoint at seq 10, as kept elsewhere
    expect = f"{checkpoint['records']}:{checkpoint['head']}"

    result = runner.invoke(audit_app, ["verify", *where(audit_dir), "--expect", expect])

    assert result.exit_code == 1
    assert "records 8 to 9 are missing" in result.stdout


def test_the_default_directory_comes_from_the_settings(
    audit_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EDGELOOP_AGENT__DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("EDGELOOP_AGENT__SITE", "factory")

    result = runner.invoke(audit_app, ["verify"])

    assert result.exit_code == 0, result.output
    assert str(audit_dir / "audit.jsonl") in result.stdout


def test_a_partitions_log_folder_names_its_own_rows_in_a_shared_store(tmp_path: Path) -> None:
    assert store_site_of(tmp_path / "plant-a") == "plant-a"
    assert store_site_of(tmp_path / "plant-a" / "p1of4") == "plant-a--p1of4"
