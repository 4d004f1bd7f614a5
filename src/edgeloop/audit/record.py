"""One record of the audit log: its canonical bytes, its hash, its signature, and its line.

A record's *content* is the JSON object `{"seq", "ts", "kind", "body", "prev"}`. Its canonical bytes are that
object serialized by orjson with sorted keys (no spaces, UTF-8). Then

- `hash` = hex SHA-256 of the canonical content bytes, so it covers `prev` and through it the whole chain;
- `sig`  = base64 of the Ed25519 signature of the 32 raw bytes of that digest;
- `prev` = the previous record's `hash` (`GENESIS`, 64 zeros, for record 0).

The line is the content plus `hash` and `sig`, serialized the same way, and a newline.

>>> from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
>>> key = Ed25519PrivateKey.generate()
>>> first = seal(0, 1.5, "decision", {"device": "pump-1"}, GENESIS, key)
>>> second = seal(1, 2.0, "ack", {"status": "done"}, first.hash, key)
>>> back = Record.from_line(second.to_line())
>>> back == second, back.intact(), back.signed_by(key.public_key())
(True, True, True)
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import orjson
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

GENESIS = "0" * 64
FIELDS = frozenset({"seq", "ts", "kind", "body", "prev", "hash", "sig"})
KIND_PATTERN = re.compile(r"[a-z][a-z0-9_]{0,31}")
_HEX64 = re.compile(r"[0-9a-f]{64}")


class Kind(StrEnum):
    """The kinds the agent writes. Any other `[a-z][a-z0-9_]{0,31}` kind may be appended too."""

    DECISION = "decision"
    COMMAND = "command"
    ACK = "ack"
    APPROVAL = "approval"
    VERDICT = "verdict"
    PROMOTION = "promotion"
    POLICY = "policy"
    OUTCOME = "outcome"
    LEDGER = "ledger"  # {"entries": [Entry.to_json(), ...]}: ROI ledger entries booked together
    CHECKPOINT = "checkpoint"  # written by the log itself: {"records": n, "head": hash of record n-1}
    RECOVERY = "recovery"  # written by the log itself after it dropped a torn last line on opening


#: kinds only the log writes; `AuditLog.append` refuses them
RESERVED = frozenset({Kind.CHECKPOINT, Kind.RECOVERY})


class RecordError(ValueError):
    """A line that is not a well-formed record. `reason` says what is wrong with it."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


def canonical(content: Mapping[str, Any]) -> bytes:
    """The canonical bytes of a JSON object: orjson, keys sorted at every level.

    >>> canonical({"b": 1, "a": {"y": 2.0, "x": None}})
    b'{"a":{"x":null,"y":2.0},"b":1}'
    """
    return orjson.dumps(content, option=orjson.OPT_SORT_KEYS)


def digest(content: Mapping[str, Any]) -> str:
    """The hex SHA-256 of a content's canonical bytes."""
    return hashlib.sha256(canonical(content)).hexdigest()


@dataclass(frozen=True, slots=True)
class Record:
    """A record as written: `body` is plain JSON data (dicts, lists, str, int, float, bool, None)."""

    seq: int
    ts: float
    kind: str
    body: Mapping[str, Any]
    prev: str
    hash: str
    sig: str

    def content(self) -> dict[str, Any]:
        """What `hash` covers: every field but `hash` and `sig`."""
        return {"seq": self.seq, "ts": self.ts, "kind": self.kind, "body": self.body, "prev": self.prev}

    def to_line(self) -> bytes:
        return canonical({**self.content(), "hash": self.hash, "sig": self.sig}) + b"\n"

    def intact(self) -> bool:
        """True when `hash` is the hash of the content: nothing was changed since it was hashed."""
        return digest(self.content()) == self.hash

    def signed_by(self, public_key: Ed25519PublicKey) -> bool:
        """True when `sig` is this key's signature of `hash`: the key's holder wrote a record with this hash."""
        try:
            public_key.verify(base64.b64decode(self.sig, validate=True), bytes.fromhex(self.hash))
        except (InvalidSignature, binascii.Error, ValueError):
            return False
        return True

    @classmethod
    def from_line(cls, line: bytes) -> Record:
        """Parse one line (with or without its newline); raise `RecordError` naming what is wrong.

        Parsing checks the shape only; `intact` and `signed_by` check the content.

        >>> Record.from_line(b'{"seq": 0}')
        Traceback (most recent call last):
        ...
        edgeloop.audit.record.RecordError: missing fields: body, hash, kind, prev, sig, ts
        """
        try:
            data = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            raise RecordError(f"not JSON ({exc})") from None
        if not isinstance(data, dict):
            raise RecordError(f"not a JSON object but {type(data).__name__}")
        if missing := FIELDS - data.keys():
            raise RecordError(f"missing fields: {', '.join(sorted(missing))}")
        if extra := data.keys() - FIELDS:
            raise RecordError(f"unexpected fields: {', '.join(sorted(extra))}")
        seq, ts, kind, body = data["seq"], data["ts"], data["kind"], data["body"]
        if not isinstance(seq, int) or isinstance(seq, bool) or seq < 0:
            raise RecordError(f"seq must be an integer >= 0, not {seq!r}")
        if not isinstance(ts, int | float) or isinstance(ts, bool):
            raise RecordError(f"ts must be a number, not {ts!r}")
        if not isinstance(kind, str) or not KIND_PATTERN.fullmatch(kind):
            raise RecordError(f"kind must match {KIND_PATTERN.pattern}, not {kind!r}")
        if not isinstance(body, dict):
            raise RecordError(f"body must be an object, not {type(body).__name__}")
        for name in ("prev", "hash"):
            if not isinstance(data[name], str) or not _HEX64.fullmatch(data[name]):
                raise RecordError(f"{name} must be 64 lowercase hex digits")
        if not isinstance(data["sig"], str):
            raise RecordError("sig must be a base64 string")
        return cls(seq, ts, kind, body, data["prev"], data["hash"], data["sig"])


def plain_body(body: Mapping[str, Any]) -> dict[str, Any]:
    """The body as it will read back from its line (e.g. tuples become lists, NaN becomes None).

    Raises `TypeError` for what JSON cannot hold (non-string keys, integers beyond 64 bits, arbitrary objects).

    >>> plain_body({"args": (1, 2), "x": float("nan")})
    {'args': [1, 2], 'x': None}
    """
    data: dict[str, Any] = orjson.loads(orjson.dumps(dict(body)))
    return data


def seal(seq: int, ts: float, kind: str, body: Mapping[str, Any], prev: str, key: Ed25519PrivateKey) -> Record:
    """Hash and sign a record. `body` must already be plain JSON data (see `plain_body`)."""
    content = {"seq": seq, "ts": ts, "kind": kind, "body": body, "prev": prev}
    raw = hashlib.sha256(canonical(content)).digest()
    return Record(seq, ts, kind, body, prev, raw.hex(), base64.b64encode(key.sign(raw)).decode("ascii"))
