"""Peer-to-peer sharing of a power cap (one feeder, several sites) with leases: the pure protocol, time as an argument.

The protocol
------------
Every site of the feeder is configured with the same cap `C` and the same member list of `N` sites; each site
*owns* a base share `b = C / N`. Part of it, the site's `reserve` (what the site draws with no agent at all:
inflexible load plus its devices' fail-safe power), is never lent. Every `period_s` each site announces its need
(`must`, `want`, `reserve`) and every site computes the same split from the needs it heard in the last `lease_s`
(`edgeloop.fleet.allocation`). A site whose target is under `b` then *lends* the difference to the sites above
theirs, as leases `(lender, borrower, kW, expires, seq)` that it renews every period while the split says so.

- A lender counts a lease as lent, from the moment it issues it (before it is sent) until its `expires`; when it
  renews a lease with fewer kW, it keeps counting the larger amount until the larger lease has expired.
- A borrower counts a lease only while `now + hold_s < expires - skew_s`, and only the latest version (by
  `expires`, then `seq`) from each lender. `hold_s` is how long a setpoint sent to its devices stays in force
  before they fall back to their fail-safe power (the device watchdog: EEBus LPC's fail-safe limit, an OCPP
  profile's `validTo`).
- A site's limit is `b - lent + borrowed`; its agent keeps its draw under it. A site that (re)starts does not
  know what its former self lent, so for `lease_s + skew_s` it uses only `reserve + borrowed` and lends nothing.

Invariant: the sum of the sites' draws never exceeds `C`. At every moment each kW of `C` is counted by at most one
site: a lent kW leaves the lender's limit before the lease exists anywhere else and comes back only at `expires`,
when no borrower still counts it (it stopped at `expires - skew_s`, and its devices' setpoints lapsed by then
too); a site with no agent draws at most its reserve, which nobody ever borrows. This needs no agreement on the
split, no delivery guarantee and no central coordinator: a lost, late, duplicated or reordered message can only
make a site use less than it could. Needs only steer *who* gets the spare kilowatts.

Failure cases
-------------
- Killed agent: its devices hold their last setpoints for at most `hold_s`, then draw at most the reserve. Leases
  it borrowed expire at their lenders, who lend the kW again; leases it lent expire at their borrowers. Its base
  share above the reserve stays unused until it returns: nobody can tell a dead site from a cut-off one.
- Restart: the quarantine above covers leases its former self lent; it borrows at once.
- Partition (cut off from the broker, or a broker restart): no renewals arrive, so borrowed leases lapse and the
  site falls back to `b - lent` and then to `b`; the others lose what it lent them and stop counting its need
  after `lease_s`. Messages queued during the cut-off and sent later carry their absolute `expires`: stale ones
  are refused.
- Clock skew: leases carry the lender's clock. Safe while clocks differ by less than `skew_s` (NTP keeps sites
  within tens of milliseconds; the default allows 5 s). A clock off by more breaks the invariant: the one
  failure this design cannot catch, so `expires` far in the future is refused too (more than `lease_s + skew_s`).
- Disagreeing configuration: needs and leases carry `cap_kw` and the member count; a message with other values
  is refused with a reason, so a misconfigured site cannot take more than its own `b`. Two agents running under
  one site id would each believe they own `b`: sign the messages with the site's key to rule it out.
- Sites whose load cannot be shed (a reserve above the draw the site really has) break the invariant physically:
  the reserve must bound what the site draws with no agent.

>>> peers = {s: CapPeer(s, 300.0, ["a", "b", "c"], reserve_kw=20.0, started=-1e9) for s in "abc"}
>>> needs = {"a": (30, 40), "b": (250, 260), "c": (60, 80)}
>>> out = {s: p.tick(0.0, *needs[s]) for s, p in peers.items()}
>>> for s, t in out.items():
...     for other in peers.values():
...         if other.site != s:
...             other.hear_need(t.need, 0.0)
>>> out = {s: p.tick(30.0, *needs[s]) for s, p in peers.items()}
>>> for t in out.values():
...     for lease in t.leases:
...         _ = peers[lease.borrower].hear_lease(lease, 30.0)
>>> {s: round(p.limit_kw(30.0), 1) for s, p in peers.items()}
{'a': 30.0, 'b': 210.0, 'c': 60.0}
>>> round(sum(p.limit_kw(30.0) for p in peers.values()), 6) <= 300.0
True
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from edgeloop.fleet.allocation import EPS, SiteNeed, split, transfers


@dataclass(frozen=True, slots=True)
class Need:
    """What a site announces every period."""

    site: str
    ts: float
    must_kw: float
    want_kw: float
    reserve_kw: float
    cap_kw: float
    members: int

    def to_json(self) -> dict[str, Any]:
        return {"site": self.site, "ts": self.ts, "must_kw": self.must_kw, "want_kw": self.want_kw,
                "reserve_kw": self.reserve_kw, "cap_kw": self.cap_kw, "members": self.members}  # fmt: skip

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> Need:
        return cls(str(doc["site"]), float(doc["ts"]), float(doc["must_kw"]), float(doc["want_kw"]),
                   float(doc["reserve_kw"]), float(doc["cap_kw"]), int(doc["members"]))  # fmt: skip


@dataclass(frozen=True, slots=True)
class Lease:
    """kW of the lender's base share that the borrower may use until `expires` (the lender's clock)."""

    lender: str
    borrower: str
    kw: float
    expires: float
    seq: int
    cap_kw: float
    members: int

    def to_json(self) -> dict[str, Any]:
        return {"lender": self.lender, "borrower": self.borrower, "kw": self.kw, "expires": self.expires,
                "seq": self.seq, "cap_kw": self.cap_kw, "members": self.members}  # fmt: skip

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> Lease:
        return cls(str(doc["lender"]), str(doc["borrower"]), float(doc["kw"]), float(doc["expires"]),
                   int(doc["seq"]), float(doc["cap_kw"]), int(doc["members"]))  # fmt: skip


@dataclass(frozen=True, slots=True)
class Tick:
    """What a peer sends after a tick: its need (once a period) and the leases it issued."""

    need: Need | None
    leases: list[Lease] = field(default_factory=list)


class CapPeer:
    """One site's side of the protocol. Feed it what it hears; ask it for its limit; send what `tick` returns."""

    def __init__(
        self,
        site: str,
        cap_kw: float,
        members: Sequence[str],
        reserve_kw: float,
        lease_s: float = 120.0,
        period_s: float = 30.0,
        skew_s: float = 5.0,
        hold_s: float = 0.0,
        started: float = 0.0,
    ) -> None:
        if site not in members:
            raise ValueError(f"site {site!r} is not one of the feeder's members {sorted(members)}")
        if len(set(members)) != len(members):
            raise ValueError("the member list names a site twice")
        if cap_kw <= 0:
            raise ValueError(f"cap_kw={cap_kw} must be positive")
        if not 0 < period_s < lease_s or hold_s + skew_s + period_s >= lease_s:
            raise ValueError(
                f"need 0 < period_s < lease_s and hold_s + skew_s + period_s < lease_s (got period_s={period_s}, "
                f"lease_s={lease_s}, hold_s={hold_s}, skew_s={skew_s}): a renewed lease must outlive the period"
            )
        self.site = site
        self.cap_kw = cap_kw
        self.members = tuple(sorted(members))
        self.base_kw = cap_kw / len(self.members)
        if not 0 <= reserve_kw <= self.base_kw:
            raise ValueError(f"reserve_kw={reserve_kw} must be within [0, base share {self.base_kw:g}]")
        self.reserve_kw = reserve_kw
        self.lease_s = lease_s
        self.period_s = period_s
        self.skew_s = skew_s
        self.hold_s = hold_s
        self.started = started
        self._needs: dict[str, Need] = {}
        self._lent: dict[str, list[tuple[float, float]]] = {}  # borrower -> [(kW, expires)] not dominated
        self._borrowed: dict[str, Lease] = {}  # lender -> latest lease
        self._seq = 0
        self._next_need = started
        self._next_lease = started
        self.refused: dict[str, int] = {}

    # -- hearing ----------------------------------------------------------------------------------------------

    def hear_need(self, need: Need, now: float) -> str | None:
        """Take a peer's need; the reason when it is refused."""
        reason = self._check(need.site, need.cap_kw, need.members)
        if reason is None and need.site == self.site:
            reason = "a need in this site's name from elsewhere"
        if reason is None and not need.reserve_kw <= need.must_kw <= need.want_kw:
            reason = "need must satisfy reserve_kw <= must_kw <= want_kw"
        if reason is None:
            old = self._needs.get(need.site)
            if old is None or old.ts <= need.ts:
                self._needs[need.site] = need
        return self._refuse(reason)

    def hear_lease(self, lease: Lease, now: float) -> str | None:
        """Take a lease addressed to this site; the reason when it is refused."""
        reason = self._check(lease.lender, lease.cap_kw, lease.members)
        if reason is None and lease.borrower != self.site:
            reason = f"lease for {lease.borrower!r}, not this site"
        elif reason is None and not 0 <= lease.kw <= self.base_kw:
            reason = f"lease of {lease.kw} kW outside [0, base share {self.base_kw:g}]"
        elif reason is None and lease.expires > now + self.lease_s + self.skew_s:
            reason = "lease expires too far ahead (clock skew?)"
        elif reason is None and lease.expires - self.skew_s <= now:
            reason = "stale lease"
        if reason is None:
            old = self._borrowed.get(lease.lender)
            if old is None or (old.expires, old.seq) < (lease.expires, lease.seq):  # a restarted lender's seq is new
                self._borrowed[lease.lender] = lease
        return self._refuse(reason)

    def _check(self, site: str, cap_kw: float, members: int) -> str | None:
        if site not in self.members:
            return f"{site!r} is not a member of this feeder"
        if abs(cap_kw - self.cap_kw) > EPS or members != len(self.members):
            return f"configuration differs: cap {cap_kw:g} kW over {members} sites"
        return None

    def _refuse(self, reason: str | None) -> str | None:
        if reason is not None:
            self.refused[reason] = self.refused.get(reason, 0) + 1
        return reason

    # -- the limit --------------------------------------------------------------------------------------------

    def quarantined(self, now: float) -> bool:
        """True while a restarted site may still have leases out from before it started."""
        return now < self.started + self.lease_s + self.skew_s

    def lent_kw(self, now: float) -> float:
        return sum(max((kw for kw, exp in versions if exp > now), default=0.0) for versions in self._lent.values())

    def borrowed_kw(self, now: float) -> float:
        return sum(lease.kw for lease in self._borrowed.values() if now + self.hold_s < lease.expires - self.skew_s)

    def limit_kw(self, now: float) -> float:
        """The most this site may draw now (and for `hold_s` more with no news)."""
        own = self.reserve_kw if self.quarantined(now) else self.base_kw - self.lent_kw(now)
        return own + self.borrowed_kw(now)

    def covered_until(self, now: float) -> float:
        """Until when the current limit holds with no news: the earliest lapse of a borrowed lease."""
        ends = [le.expires - self.skew_s - self.hold_s for le in self._borrowed.values() if le.kw > 0]
        return min((e for e in ends if e > now), default=float("inf"))

    # -- ticking ----------------------------------------------------------------------------------------------

    def tick(self, now: float, must_kw: float, want_kw: float) -> Tick:
        """Note this site's need, expire what lapsed, and issue this period's need and leases."""
        must = max(self.reserve_kw, must_kw)
        mine = Need(self.site, now, must, max(must, want_kw), self.reserve_kw, self.cap_kw, len(self.members))
        self._needs[self.site] = mine
        self._expire(now)
        out = Tick(None)
        if now >= self._next_need:
            self._next_need = now + self.period_s
            out = Tick(mine)
        if now >= self._next_lease and not self.quarantined(now):
            self._next_lease = now + self.period_s
            out.leases.extend(self._lend(now))
        return out

    def _expire(self, now: float) -> None:
        self._needs = {s: n for s, n in self._needs.items() if s == self.site or n.ts > now - self.lease_s}
        self._borrowed = {s: le for s, le in self._borrowed.items() if le.expires - self.skew_s > now}
        for borrower in list(self._lent):
            versions = [(kw, exp) for kw, exp in self._lent[borrower] if exp > now]
            if versions:
                self._lent[borrower] = versions
            else:
                del self._lent[borrower]

    def _lend(self, now: float) -> list[Lease]:
        live = {s: SiteNeed(n.must_kw, n.want_kw, n.reserve_kw) for s, n in self._needs.items()}
        targets = split(live, self.base_kw)
        plan = transfers(targets, self.base_kw, {s: n.reserve_kw for s, n in live.items()})
        floor = max(self.reserve_kw, min(self.base_kw, targets[self.site]))
        leases = []
        for (lender, borrower), kw in sorted(plan.items()):
            if lender != self.site or kw <= EPS:
                continue
            # older, larger versions still count until they expire: lend only what keeps this site above its floor
            others = sum(max((k for k, e in v if e > now), default=0.0) for b, v in self._lent.items() if b != borrower)
            kw = min(kw, self.base_kw - floor - others)
            if kw <= EPS:
                continue
            self._seq += 1
            lease = Lease(self.site, borrower, round(kw, 6), now + self.lease_s, self._seq, self.cap_kw,
                          len(self.members))  # fmt: skip
            self._record_lent(lease)
            leases.append(lease)
        return leases

    def _record_lent(self, lease: Lease) -> None:
        """Count the lease as lent, keeping older versions that are larger and outlive nothing newer."""
        versions = self._lent.setdefault(lease.borrower, [])
        versions.append((lease.kw, lease.expires))
        # a version is dominated when a later one is at least as large (it also expires later)
        kept: list[tuple[float, float]] = []
        for kw, exp in sorted(versions, key=lambda v: v[1], reverse=True):
            if all(kw > k for k, _ in kept):
                kept.append((kw, exp))
        self._lent[lease.borrower] = kept
