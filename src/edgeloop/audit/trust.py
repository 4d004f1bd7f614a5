"""Which public key a verifier trusts: one given out of band, never the `audit.pub` lying beside the log.

Whoever can edit the log can also replace `audit.pub` (and `audit.key`) in its directory, so a key found there
proves nothing. A verifier takes its key from a *trust anchor*, in this order:

1. a key file given explicitly (`edgeloop audit verify --key FILE`), e.g. one the auditor keeps;
2. a fingerprint (hex SHA-256 of the 32 raw key bytes) given on the command line or in the site config
   (`agent.audit_fingerprint`): the key beside the log is used only if its fingerprint matches;
3. the key *pinned* when it was created (trust on first use): `load_or_create_key` records the public key of
   each log directory in a pin file in the user's config directory (`$XDG_CONFIG_HOME/edgeloop/audit-pins.json`,
   mode 0600), outside the log's directory. A key pair swapped later no longer matches the pin.

With none of these, verification refuses rather than trust the key beside the log.

>>> import tempfile
>>> from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
>>> pins = Path(tempfile.mkdtemp()) / "pins.json"
>>> key = Ed25519PrivateKey.generate().public_key()
>>> pin_key(pins, Path("/srv/site/audit"), key)
True
>>> pinned_key(pins, Path("/srv/site/audit")) == key
True
>>> len(fingerprint(key))
64
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from edgeloop.audit.directory import LOG_FILE, PUBLIC_KEY_FILE, AuditError, write_atomic
from edgeloop.audit.keys import load_or_create_key, load_public_key

PINS_FILE = "audit-pins.json"


def fingerprint(key: Ed25519PublicKey) -> str:
    """The hex SHA-256 of the key's 32 raw bytes: short enough to put in a config file or read over the phone."""
    return hashlib.sha256(key.public_bytes_raw()).hexdigest()


def normal_fingerprint(text: str) -> str:
    """A fingerprint as given (`sha256:` prefix, colons and case allowed), as 64 lowercase hex digits.

    >>> normal_fingerprint("SHA256:" + "AB" * 32) == "ab" * 32
    True
    """
    value = text.strip().lower().removeprefix("sha256:").replace(":", "")
    if len(value) != 64 or any(c not in "0123456789abcdef" for c in value):
        raise AuditError(f"a key fingerprint is 64 hex digits (SHA-256 of the raw key), not {text!r}")
    return value


def default_pins_path() -> Path:
    """`$XDG_CONFIG_HOME/edgeloop/audit-pins.json` (`~/.config/...` without it): outside every data directory."""
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "edgeloop" / PINS_FILE


def _entry_name(log_dir: Path) -> str:
    return str(log_dir.resolve())


def read_pins(pins: Path) -> dict[str, Any]:
    try:
        data = orjson.loads(pins.read_bytes())
    except FileNotFoundError:
        return {}
    except (OSError, orjson.JSONDecodeError) as exc:
        raise AuditError(f"cannot read the key pins {pins}: {exc}", pins) from exc
    if not isinstance(data, dict):
        raise AuditError(f"the key pins {pins} are not a JSON object", pins)
    return data


@contextlib.contextmanager
def _locked(pins: Path) -> Iterator[None]:
    pins.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(pins.with_name(f".{pins.name}.lock"), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def pinned_entry(pins: Path, log_dir: Path) -> dict[str, Any] | None:
    entry = read_pins(pins).get(_entry_name(log_dir))
    return entry if isinstance(entry, dict) else None


def pinned_key(pins: Path, log_dir: Path) -> Ed25519PublicKey | None:
    """The public key pinned for the log in `log_dir`, or None when there is no pin."""
    entry = pinned_entry(pins, log_dir)
    if entry is None:
        return None
    try:
        return Ed25519PublicKey.from_public_bytes(bytes.fromhex(str(entry["public_key"])))
    except (KeyError, ValueError) as exc:
        raise AuditError(f"the pin of {log_dir} in {pins} is not a valid key", pins) from exc


def pin_key(pins: Path, log_dir: Path, key: Ed25519PublicKey, replace: bool = False) -> bool:
    """Pin `key` for the log in `log_dir`; whether a pin was written (False: the same key was pinned already).

    An existing pin of another key is kept and `AuditError` raised, unless `replace` (a new log, no records yet).
    """
    name = _entry_name(log_dir)
    with _locked(pins):
        data = read_pins(pins)
        old = data.get(name)
        if isinstance(old, dict) and old.get("public_key") == key.public_bytes_raw().hex():
            return False
        if isinstance(old, dict) and not replace:
            raise AuditError(
                f"the audit key of {log_dir} is not the key pinned for it in {pins} (fingerprint "
                f"{old.get('fingerprint', '?')[:16]}...): the key pair was replaced; not using it",
                pins,
            )
        data[name] = {"public_key": key.public_bytes_raw().hex(), "fingerprint": fingerprint(key),
                      "pinned_at": time.time()}  # fmt: skip
        write_atomic(pins, orjson.dumps(data, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS))
        os.chmod(pins, 0o600)
    return True


@dataclass(frozen=True, slots=True)
class TrustAnchor:
    """The key a verification trusts, and where that trust comes from (printed with the verdict)."""

    key: Ed25519PublicKey
    source: str

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.key)


def trust_anchor(
    log_dir: Path,
    key_file: Path | None = None,
    expected_fingerprint: str | None = None,
    pins: Path | None = None,
    fingerprint_source: str = "the fingerprint given",
) -> TrustAnchor:
    """The key to verify the log in `log_dir` with, from the first anchor there is (see the module's doc).

    Raises `AuditError` when there is no anchor, or when the key beside the log does not match the fingerprint.
    """
    if key_file is not None:
        return TrustAnchor(load_public_key(key_file), f"the key given in {key_file}")
    if expected_fingerprint is not None:
        want = normal_fingerprint(expected_fingerprint)
        beside = load_public_key(log_dir / PUBLIC_KEY_FILE)
        if fingerprint(beside) != want:
            raise AuditError(
                f"the public key beside the log ({fingerprint(beside)[:16]}...) does not match {fingerprint_source} "
                f"({want[:16]}...): the key pair was replaced",
                log_dir / PUBLIC_KEY_FILE,
            )
        return TrustAnchor(beside, f"{fingerprint_source} ({want[:16]}...)")
    pins = pins or default_pins_path()
    pinned = pinned_key(pins, log_dir)
    if pinned is not None:
        entry = pinned_entry(pins, log_dir) or {}
        when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(float(entry.get("pinned_at", 0))))
        return TrustAnchor(pinned, f"the key pinned at its creation ({when}) in {pins} (trust on first use)")
    raise AuditError(
        f"no trusted key for {log_dir}: give --key FILE or --fingerprint, or set agent.audit_fingerprint; the "
        f"{PUBLIC_KEY_FILE} beside the log is not trusted on its own (whoever edits the log can replace it)",
        log_dir,
    )


def load_pinned_key(
    log_dir: Path, key_dir: Path | None = None, passphrase: bytes | None = None, pins: Path | None = None
) -> Ed25519PrivateKey:
    """The signing key of the log in `log_dir` (kept in `key_dir`, by default `log_dir`), made on first use and
    pinned in `pins` (default `default_pins_path()`) the first time it is seen.

    A key that does not match the pin of a log with records in it raises `AuditError`: the key pair was
    swapped. A log with no records yet (a fresh data directory) takes its new key's pin.
    """
    key = load_or_create_key(key_dir or log_dir, passphrase, public_dir=log_dir)
    log = log_dir / LOG_FILE
    fresh = not log.exists() or log.stat().st_size == 0
    pin_key(pins or default_pins_path(), log_dir, key.public_key(), replace=fresh)
    return key
