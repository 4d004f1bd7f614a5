"""The power-cap protocol: the sum of what the sites may draw never exceeds the cap, whatever the network does."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

import pytest

from edgeloop.fleet.allocation import SiteNeed, split, transfers
from edgeloop.fleet.powercap import CapPeer, Lease, Need

CAP = 400.0
SITES = ["a", "b", "c", "d"]
STEP = 5.0
KW = dict(lease_s=60.0, period_s=15.0, skew_s=4.0, hold_s=10.0)


@dataclass
class Site:
    peer: CapPeer
    offset: float  # this site's clock minus the true time
    commanded: float = 0.0
    commanded_at: float = 0.0
    dead_at: float | None = None
    cut_until: float = -1.0
    pending: list[tuple[float, str, Need | Lease]] = field(default_factory=list)


def draw(site: Site, t: float) -> float:
    """What the site's devices draw: the last setpoint, or the reserve once a dead agent's setpoints lapsed."""
    if site.dead_at is not None and t >= site.commanded_at + site.peer.hold_s:
        return site.peer.reserve_kw
    return site.commanded


def run(seed: int, steps: int = 600) -> tuple[float, dict[str, float]]:
    """A random life of four sites: lossy, late, duplicated messages, skewed clocks, kills, restarts, cut-offs."""
    rng = random.Random(seed)
    reserve = {s: rng.uniform(5, 60) for s in SITES}
    offsets = {s: rng.uniform(-KW["skew_s"] / 2, KW["skew_s"] / 2) for s in SITES}
    sites = {s: Site(CapPeer(s, CAP, SITES, reserve[s], started=offsets[s], **KW), offsets[s]) for s in SITES}
    needs = {s: (reserve[s], reserve[s]) for s in SITES}
    worst = 0.0
    borrowed_max = dict.fromkeys(SITES, 0.0)
    for k in range(steps):
        t = k * STEP
        for s in SITES:
            if rng.random() < 0.05:
                must = rng.uniform(reserve[s], 250)
                needs[s] = (must, must + rng.uniform(0, 100))
        for s, site in sites.items():
            if site.dead_at is not None:
                if rng.random() > 0.02:
                    continue
                site.peer = CapPeer(s, CAP, SITES, reserve[s], started=t + site.offset, **KW)  # knows nothing
                site.dead_at = None
            elif rng.random() < 0.004:
                site.dead_at = t
                continue
            if rng.random() < 0.004:
                site.cut_until = t + rng.uniform(30, 300)
            now = t + site.offset
            out = site.peer.tick(now, *needs[s])
            site.commanded, site.commanded_at = site.peer.limit_kw(now), t
            borrowed_max[s] = max(borrowed_max[s], site.peer.borrowed_kw(now))
            if t < site.cut_until:
                continue  # queued in the cut-off site's outbox: lost here (a late copy is just another delay)
            messages: list[Need | Lease] = ([out.need] if out.need else []) + list(out.leases)
            for msg in messages:
                for other, dest in sites.items():
                    if other == s or rng.random() < 0.1:
                        continue
                    for _ in range(2 if rng.random() < 0.05 else 1):
                        dest.pending.append((t + STEP * rng.randint(0, 8), s, msg))
        for site in sites.values():
            due = [p for p in site.pending if p[0] <= t]
            site.pending = [p for p in site.pending if p[0] > t]
            if site.dead_at is not None or t < site.cut_until:
                continue
            rng.shuffle(due)
            now = t + site.offset
            for _, _, msg in due:
                if isinstance(msg, Need):
                    site.peer.hear_need(msg, now)
                elif msg.borrower == site.peer.site:
                    site.peer.hear_lease(msg, now)
        for probe in (t, t + STEP / 2):
            worst = max(worst, sum(draw(site, probe) for site in sites.values()))
    return worst, borrowed_max


@pytest.mark.parametrize("seed", range(12))
def test_the_summed_draw_never_exceeds_the_cap(seed: int) -> None:
    worst, borrowed = run(seed)

    assert worst <= CAP + 1e-6
    assert max(borrowed.values()) > 0  # the sites did share: the bound is not met by never lending


def test_a_dead_borrowers_share_goes_back_to_the_lenders_after_the_lease() -> None:
    peers = {s: CapPeer(s, CAP, SITES, 10.0, started=-1e6, **KW) for s in SITES}
    wants = {"a": 30.0, "b": 300.0, "c": 30.0, "d": 200.0}

    def step(t: float, alive: list[str]) -> None:
        outs = {s: peers[s].tick(t, wants[s], wants[s]) for s in alive}
        for s, out in outs.items():
            for other in alive:
                if other != s and out.need is not None:
                    peers[other].hear_need(out.need, t)
            for lease in out.leases:
                if lease.borrower in alive:
                    peers[lease.borrower].hear_lease(lease, t)

    for k in range(10):
        step(k * 15.0, SITES)
    d_before = peers["d"].limit_kw(150.0)
    for k in range(10, 30):
        step(k * 15.0, ["a", "c", "d"])  # b, the largest borrower, is dead

    assert d_before < 200.0
    assert peers["d"].limit_kw(435.0) == pytest.approx(200.0)


def test_a_restarted_site_lends_nothing_and_uses_only_its_reserve_until_its_old_leases_lapsed() -> None:
    peer = CapPeer("a", CAP, SITES, 25.0, started=1000.0, **KW)

    out = peer.tick(1000.0, 25.0, 25.0)

    assert out.leases == []
    assert peer.limit_kw(1000.0) == 25.0
    assert peer.limit_kw(1000.0 + 60.0 + 4.0) == 100.0


def test_a_stale_a_far_future_and_a_misconfigured_lease_are_refused() -> None:
    peer = CapPeer("b", CAP, SITES, 10.0, started=-1e6, **KW)

    stale = peer.hear_lease(Lease("a", "b", 50.0, 103.0, 1, CAP, 4), now=100.0)
    future = peer.hear_lease(Lease("a", "b", 50.0, 1000.0, 2, CAP, 4), now=100.0)
    other_cap = peer.hear_lease(Lease("a", "b", 50.0, 150.0, 3, 800.0, 4), now=100.0)

    assert stale == "stale lease"
    assert "too far ahead" in str(future)
    assert "configuration differs" in str(other_cap)
    assert peer.limit_kw(100.0) == 100.0


def test_the_split_serves_musts_before_wants_and_lends_only_above_the_reserve() -> None:
    needs = {"a": SiteNeed(10, 100, 10), "b": SiteNeed(150, 150, 10), "c": SiteNeed(60, 60, 50)}

    targets = split(needs, base_kw=100.0)
    plan = transfers(targets, 100.0, {"a": 10, "b": 10, "c": 50})

    assert targets == pytest.approx({"a": 90.0, "b": 150.0, "c": 60.0})
    assert sum(plan.values()) == pytest.approx(50.0)
    assert sum(kw for (lender, _), kw in plan.items() if lender == "c") <= 50.0


def test_bad_configuration_is_refused_at_construction() -> None:
    with pytest.raises(ValueError, match="not one of the feeder"):
        CapPeer("z", CAP, SITES, 10.0)
    with pytest.raises(ValueError, match="reserve_kw"):
        CapPeer("a", CAP, SITES, 150.0)
    with pytest.raises(ValueError, match="outlive the period"):
        CapPeer("a", CAP, SITES, 10.0, lease_s=20.0, period_s=15.0, skew_s=5.0)
