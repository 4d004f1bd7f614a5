"""Signed chain heads: a small statement "the log of site S held N records ending in hash H at time T", signed
with the log's key, published where others can keep a copy (a retained MQTT topic, the API).

Records cut from the end of a log leave no gap in the chain. Anyone who kept an earlier head catches the cut:
`edgeloop audit verify --checkpoint HEAD.json` checks the head's signature with the trusted key, then requires
the log to still hold its N records with record N-1 hashing to H.

The document is `{"site", "records", "head", "ts", "sig"}`; `sig` is base64 of the Ed25519 signature of the
canonical bytes (sorted keys, orjson) of the other four fields.

>>> from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
>>> key = Ed25519PrivateKey.generate()
>>> doc = sign_head("plant1", 42, "ab" * 32, 1_700_000_000.0, key)
>>> read_head(orjson.dumps(doc), key.public_key()).records
42
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any

import orjson
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from edgeloop.audit.directory import AuditError
from edgeloop.audit.record import canonical

_FIELDS = ("site", "records", "head", "ts")
#: the agent topic (`edgeloop/v1/{site}/_agent/audit/head`, retained) and the site file (`audit-head.json`)
AUDIT_HEAD = "audit/head"
HEAD_FILE = "audit-head.json"


@dataclass(frozen=True, slots=True)
class SignedHead:
    site: str
    records: int
    head: str
    ts: float


def sign_head(site: str, records: int, head: str, ts: float, key: Ed25519PrivateKey) -> dict[str, Any]:
    """The signed head document of a log holding `records` records whose last hash is `head`."""
    content = {"site": site, "records": records, "head": head, "ts": ts}
    return {**content, "sig": base64.b64encode(key.sign(canonical(content))).decode("ascii")}


def read_head(data: bytes, public_key: Ed25519PublicKey) -> SignedHead:
    """A head document checked against `public_key`; `AuditError` naming what is wrong otherwise."""
    try:
        doc = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise AuditError(f"a signed head must be JSON ({exc})") from None
    if not isinstance(doc, dict) or any(name not in doc for name in (*_FIELDS, "sig")):
        raise AuditError(f"a signed head is an object with {', '.join(_FIELDS)} and sig")
    site, records, head, ts = (doc[name] for name in _FIELDS)
    if not isinstance(records, int) or isinstance(records, bool) or records < 0:
        raise AuditError(f"the head's records must be an integer >= 0, not {records!r}")
    if not isinstance(head, str) or len(head) != 64 or not isinstance(site, str) or not isinstance(ts, int | float):
        raise AuditError("the head's site, head (64 hex digits) or ts is malformed")
    try:
        public_key.verify(base64.b64decode(str(doc["sig"]), validate=True), canonical({n: doc[n] for n in _FIELDS}))
    except (InvalidSignature, binascii.Error, ValueError):
        raise AuditError("the head's signature does not verify with the trusted key: not this log's head") from None
    return SignedHead(site, records, head, float(ts))
