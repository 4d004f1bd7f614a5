"""The agent's Ed25519 signing key: made on first run, kept with mode 0600, its public half exported beside it.

Files in the key directory: `audit.key` (PKCS#8 PEM, mode 0600; encrypted at rest when a passphrase is given) and
`audit.pub` (SubjectPublicKeyInfo PEM), also written to `public_dir` (the log's directory) when the key is kept
in a directory of its own. Only the holder of `audit.key` can extend the log. Which public key a verifier should
trust is `edgeloop.audit.trust`'s concern: never simply the `audit.pub` beside the log.

>>> import tempfile
>>> directory = Path(tempfile.mkdtemp()) / "audit"
>>> key = load_or_create_key(directory)
>>> oct((directory / KEY_FILE).stat().st_mode & 0o777), oct(directory.stat().st_mode & 0o777)
('0o600', '0o700')
>>> load_public_key(directory / PUBLIC_KEY_FILE) == key.public_key()
True
>>> load_or_create_key(directory).private_bytes_raw() == key.private_bytes_raw()
True
"""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from edgeloop.audit.directory import KEY_FILE, PUBLIC_KEY_FILE, AuditError, fsync_dir, write_atomic


def load_or_create_key(
    directory: Path, passphrase: bytes | None = None, public_dir: Path | None = None
) -> Ed25519PrivateKey:
    """The key in `directory/audit.key`, made (with the directory) on first use; `audit.pub` is kept matching
    in `directory` and in `public_dir`.

    With a `passphrase` the key is kept encrypted (PKCS#8, the best encryption `cryptography` offers); a key
    found unencrypted is encrypted in place. Without one, an encrypted key raises `AuditError`.

    Two processes starting at once end with the same key: the file is created complete under a temporary name
    and linked into place, and the one that loses the race loads the winner's.
    """
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = directory / KEY_FILE
    if path.exists():
        key, encrypted = _load_private_key(path, passphrase)
        if passphrase and not encrypted:
            _write_key(path, key, passphrase, replace=True)
    else:
        key = _create_key(path, passphrase)
    if path.stat().st_mode & 0o077:  # a key copied in with wider rights: only this user may read it
        os.chmod(path, 0o600)
    for where in {directory, public_dir or directory}:
        where.mkdir(parents=True, exist_ok=True, mode=0o700)
        public = where / PUBLIC_KEY_FILE
        if not public.exists() or public.read_bytes() != public_pem(key.public_key()):
            export_public_key(key, public)
    return key


def public_pem(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def export_public_key(key: Ed25519PrivateKey | Ed25519PublicKey, path: Path) -> Path:
    """Write the public key as PEM to `path` (atomically) and return the path."""
    public = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    return write_atomic(path, public_pem(public))


def load_public_key(path: Path) -> Ed25519PublicKey:
    """An Ed25519 public key from a PEM file or a file of its 32 raw bytes."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise AuditError(f"cannot read public key {path}: {exc.strerror}", path) from exc
    if len(data) == 32:
        return Ed25519PublicKey.from_public_bytes(data)
    try:
        key = serialization.load_pem_public_key(data)
    except ValueError as exc:
        raise AuditError(f"{path} is neither a PEM public key nor 32 raw key bytes", path) from exc
    if not isinstance(key, Ed25519PublicKey):
        raise AuditError(f"{path} holds a {type(key).__name__}, not an Ed25519 public key", path)
    return key


def _load_private_key(path: Path, passphrase: bytes | None = None) -> tuple[Ed25519PrivateKey, bool]:
    """The key, and whether it was encrypted in its file."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise AuditError(f"cannot load the audit key {path}: {exc}", path) from exc
    encrypted = b"ENCRYPTED" in data.split(b"\n", 1)[0]
    if encrypted and not passphrase:
        raise AuditError(
            f"the audit key {path} is encrypted: give its passphrase (EDGELOOP_AGENT__AUDIT_PASSPHRASE)",
            path,
        )
    try:
        key = serialization.load_pem_private_key(data, password=passphrase if encrypted else None)
    except (ValueError, TypeError) as exc:
        raise AuditError(f"cannot load the audit key {path}: {exc}", path) from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise AuditError(f"{path} holds a {type(key).__name__}, not an Ed25519 private key", path)
    return key, encrypted


def _create_key(path: Path, passphrase: bytes | None = None) -> Ed25519PrivateKey:
    key = Ed25519PrivateKey.generate()
    if not _write_key(path, key, passphrase, replace=False):
        return _load_private_key(path, passphrase)[0]
    return key


def _write_key(path: Path, key: Ed25519PrivateKey, passphrase: bytes | None, replace: bool) -> bool:
    """Write the key file; False when it exists already and `replace` is off (another process made it)."""
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(passphrase) if passphrase else serialization.NoEncryption()
    )
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    # created 0600 from the first byte: there is no moment at which others could read it
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.fchmod(fd, 0o600)  # the umask could only have narrowed it; make it exact
        os.write(fd, pem)
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        if replace:
            os.replace(tmp, path)
        else:
            os.link(tmp, path)  # fails if another process made the key first: then theirs is the key
    except FileExistsError:
        return False
    finally:
        tmp.unlink(missing_ok=True)
    fsync_dir(path.parent)
    return True
