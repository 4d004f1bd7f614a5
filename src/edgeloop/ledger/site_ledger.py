"""A site's ledger as read back from its store: the rows, the report they make, and its headline figures.

The store hands over plain rows (the holdout record, the ledger entries, the days with data); `site_ledger` turns
them into entries, device-day observations and the report. What `edgeloop roi report`, the API and the demo show
is computed here; how each of them shows it lives with it.

>>> from edgeloop.ledger.holdout import HoldoutDesign
>>> holdout = HoldoutDesign(seed=0).assign({"p1": "pump", "p2": "pump"}).to_json()
>>> ledger = site_ledger("plant", LedgerRows(holdout, [], [19_676, 19_677]), n_boot=10)
>>> ledger.report.days, str(ledger.report.net_value), len(ledger.observations)
(2, '0.00', 4)
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from edgeloop.ledger.economics import load_economics
from edgeloop.ledger.entries import DAY, Entry
from edgeloop.ledger.headline import headline
from edgeloop.ledger.holdout import HoldoutRecord
from edgeloop.ledger.observations import DeviceDay, device_days
from edgeloop.ledger.report import RoiReport, build_report

#: bootstrap replicates of every interval shown: one number everywhere, so the same ledger gives the same interval
N_BOOT = 2000


class ReportError(ValueError):
    """A report that cannot be made; the message says why and what to do."""


@dataclass(frozen=True, slots=True)
class LedgerRows:
    """What a site's store holds for the report, as the store reads it."""

    holdout: dict[str, Any] | None  # the latest holdout record; None until the agent has seen a device
    entries: list[dict[str, Any]]  # ledger entries in sequence order, as `Entry.from_json` takes them
    days: list[int]  # the UTC day indexes with data, in order


@dataclass(frozen=True, slots=True)
class SiteLedger:
    """What the report is made of, as read from the site's store."""

    site: str
    entries: list[Entry]
    holdout: HoldoutRecord
    observations: list[DeviceDay]
    report: RoiReport


def parse_since(text: str | None, last_day: int | None) -> int | None:
    """A day index from `YYYY-MM-DD`, an ISO date-time, or `Nd` (the last N days with data).

    >>> parse_since("2023-11-15", None)
    19676
    >>> parse_since("7d", 19690)
    19684
    """
    if text is None:
        return None
    if m := re.fullmatch(r"(\d+)d", text.strip()):
        if last_day is None:
            return None
        return last_day - int(m.group(1)) + 1
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise ReportError(
            f"--since {text!r}: give a date (2026-11-01), a date-time, or a number of days (7d)"
        ) from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return int(when.timestamp() // DAY)


def site_ledger(
    site: str, rows: LedgerRows, economics: Path | None = None, since: str | None = None, n_boot: int = 2000
) -> SiteLedger:
    """The report over a site's rows, from `since` on (see `parse_since`); `economics` is the site's economics
    file (None: the shipped defaults), read only once the rows can make a report."""
    entries = [Entry.from_json(e) for e in rows.entries]
    if rows.holdout is None:
        raise ReportError(f"site {site!r} has no holdout record yet: the agent has not seen any device")
    holdout = HoldoutRecord.from_json(rows.holdout)
    site_economics = load_economics(economics)
    days = rows.days
    since_day = parse_since(since, days[-1] if days else None)
    span = range(days[0], days[-1] + 1) if days else range(0)
    observations = device_days(entries, holdout, [d for d in span if since_day is None or d >= since_day])
    report = build_report(entries, observations, site_economics, since_day=since_day, n_boot=n_boot)
    return SiteLedger(site, entries, holdout, observations, report)


def roi_summary(site: SiteLedger) -> dict[str, object]:
    """The headline figures (`edgeloop.ledger.headline`), for the demo's summary."""
    return headline(site.report).to_json()


def day_label(day: int) -> str:
    """A day index as its UTC date, as the report's text and plots name days.

    >>> day_label(19676)
    '2023-11-15'
    """
    return datetime.fromtimestamp(day * DAY, UTC).strftime("%Y-%m-%d")
