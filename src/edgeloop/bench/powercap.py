"""`edgeloop bench powercap`: three buildings and a bus depot share one feeder's cap, coordinated peer to peer.

The same seed runs three times, in lockstep at the plants' 15 s step (so the runs are reproducible):

- **uncoordinated**: no agent; the buildings' thermostats hold 24 degC, the depot charges every bus at full power
  from the moment it plugs in;
- **coordinated**: each site runs its `CapCoordinator` (signed messages through an in-process broker that
  delivers every message one step later) and keeps its draw under its limit (`edgeloop.fleet.flex`);
- **coordinated, one agent killed**: the same, with one site's agent killed midway (its devices fall back to
  their fail-safe power after their hold time) and restarted later (knowing nothing of its former leases).

Figures (the headline ones are the killed run's, the target case): `peak_kw`, `cap_kw`, `seconds_over_cap`,
`missed_deadlines` (buses that left under their target charge), `comfort_violations` (hours a building was
more than 0.5 K over its comfort band while occupied), `cost` (energy at a time-of-use price + a demand charge on
the feeder's peak, prorated per day + a penalty per missed deadline) and `cost_uncoordinated`.

Each run is booked into an ROI ledger: energy per site-day at the time-of-use price (rule P1), the demand charge
on the feeder (P2) and the missed deadlines (P3), the coordinated run as the treated arm and the uncoordinated
one as the holdout arm, so the savings are ledger totals.
"""

from __future__ import annotations

import hashlib
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import orjson
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from rich.console import Console

from edgeloop.bench.powercap_sites import DAY, HOUR, BuildingSite, DepotSite, SiteControl, StandInBuilding, hour_of
from edgeloop.fleet.coordinator import CapCoordinator
from edgeloop.fleet.powercap import CapPeer
from edgeloop.ledger import Arm, Draft, EntryKind, Ledger, money
from edgeloop.sim.depot import DepotPlant

console = Console(stderr=True)
START_TS = 1_700_006_400.0  # a midnight UTC
RESOURCE = "feeder-1"


@dataclass(frozen=True, slots=True)
class Tariff:
    """Time-of-use energy prices, a demand charge on the month's peak, and what a missed departure costs."""

    night: float = 0.10  # 23:00-07:00, EUR/kWh
    day: float = 0.20
    evening: float = 0.32  # 16:00-21:00
    demand_per_kw_month: float = 15.0
    missed_deadline: float = 300.0

    def price(self, ts: float) -> float:
        h = hour_of(ts)
        if h >= 23.0 or h < 7.0:
            return self.night
        return self.evening if 16.0 <= h < 21.0 else self.day


@dataclass(frozen=True, slots=True)
class BenchConfig:
    seed: int = 0
    hours: float = 48.0
    start_h: float = 0.0  # hours after a midnight
    cap_kw: float = 500.0
    chargers: int = 12
    interval_s: float = 15.0
    lease_s: float = 120.0
    period_s: float = 30.0
    hold_s: float = 60.0
    kill: str = "depot"
    kill_at_h: float | None = None  # default: midway
    restart_after_h: float = 1.0
    tariff: Tariff = field(default_factory=Tariff)


@dataclass(slots=True)
class RunResult:
    name: str
    peak_kw: float = 0.0
    seconds_over_cap: float = 0.0
    missed_deadlines: int = 0
    comfort_violations: float = 0.0
    energy_kwh: float = 0.0
    energy_cost: float = 0.0
    demand_charge: float = 0.0
    deadline_cost: float = 0.0
    messages: int = 0
    refused: int = 0
    site_day_kwh: dict[tuple[str, int], float] = field(default_factory=dict)
    site_day_cost: dict[tuple[str, int], float] = field(default_factory=dict)

    @property
    def cost(self) -> float:
        return self.energy_cost + self.demand_charge + self.deadline_cost

    def figures(self) -> dict[str, Any]:
        return {"peak_kw": round(self.peak_kw, 1), "seconds_over_cap": self.seconds_over_cap,
                "missed_deadlines": self.missed_deadlines, "comfort_violations": round(self.comfort_violations, 2),
                "energy_kwh": round(self.energy_kwh, 1), "energy_cost": round(self.energy_cost, 2),
                "demand_charge": round(self.demand_charge, 2), "deadline_cost": round(self.deadline_cost, 2),
                "cost": round(self.cost, 2), "messages": self.messages, "refused": self.refused}  # fmt: skip


def site_key(seed: int, site: str) -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(hashlib.sha256(f"powercap/{seed}/{site}".encode()).digest())


def make_sites(cfg: BenchConfig) -> list[SiteControl]:
    start = START_TS + cfg.start_h * HOUR
    sites: list[SiteControl] = [
        BuildingSite(StandInBuilding(f"building-{i}", cfg.seed, start, cfg.interval_s, cfg.hold_s)) for i in (1, 2, 3)
    ]
    depot = DepotPlant(cfg.chargers, cfg.seed, start, cfg.interval_s, "depot", hold_s=cfg.hold_s)
    sites.append(DepotSite(depot))
    return sites


def run_fleet(
    cfg: BenchConfig, coordinated: bool, kill: bool, progress: Callable[[float], None] | None = None
) -> RunResult:
    """One run; the feeder's draw is measured every step."""
    name = "uncoordinated" if not coordinated else ("coordinated_killed" if kill else "coordinated")
    result = RunResult(name)
    sites = make_sites(cfg)
    members = [s.site for s in sites]
    if kill and cfg.kill not in members:
        raise ValueError(f"--kill {cfg.kill!r} is not one of the sites {members}")
    start = START_TS + cfg.start_h * HOUR
    kill_at = start + (cfg.kill_at_h if cfg.kill_at_h is not None else cfg.hours / 2) * HOUR
    restart_at = kill_at + cfg.restart_after_h * HOUR

    def coordinator(site: SiteControl, now: float) -> CapCoordinator:
        peer = CapPeer(site.site, cfg.cap_kw, members, site.reserve_kw(), cfg.lease_s, cfg.period_s,
                       hold_s=cfg.hold_s, started=now)  # fmt: skip
        return CapCoordinator(peer, RESOURCE, site_key(cfg.seed, site.site))

    agents: dict[str, CapCoordinator | None] = {s.site: coordinator(s, start - DAY) for s in sites}
    inbox: list[tuple[str, bytes]] = []
    steps = int(cfg.hours * HOUR / cfg.interval_s)
    now = start
    for k in range(steps):
        if kill and now >= kill_at and now < restart_at:
            agents[cfg.kill] = None
        elif kill and now >= restart_at and agents[cfg.kill] is None:
            agents[cfg.kill] = coordinator(next(s for s in sites if s.site == cfg.kill), now)
        outbox: list[tuple[str, bytes]] = []
        for site in sites:
            agent = agents[site.site]
            if not coordinated or agent is None:
                continue
            for topic, payload in inbox:
                if addressed_to(topic, site.site):
                    result.refused += agent.take(topic, payload, now) is not None
            must, want = site.need(now)
            outbox += agent.tick(now, must, want)
            site.apply(now, agent.peer.limit_kw(now))
        inbox = outbox
        result.messages += len(outbox)
        feeder = 0.0
        for site in sites:
            for _, event in site.step().events:
                if event["kind"] == "departure" and event["missed"]:
                    result.missed_deadlines += 1
        now += cfg.interval_s
        price = cfg.tariff.price(now)
        for site in sites:
            kw = site.power_kw()
            feeder += kw
            key = (site.site, int(now // DAY))
            kwh = kw * cfg.interval_s / HOUR
            result.site_day_kwh[key] = result.site_day_kwh.get(key, 0.0) + kwh
            result.site_day_cost[key] = result.site_day_cost.get(key, 0.0) + kwh * price
        result.peak_kw = max(result.peak_kw, feeder)
        result.seconds_over_cap += cfg.interval_s if feeder > cfg.cap_kw + 1e-6 else 0.0
        if progress is not None and k % 240 == 0:
            progress((now - start) / HOUR)
    result.energy_kwh = sum(result.site_day_kwh.values())
    result.energy_cost = sum(result.site_day_cost.values())
    result.demand_charge = result.peak_kw * cfg.tariff.demand_per_kw_month * cfg.hours / (30 * 24)
    result.deadline_cost = result.missed_deadlines * cfg.tariff.missed_deadline
    result.comfort_violations = sum(s.plant.comfort_h for s in sites if isinstance(s, BuildingSite))
    return result


def addressed_to(topic: str, site: str) -> bool:
    """What a site's subscriptions take: every other site's need, and the leases lent to it."""
    parts = topic.split("/")
    if parts[-2] == "need":
        return parts[-1] != site
    return parts[-3] == "lease" and parts[-1] == site


def book(result: RunResult, arm: Arm, end_ts: float) -> list[Draft]:
    """The run's money as ledger drafts: energy per site-day (P1), the demand charge (P2), missed deadlines (P3)."""
    drafts = [
        Draft(site, "site", arm, day * DAY, EntryKind.ENERGY, -money(Decimal(repr(cost))), "P1",
              quantity=round(result.site_day_kwh[(site, day)], 3), note="energy at the time-of-use price")
        for (site, day), cost in sorted(result.site_day_cost.items())
    ]  # fmt: skip
    demand = -money(Decimal(repr(result.demand_charge)))
    note = "demand charge on the feeder's peak, prorated"
    drafts.append(Draft(RESOURCE, "feeder", arm, end_ts, EntryKind.ENERGY, demand, "P2", quantity=result.peak_kw,
                        note=note))  # fmt: skip
    if result.missed_deadlines:
        missed = -money(Decimal(repr(result.deadline_cost)))
        note = "buses that left under their target charge"
        drafts.append(Draft("depot", "charger", arm, end_ts, EntryKind.FAILURE, missed, "P3",
                            quantity=result.missed_deadlines, note=note))  # fmt: skip
    return drafts


def run_bench(cfg: BenchConfig, quiet: bool = False) -> dict[str, Any]:
    runs: dict[str, RunResult] = {}
    for coordinated, kill in ((False, False), (True, False), (True, True)):
        label = "uncoordinated" if not coordinated else ("coordinated, agent killed" if kill else "coordinated")
        t0 = time.monotonic()

        def progress(h: float, label: str = label, t0: float = t0, last: list[float] = [0.0]) -> None:  # noqa: B006
            if not quiet and time.monotonic() - last[0] >= 2:
                last[0] = time.monotonic()
                console.print(f"{label}: sim hour {h:.1f} / {cfg.hours:g} ({time.monotonic() - t0:.0f} s)")

        run = run_fleet(cfg, coordinated, kill, progress)
        runs[run.name] = run
        if not quiet:
            console.print(f"{label}: peak {run.peak_kw:.0f} kW, {run.seconds_over_cap:g} s over the cap, "
                          f"cost {run.cost:.2f} ({time.monotonic() - t0:.1f} s)")  # fmt: skip
    head, base = runs["coordinated_killed"], runs["uncoordinated"]
    end_ts = START_TS + (cfg.start_h + cfg.hours) * HOUR
    ledger = Ledger()
    ledger.extend(book(head, Arm.TREATED, end_ts))
    ledger.extend(book(base, Arm.HOLDOUT, end_ts))
    treated = sum((e.amount for e in ledger if e.arm is Arm.TREATED), Decimal(0))
    holdout = sum((e.amount for e in ledger if e.arm is Arm.HOLDOUT), Decimal(0))
    kill_at_h = cfg.kill_at_h if cfg.kill_at_h is not None else cfg.hours / 2
    return {
        "peak_kw": round(head.peak_kw, 1),
        "cap_kw": cfg.cap_kw,
        "seconds_over_cap": head.seconds_over_cap,
        "missed_deadlines": head.missed_deadlines,
        "comfort_violations": round(head.comfort_violations, 2),
        "cost": round(head.cost, 2),
        "cost_uncoordinated": round(base.cost, 2),
        "savings": round(base.cost - head.cost, 2) + 0.0,  # never -0.0
        "killed": {"site": cfg.kill, "at_h": kill_at_h, "restarted_at_h": kill_at_h + cfg.restart_after_h},
        "ledger": {
            "entries": len(ledger),
            "treated_total": str(treated),
            "holdout_total": str(holdout),
            "savings": str(treated - holdout),
        },
        "runs": {name: run.figures() for name, run in runs.items()},
        "seed": cfg.seed,
        "hours": cfg.hours,
    }


def powercap(
    json_out: bool = False,
    seed: int = 0,
    hours: float = 48.0,
    cap_kw: float = 500.0,
    chargers: int = 12,
    kill: str = "depot",
    kill_at_h: float | None = None,
    restart_after_h: float = 1.0,
    quiet: bool = False,
) -> int:
    """Run the three runs and print the figures; the exit code: 0 done, 2 a bad setting."""
    cfg = BenchConfig(seed=seed, hours=hours, cap_kw=cap_kw, chargers=chargers, kill=kill, kill_at_h=kill_at_h,
                      restart_after_h=restart_after_h)  # fmt: skip
    try:
        figures = run_bench(cfg, quiet)
    except ValueError as exc:
        console.print(f"[red]error:[/red] {exc}")
        return 2
    if json_out:
        sys.stdout.write(orjson.dumps(figures, option=orjson.OPT_INDENT_2).decode() + "\n")
        return 0
    for key in ("peak_kw", "cap_kw", "seconds_over_cap", "missed_deadlines", "comfort_violations", "cost",
                "cost_uncoordinated", "savings"):  # fmt: skip
        print(f"{key:20} {figures[key]}")
    for name, run in figures["runs"].items():
        print(f"{name:20} {run}")
    return 0
