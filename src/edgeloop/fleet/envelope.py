"""Signed knowledge messages, and which site keys a peer trusts.

A knowledge message is `{"body": <summary>, "key": <hex Ed25519 public key>, "sig": <hex signature>}`, the
signature over the body's canonical JSON (sorted keys, orjson). The key is the site agent's audit key
(`edgeloop.audit.keys`), so one key per site signs both its decision log and its knowledge.

Which keys a peer accepts (`Trust`): with a configured allow-list (`fleet.trusted_keys`, site id -> hex public
key) only listed sites with their listed key; without one, trust on first use: the first key seen for a site
id is pinned for the life of the process, and a later message for that site under another key is refused. A
signature stops tampering and impersonation of a known site; it does not make a site honest, which is what the
robust merge is for.

>>> from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
>>> key = Ed25519PrivateKey.generate()
>>> payload = seal({"site": "s1", "x": 1}, key)
>>> body, signer = unseal(payload)
>>> body, signer == public_hex(key)
({'site': 's1', 'x': 1}, True)
>>> unseal(payload.replace(b'"x":1', b'"x":2'))
Traceback (most recent call last):
edgeloop.fleet.knowledge.KnowledgeError: bad signature
>>> trust = Trust()
>>> trust.check("s1", signer), trust.check("s1", public_hex(Ed25519PrivateKey.generate()))
(None, 'site s1 signs with another key than the one first seen (trust on first use)')
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from edgeloop.fleet.knowledge import KnowledgeError

MAX_MESSAGE = 64 * 1024


def public_hex(key: Ed25519PrivateKey | Ed25519PublicKey) -> str:
    public = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    return public.public_bytes_raw().hex()


def canonical(body: Mapping[str, Any]) -> bytes:
    return orjson.dumps(body, option=orjson.OPT_SORT_KEYS)


def seal(body: Mapping[str, Any], key: Ed25519PrivateKey) -> bytes:
    """The signed message for `body`."""
    return orjson.dumps({"body": body, "key": public_hex(key), "sig": key.sign(canonical(body)).hex()})


def unseal(payload: bytes) -> tuple[dict[str, Any], str]:
    """The body of a signed message and the hex key that signed it; KnowledgeError if unsigned or forged."""
    if len(payload) > MAX_MESSAGE:
        raise KnowledgeError(f"message of {len(payload)} bytes is larger than {MAX_MESSAGE}")
    try:
        doc = orjson.loads(payload)
    except orjson.JSONDecodeError as exc:
        raise KnowledgeError(f"malformed JSON: {exc}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("body"), dict):
        raise KnowledgeError("not a signed message (no 'body' object)")
    key_hex, sig_hex = doc.get("key"), doc.get("sig")
    if not isinstance(key_hex, str) or not isinstance(sig_hex, str):
        raise KnowledgeError("unsigned message (no 'key' and 'sig')")
    try:
        public = Ed25519PublicKey.from_public_bytes(bytes.fromhex(key_hex))
        public.verify(bytes.fromhex(sig_hex), canonical(doc["body"]))
    except (ValueError, InvalidSignature):
        raise KnowledgeError("bad signature") from None
    return doc["body"], key_hex


class Trust:
    """Which key may speak for which site: an allow-list if given, else trust on first use."""

    def __init__(self, allowed: Mapping[str, str] | None = None) -> None:
        self.allowed = {site: key.lower() for site, key in (allowed or {}).items()}
        self._pinned: dict[str, str] = {}

    def check(self, site: str, key_hex: str) -> str | None:
        """None if `key_hex` may speak for `site`, else the reason it may not."""
        if self.allowed:
            expected = self.allowed.get(site)
            if expected is None:
                return f"site {site} is not in the trusted keys"
            return None if expected == key_hex else f"site {site} signs with a key that is not its trusted key"
        pinned = self._pinned.setdefault(site, key_hex)
        if pinned != key_hex:
            return f"site {site} signs with another key than the one first seen (trust on first use)"
        return None
