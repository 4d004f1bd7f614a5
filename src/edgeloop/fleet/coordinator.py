"""The power-cap protocol on the broker: one `CapCoordinator` per site agent process, no central coordinator.

Topics (not retained: a need or a lease is only worth its lease time):

- `edgeloop/v1/_fleet/coord/{resource}/need/{site}`: a site's need, every period;
- `edgeloop/v1/_fleet/coord/{resource}/lease/{lender}/{borrower}`: a lease, every period while it lasts.

Every message is signed with the site's Ed25519 key (`edgeloop.fleet.envelope`, the key of its audit log) and
checked against `Trust` (an allow-list, or trust on first use), so a peer cannot speak for another site, and the
site named in the topic must be the one in the body. Whatever is refused is counted under its reason.

`python -m edgeloop.fleet.standin --help` runs one coordinator for a stand-in site with a fixed need and
writes every limit it commands, one JSON line each: the multi-process fleet tests run four of them and kill one.

>>> from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
>>> from edgeloop.fleet.powercap import CapPeer
>>> a = CapCoordinator(CapPeer("a", 200.0, ["a", "b"], 10.0, started=-1e9), "feeder-1", Ed25519PrivateKey.generate())
>>> b = CapCoordinator(CapPeer("b", 200.0, ["a", "b"], 10.0, started=-1e9), "feeder-1", Ed25519PrivateKey.generate())
>>> [b.take(t, p, 0.0) for t, p in a.tick(0.0, 150.0, 150.0)]
[None]
>>> sent = b.tick(30.0, 20.0, 20.0)
>>> [topic for topic, _ in sent]
['edgeloop/v1/_fleet/coord/feeder-1/need/b', 'edgeloop/v1/_fleet/coord/feeder-1/lease/b/a']
>>> [a.take(t, p, 30.0) for t, p in sent]
[None, None]
>>> a.peer.limit_kw(30.0), b.peer.limit_kw(30.0)
(150.0, 50.0)
>>> print(a.take("edgeloop/v1/_fleet/coord/feeder-1/need/b", b"{}", 31.0))
not a signed message (no 'body' object)
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import orjson
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from edgeloop.fleet.envelope import Trust, seal, unseal
from edgeloop.fleet.knowledge import KnowledgeError
from edgeloop.fleet.powercap import CapPeer, Lease, Need
from edgeloop.io.topics import fleet_topic


def need_topic(resource: str, site: str) -> str:
    return fleet_topic("coord", resource, "need", site)


def lease_topic(resource: str, lender: str, borrower: str) -> str:
    return fleet_topic("coord", resource, "lease", lender, borrower)


class CapCoordinator:
    """Signs and sends what the site's `CapPeer` says, checks and hands it what the peers say."""

    def __init__(self, peer: CapPeer, resource: str, key: Ed25519PrivateKey, trust: Trust | None = None) -> None:
        self.peer = peer
        self.resource = resource
        self.key = key
        self.trust = trust if trust is not None else Trust()
        self.refused: Counter[str] = Counter()

    def subscriptions(self) -> list[str]:
        return [need_topic(self.resource, "+"), lease_topic(self.resource, "+", self.peer.site)]

    def tick(self, now: float, must_kw: float, want_kw: float) -> list[tuple[str, bytes]]:
        """(topic, payload) to publish now. The peer counts leases as lent before they are returned here."""
        out = self.peer.tick(now, must_kw, want_kw)
        sent = []
        if out.need is not None:
            sent.append((need_topic(self.resource, self.peer.site), seal(out.need.to_json(), self.key)))
        for lease in out.leases:
            sent.append((lease_topic(self.resource, lease.lender, lease.borrower), seal(lease.to_json(), self.key)))
        return sent

    def take(self, topic: str, payload: bytes, now: float) -> str | None:
        """Check and take one message; the reason when it is refused (counted in `refused`)."""
        reason = self._take(topic, payload, now)
        if reason is not None:
            self.refused[reason] += 1
        return reason

    def _take(self, topic: str, payload: bytes, now: float) -> str | None:
        parts = topic.split("/")
        prefix = fleet_topic("coord", self.resource).split("/")
        if parts[: len(prefix)] != prefix or len(parts) < len(prefix) + 2:
            return f"not a coordination topic of {self.resource!r}"
        kind, names = parts[len(prefix)], parts[len(prefix) + 1 :]
        try:
            body, signer = unseal(payload)
        except KnowledgeError as exc:
            return str(exc)
        try:
            if kind == "need" and len(names) == 1:
                if names[0] == self.peer.site:
                    return None  # our own need, echoed by the broker
                need = Need.from_json(body)
                if need.site != names[0]:
                    return "the topic names another site than the body"
                return self.trust.check(need.site, signer) or self.peer.hear_need(need, now)
            if kind == "lease" and len(names) == 2:
                lease = Lease.from_json(body)
                if (lease.lender, lease.borrower) != (names[0], names[1]):
                    return "the topic names other sites than the body"
                return self.trust.check(lease.lender, signer) or self.peer.hear_lease(lease, now)
        except (KeyError, TypeError, ValueError) as exc:
            return f"malformed {kind}: {exc!r}"
        return f"unknown message kind {kind!r}"

    def status(self, now: float) -> dict[str, Any]:
        """What the site may draw now, and why: for logs and for the fleet tests."""
        peer = self.peer
        return {"t": now, "site": peer.site, "limit_kw": round(peer.limit_kw(now), 6),
                "lent_kw": round(peer.lent_kw(now), 6), "borrowed_kw": round(peer.borrowed_kw(now), 6),
                "quarantined": peer.quarantined(now)}  # fmt: skip


def status_line(status: dict[str, Any]) -> bytes:
    return orjson.dumps(status) + b"\n"
