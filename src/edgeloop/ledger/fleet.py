"""A fleet's ledger: the ledgers of many sites as one experiment, with one interval.

Each site keeps its own holdout (drawn per site), its own entries and its own days with data. The fleet's
report pools them: every device is named `site/device` so devices of the same name at two sites stay two
devices, each site's devices are observed over that site's own days only, and the treated and holdout arms are
summed across sites before the uplift and its bootstrap interval are estimated (stratified by asset type, as
for one site). The agent's running cost is counted per site and day it ran.

>>> from edgeloop.ledger.holdout import HoldoutDesign
>>> north = LedgerRows(HoldoutDesign(seed=0).assign({"p1": "pump", "p2": "pump"}).to_json(), [], [19_676])
>>> south = LedgerRows(HoldoutDesign(seed=0).assign({"p1": "pump"}).to_json(), [], [19_676, 19_677])
>>> fleet = fleet_ledger({"north": north, "south": south}, n_boot=10)
>>> fleet.site, len(fleet.holdout.assignments), len(fleet.observations), fleet.report.days
('fleet', 3, 4, 2)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path

from edgeloop.ledger.economics import load_economics
from edgeloop.ledger.entries import Entry
from edgeloop.ledger.holdout import Assignment, HoldoutRecord
from edgeloop.ledger.observations import DeviceDay, device_days
from edgeloop.ledger.report import build_report
from edgeloop.ledger.site_ledger import LedgerRows, ReportError, SiteLedger, parse_since

FLEET = "fleet"


def fleet_ledger(
    sites: Mapping[str, LedgerRows], economics: Path | None = None, since: str | None = None, n_boot: int = 2000
) -> SiteLedger:
    """One report over the sites' rows (sites whose agent has not seen a device yet are left out)."""
    entries: list[Entry] = []
    observations: list[DeviceDay] = []
    assignments: list[Assignment] = []
    seed, fraction = 0, 0.0
    present = {site: rows for site, rows in sorted(sites.items()) if rows.holdout is not None}
    all_days = {d for rows in present.values() for d in rows.days}
    since_day = parse_since(since, max(all_days, default=None))  # "7d": the fleet's last 7 days with data
    for site, rows in present.items():
        assert rows.holdout is not None
        record = HoldoutRecord.from_json(rows.holdout)
        seed, fraction = record.seed, record.fraction
        named = replace(record, assignments=tuple(replace(a, device=f"{site}/{a.device}") for a in record.assignments))
        mine = [Entry.from_json({**e, "device": f"{site}/{e['device']}"}) for e in rows.entries]
        span = range(rows.days[0], rows.days[-1] + 1) if rows.days else range(0)
        observations += device_days(mine, named, [d for d in span if since_day is None or d >= since_day])
        entries += mine
        assignments += named.assignments
    if not assignments:
        raise ReportError("no site of the fleet has a holdout record yet: no agent has seen any device")
    site_days = sum(len(rows.days) for rows in present.values())
    site_economics = load_economics(economics)
    if all_days:  # the running cost is per site and day: the report counts it per day of the fleet
        per_day = site_economics.agent_running_cost_per_day * site_days / len(all_days)
        site_economics = site_economics.model_copy(update={"agent_running_cost_per_day": per_day})
    entries = [replace(e, seq=i) for i, e in enumerate(entries)]
    report = build_report(entries, observations, site_economics, since_day=since_day, n_boot=n_boot)
    return SiteLedger(FLEET, entries, HoldoutRecord(seed, fraction, tuple(assignments)), observations, report)
