"""The signing key: made once with mode 0600, reused, its public half exported and loadable."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from edgeloop.audit import KEY_FILE, PUBLIC_KEY_FILE, AuditError, export_public_key, load_or_create_key, load_public_key


@pytest.fixture
def open_umask() -> Iterator[None]:
    """A umask that lets everyone read new files, so only the code itself can make the key private."""
    old = os.umask(0)
    yield
    os.umask(old)


@pytest.mark.usefixtures("open_umask")
def test_the_key_file_is_made_with_mode_0600_whatever_the_umask(tmp_path: Path) -> None:
    load_or_create_key(tmp_path / "audit")

    assert (tmp_path / "audit" / KEY_FILE).stat().st_mode & 0o777 == 0o600


def test_the_key_is_made_once_and_then_reused(tmp_path: Path) -> None:
    first = load_or_create_key(tmp_path)
    second = load_or_create_key(tmp_path)

    assert second.private_bytes_raw() == first.private_bytes_raw()


def test_the_public_key_is_exported_beside_the_key(tmp_path: Path) -> None:
    key = load_or_create_key(tmp_path)

    assert load_public_key(tmp_path / PUBLIC_KEY_FILE).public_bytes_raw() == key.public_key().public_bytes_raw()


def test_a_missing_or_wrong_public_key_file_is_restored(tmp_path: Path) -> None:
    key = load_or_create_key(tmp_path)
    export_public_key(Ed25519PrivateKey.generate(), tmp_path / PUBLIC_KEY_FILE)

    load_or_create_key(tmp_path)

    assert load_public_key(tmp_path / PUBLIC_KEY_FILE).public_bytes_raw() == key.public_key().public_bytes_raw()


def test_a_public_key_loads_from_its_32_raw_bytes(tmp_path: Path) -> None:
    key = Ed25519PrivateKey.generate().public_key()
    (tmp_path / "raw.pub").write_bytes(key.public_bytes_raw())

    assert load_public_key(tmp_path / "raw.pub").public_bytes_raw() == key.public_bytes_raw()


def test_a_file_that_is_no_public_key_is_refused(tmp_path: Path) -> None:
    (tmp_path / "junk.pub").write_bytes(b"not a key at all")

    with pytest.raises(AuditError, match="neither a PEM public key"):
        load_public_key(tmp_path / "junk.pub")


def test_a_damaged_key_file_is_refused_not_replaced(tmp_path: Path) -> None:
    (tmp_path / KEY_FILE).write_bytes(b"-----BEGIN PRIVATE KEY-----\ngarbage\n")

    with pytest.raises(AuditError, match="cannot load the audit key"):
        load_or_create_key(tmp_path)
    assert (tmp_path / KEY_FILE).read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----\ngarbage")
