"""Trust: a verifier takes its key from out of band (a key file, a fingerprint, the pin made at creation),
so a key pair swapped beside the log is found, and the signing key can be encrypted at rest."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from edgeloop.audit import KEY_FILE, PUBLIC_KEY_FILE, AuditError, AuditLog, export_public_key, load_or_create_key
from edgeloop.audit.trust import fingerprint, load_pinned_key, pinned_key, trust_anchor


def test_a_new_key_is_pinned_outside_the_log_directory(tmp_path: Path) -> None:
    pins = tmp_path / "config" / "pins.json"

    key = load_pinned_key(tmp_path / "audit", pins=pins)

    assert pinned_key(pins, tmp_path / "audit") == key.public_key()
    assert pins.stat().st_mode & 0o777 == 0o600


def test_the_pin_is_the_anchor_and_says_so(tmp_path: Path) -> None:
    pins = tmp_path / "pins.json"
    key = load_pinned_key(tmp_path / "audit", pins=pins)

    anchor = trust_anchor(tmp_path / "audit", pins=pins)

    assert anchor.key == key.public_key()
    assert "trust on first use" in anchor.source


def test_a_swapped_key_pair_does_not_change_the_trusted_key(tmp_path: Path) -> None:
    pins, audit = tmp_path / "pins.json", tmp_path / "audit"
    key = load_pinned_key(audit, pins=pins)
    forger = Ed25519PrivateKey.generate()
    export_public_key(forger, audit / PUBLIC_KEY_FILE)

    assert trust_anchor(audit, pins=pins).key == key.public_key()


def test_the_agent_refuses_a_swapped_key_for_a_log_with_records(tmp_path: Path) -> None:
    pins, audit = tmp_path / "pins.json", tmp_path / "audit"
    with AuditLog.open(audit, load_pinned_key(audit, pins=pins)) as log:
        log.append("decision", {"i": 1}, ts=1.0)
    (audit / KEY_FILE).unlink()  # a new key would be made: the pin of a log with records must not follow it

    with pytest.raises(AuditError, match="replaced"):
        load_pinned_key(audit, pins=pins)


def test_a_fingerprint_anchor_refuses_a_key_that_does_not_match(tmp_path: Path) -> None:
    key = load_or_create_key(tmp_path)
    export_public_key(Ed25519PrivateKey.generate(), tmp_path / PUBLIC_KEY_FILE)

    with pytest.raises(AuditError, match="does not match"):
        trust_anchor(tmp_path, expected_fingerprint=fingerprint(key.public_key()))


def test_without_an_anchor_the_key_beside_the_log_is_not_trusted(tmp_path: Path) -> None:
    load_or_create_key(tmp_path)

    with pytest.raises(AuditError, match="not trusted on its own"):
        trust_anchor(tmp_path, pins=tmp_path / "no-pins.json")


def test_a_key_with_a_passphrase_is_encrypted_at_rest_and_needs_it(tmp_path: Path) -> None:
    key = load_or_create_key(tmp_path, b"correct horse")

    assert b"ENCRYPTED" in (tmp_path / KEY_FILE).read_bytes()
    assert load_or_create_key(tmp_path, b"correct horse").private_bytes_raw() == key.private_bytes_raw()
    with pytest.raises(AuditError, match="encrypted"):
        load_or_create_key(tmp_path)
    with pytest.raises(AuditError, match="cannot load"):
        load_or_create_key(tmp_path, b"wrong")


def test_a_plain_key_given_a_passphrase_is_encrypted_in_place(tmp_path: Path) -> None:
    key = load_or_create_key(tmp_path)

    again = load_or_create_key(tmp_path, b"pass")

    assert again.private_bytes_raw() == key.private_bytes_raw()
    assert b"ENCRYPTED" in (tmp_path / KEY_FILE).read_bytes()


def test_a_key_kept_in_its_own_directory_exports_its_public_half_to_the_log(tmp_path: Path) -> None:
    key = load_pinned_key(tmp_path / "audit", tmp_path / "keys", pins=tmp_path / "pins.json")

    assert not (tmp_path / "audit" / KEY_FILE).exists()
    assert (tmp_path / "keys" / KEY_FILE).stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "audit" / PUBLIC_KEY_FILE).exists()
    assert pinned_key(tmp_path / "pins.json", tmp_path / "audit") == key.public_key()
