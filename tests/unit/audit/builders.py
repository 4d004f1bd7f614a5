"""Logs to tamper with: written by the real `AuditLog`, edited line by line as an attacker would."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from edgeloop.audit import LOG_FILE, AuditLog, Record
from edgeloop.audit.record import digest, seal


def write_log(directory: Path, key: Ed25519PrivateKey, n: int = 10, checkpoint_every: int = 100) -> list[Record]:
    """`n` decision records with ts 0..n-1 (with the default `checkpoint_every`, no checkpoints among them)."""
    with AuditLog.open(directory, key, checkpoint_every=checkpoint_every) as log:
        return [log.append("decision", {"device": f"pump-{i}", "score": 0.9}, ts=float(i)) for i in range(n)]


def lines(directory: Path) -> list[bytes]:
    return (directory / LOG_FILE).read_bytes().splitlines(keepends=True)


def rewrite(directory: Path, new_lines: list[bytes]) -> None:
    (directory / LOG_FILE).write_bytes(b"".join(new_lines))


def edit_body(line: bytes, **changes: Any) -> bytes:
    """The line with its body changed and its hash and signature left as they were."""
    data = orjson.loads(line)
    data["body"].update(changes)
    return orjson.dumps(data, option=orjson.OPT_SORT_KEYS) + b"\n"


def rehash(line: bytes) -> bytes:
    """The line with its hash recomputed for its (edited) content, and the old signature kept."""
    data = orjson.loads(line)
    data["hash"] = digest({k: v for k, v in data.items() if k not in ("hash", "sig")})
    return orjson.dumps(data, option=orjson.OPT_SORT_KEYS) + b"\n"


def resign(line: bytes, key: Ed25519PrivateKey) -> bytes:
    """The line re-hashed and re-signed with `key`: what a forger holding some other key can make."""
    record = Record.from_line(line)
    return seal(record.seq, record.ts, record.kind, record.body, record.prev, key).to_line()
