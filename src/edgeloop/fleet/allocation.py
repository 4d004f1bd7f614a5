"""How a shared power cap is split: pure functions that every peer runs on the same announced needs.

The split is max-min fair in two tiers: first what each site *must* draw (its reserve, and e.g. the charging
power that still meets every deadline), then what it *wants* on top (charging sooner, pre-cooling). Surplus
under a site's base share is lent to the sites above theirs, matched greedily in site-id order, so every peer
that heard the same needs computes the same transfers. The result is advice: safety never depends on two peers
agreeing on it (see `edgeloop.fleet.powercap`).

>>> fair_fill([50.0, 10.0, 30.0], 60.0)
[25.0, 10.0, 25.0]
>>> needs = {"a": SiteNeed(20, 20, 10), "b": SiteNeed(200, 260, 10), "c": SiteNeed(40, 90, 10)}
>>> targets = split(needs, base_kw=100.0)
>>> {s: round(v, 1) for s, v in targets.items()}
{'a': 20.0, 'b': 220.0, 'c': 60.0}
>>> transfers(targets, base_kw=100.0, reserve={"a": 10, "b": 10, "c": 10})
{('a', 'b'): 80.0, ('c', 'b'): 40.0}
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

EPS = 1e-9


@dataclass(frozen=True, slots=True)
class SiteNeed:
    """A site's announced need, kW: `must` (≥ its reserve), `want` (≥ must), and its `reserve`."""

    must_kw: float
    want_kw: float
    reserve_kw: float


def fair_fill(demands: Sequence[float], total: float) -> list[float]:
    """Max-min fair shares of `total` for `demands`: nobody gets more than asked, the small are served fully."""
    out = [0.0] * len(demands)
    left = max(0.0, total)
    order = sorted(range(len(demands)), key=lambda i: (demands[i], i))
    for k, i in enumerate(order):
        give = min(max(0.0, demands[i]), left / (len(order) - k))
        out[i] = give
        left -= give
    return out


def split(needs: Mapping[str, SiteNeed], base_kw: float) -> dict[str, float]:
    """Each live site's target, kW, out of `base_kw` per live site: reserves, then musts, then wants."""
    sites = sorted(needs)
    budget = base_kw * len(sites)
    reserve = [min(needs[s].reserve_kw, base_kw) for s in sites]
    left = budget - sum(reserve)
    must = fair_fill([max(0.0, needs[s].must_kw - r) for s, r in zip(sites, reserve, strict=True)], left)
    left -= sum(must)
    extra = [max(0.0, needs[s].want_kw - max(needs[s].must_kw, r)) for s, r in zip(sites, reserve, strict=True)]
    want = fair_fill(extra, left)
    return {s: reserve[i] + must[i] + want[i] for i, s in enumerate(sites)}


def transfers(
    targets: Mapping[str, float], base_kw: float, reserve: Mapping[str, float]
) -> dict[tuple[str, str], float]:
    """(lender, borrower) -> kW: surplus under the base share goes to the deficits above it, in site-id order.

    A lender never lends into its reserve (what its site draws with no agent at all)."""
    surplus = [(s, base_kw - max(t, reserve.get(s, 0.0))) for s, t in sorted(targets.items())]
    deficit = [(s, t - base_kw) for s, t in sorted(targets.items()) if t - base_kw > EPS]
    out: dict[tuple[str, str], float] = {}
    lenders = [s for s, kw in surplus if kw > EPS]
    spare = {s: kw for s, kw in surplus if kw > EPS}
    k = 0
    for borrower, need in deficit:
        while need > EPS and k < len(lenders):
            lender = lenders[k]
            give = min(need, spare[lender])
            out[(lender, borrower)] = out.get((lender, borrower), 0.0) + give
            need -= give
            spare[lender] -= give
            if spare[lender] <= EPS:
                k += 1
    return out
