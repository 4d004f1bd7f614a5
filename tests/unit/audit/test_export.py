"""Export: a JSONL copy and a public key that verify offline, with nothing else at hand."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from tests.unit.audit.builders import edit_body, lines, rewrite

from edgeloop.audit import (
    LOG_FILE,
    AuditError,
    AuditLog,
    Tamper,
    export,
    load_or_create_key,
    load_public_key,
    verify_file,
)


@pytest.fixture
def site_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "site" / "audit"
    with AuditLog.open(directory, load_or_create_key(directory), checkpoint_every=4) as log:
        log.append_many([("decision", {"i": i}, float(i)) for i in range(10)])
    return directory


def test_an_export_verifies_offline_with_only_its_public_key(site_dir: Path, tmp_path: Path) -> None:
    done = export(site_dir, tmp_path / "out" / "factory.jsonl")
    auditor = tmp_path / "auditor"
    auditor.mkdir()
    shutil.copy(done.path, auditor / "factory.jsonl")
    shutil.copy(done.public_key, auditor / "factory.pub")
    shutil.rmtree(tmp_path / "site")  # no key, no log: the auditor has the two files only

    report = verify_file(auditor / "factory.jsonl", load_public_key(auditor / "factory.pub"))

    assert (report.ok, report.records, report.checkpoints) == (True, 13, 3)


def test_an_export_is_the_logs_lines_byte_for_byte(site_dir: Path, tmp_path: Path) -> None:
    done = export(site_dir, tmp_path / "factory.jsonl")

    assert done.path.read_bytes() == (site_dir / LOG_FILE).read_bytes()
    assert (done.records, done.public_key) == (13, tmp_path / "factory.pub")


def test_an_export_leaves_out_a_torn_last_line(site_dir: Path, tmp_path: Path) -> None:
    with (site_dir / LOG_FILE).open("ab") as f:
        f.write(b'{"body":{"i":')

    done = export(site_dir, tmp_path / "factory.jsonl")

    assert (done.records, done.skipped_bytes) == (13, 13)
    assert done.path.read_bytes().endswith(b"}\n")


def test_a_tampered_log_exports_as_a_file_that_fails(site_dir: Path, tmp_path: Path) -> None:
    original = lines(site_dir)
    rewrite(site_dir, [*original[:3], edit_body(original[3], i=99), *original[4:]])

    done = export(site_dir, tmp_path / "factory.jsonl")
    report = verify_file(done.path, load_public_key(done.public_key))

    assert (report.ok, report.first_bad, report.tamper) == (False, 3, Tamper.CHANGED)


def test_an_export_onto_the_log_itself_is_refused(site_dir: Path) -> None:
    with pytest.raises(AuditError, match="would overwrite"):
        export(site_dir, site_dir / LOG_FILE)


def test_an_export_of_a_directory_without_a_log_is_refused(tmp_path: Path) -> None:
    load_or_create_key(tmp_path)

    with pytest.raises(AuditError, match=r"no audit\.jsonl"):
        export(tmp_path, tmp_path / "out.jsonl")


def test_the_exported_key_is_the_logs_key(site_dir: Path, tmp_path: Path) -> None:
    done = export(site_dir, tmp_path / "factory.jsonl")

    other = Ed25519PrivateKey.generate().public_key()
    assert load_public_key(done.public_key).public_bytes_raw() != other.public_bytes_raw()
    assert verify_file(done.path, other).ok is False
