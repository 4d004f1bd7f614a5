"""`edgeloop roi report`: the site's ROI ledger as the agent booked it, read from its store.

Net value to date, by asset type and by action; treated against holdout side by side; the measured uplift with
its 95% interval (and a plain statement when it is still too wide to claim anything); the return on the agent's
running cost; what false alarms cost. `--json` prints the report data, `--html FILE` writes a page with plots.
"""

from __future__ import annotations

import math
import re
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import orjson
import typer
from rich.console import Console, Group
from rich.table import Table

from edgeloop.io.store import SqliteStore
from edgeloop.ledger import (
    Arm,
    DeviceDay,
    EconomicsError,
    Entry,
    HoldoutRecord,
    RoiReport,
    build_report,
    device_days,
    load_economics,
)
from edgeloop.ledger.entries import DAY
from edgeloop.settings import Settings, SettingsError, load_settings


class ReportError(ValueError):
    """A report that cannot be made; the message says why and what to do."""


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


def read_site_ledger(settings: Settings, since: str | None = None, n_boot: int = 2000) -> SiteLedger:
    cfg = settings.agent
    if not cfg.db_path.exists():
        raise ReportError(
            f"no store for site {cfg.site!r} at {cfg.db_path}: run the agent (or `edgeloop demo`) first, "
            "or point --data-dir/--site at it"
        )
    store = SqliteStore(cfg.db_path, cfg.site)
    try:
        saved = store.read_holdout()
        entries = [Entry.from_json(e) for e in store.read_entries()]
        days = store.read_days()
    finally:
        store.close()
    if saved is None:
        raise ReportError(f"site {cfg.site!r} has no holdout record yet: the agent has not seen any device")
    holdout = HoldoutRecord.from_json(saved)
    economics = load_economics(settings.ledger.economics)
    since_day = parse_since(since, days[-1] if days else None)
    span = range(days[0], days[-1] + 1) if days else range(0)
    observations = device_days(entries, holdout, [d for d in span if since_day is None or d >= since_day])
    report = build_report(entries, observations, economics, since_day=since_day, n_boot=n_boot)
    return SiteLedger(cfg.site, entries, holdout, observations, report)


# -- text ---------------------------------------------------------------------------------------------------------


def _money(value: object, currency: str) -> str:
    return f"{float(str(value)):,.0f} {currency}"


def _rate(value: float | None, digits: int = 2) -> str:
    return "-" if value is None or math.isnan(value) else f"{value:,.{digits}f}"


def report_view(site: SiteLedger) -> Group:
    r, cur = site.report, site.report.currency
    head = Table(title=f"ROI ledger: site {site.site}", show_header=False)
    head.add_column(style="bold")
    head.add_column(justify="right")
    span = "-" if r.first_day is None else f"{_day(r.first_day)} .. {_day(r.last_day or r.first_day)}"
    head.add_row("days", f"{r.days} ({span})")
    head.add_row("entries", f"{r.entries:,}")
    head.add_row("net value booked", _money(r.net_value, cur))
    head.add_row("  of which realized", _money(r.realized_net_value, cur))
    head.add_row("  of which claimed (avoided failures, not measured)", _money(r.claimed_avoided, cur))
    head.add_row("false-alarm cost", _money(r.false_alarm_cost, cur))
    head.add_row("agent running cost", _money(r.running_cost, cur))
    if r.roi is not None:
        head.add_row("return on running cost (measured)", f"{r.roi:,.1f}x ({r.roi_low:,.1f}x to {r.roi_high:,.1f}x)")
    arms = Table(title="treated against holdout, per device-day")
    for col in ("", "devices", "device-days", "net value", "downtime h", "failures"):
        arms.add_column(col, justify="right")
    for arm in Arm:
        a = r.arms[arm]
        arms.add_row(str(arm), str(a.devices), f"{a.device_days:,}", _rate(a.net_value_per_device_day),
                     _rate(a.downtime_h_per_device_day, 3), _rate(a.failures_per_device_day, 4))  # fmt: skip
    uplift = Table(title="measured uplift (treated minus holdout, 95% interval)")
    for col in ("metric", "per device-day", "interval", "relative", "verdict"):
        uplift.add_column(col, justify="right" if col != "verdict" else "left")
    for name, u in r.uplift.items():
        plain = u.relative is None or math.isnan(u.relative) or name == "net_value"  # a ratio of costs misleads
        relative = "-" if plain else f"{u.relative:+.0%}"
        conclusive = "[green]excludes 0[/green]" if u.conclusive else "[yellow]no claim yet (see below)[/yellow]"
        interval = "-" if math.isnan(u.ci_low) else f"{u.ci_low:+,.3g} .. {u.ci_high:+,.3g}"
        uplift.add_row(name, _rate(u.per_device_day, 3), interval, relative, conclusive)
    groups = Table(title="net value by asset type and by action")
    groups.add_column("group")
    groups.add_column(cur, justify="right")
    for label, values in (("asset type", r.by_asset_type), ("action", r.by_action), ("kind", r.by_kind)):
        for key, amount in values.items():
            groups.add_row(f"{label}: {key}", _money(amount, cur))
    notes = [u.verdict for u in r.uplift.values() if not u.conclusive]
    return Group(head, arms, uplift, groups, *notes)


def roi_summary(site: SiteLedger) -> dict[str, object]:
    """The headline figures, for the demo's summary."""
    r = site.report
    value = r.uplift["net_value"]
    return {
        "currency": r.currency,
        "net_value": str(r.net_value),
        "realized_net_value": str(r.realized_net_value),
        "claimed_avoided": str(r.claimed_avoided),
        "false_alarm_cost": str(r.false_alarm_cost),
        "treated_devices": r.arms[Arm.TREATED].devices,
        "holdout_devices": r.arms[Arm.HOLDOUT].devices,
        "failures_treated": r.arms[Arm.TREATED].failures,
        "failures_holdout": r.arms[Arm.HOLDOUT].failures,
        "uplift_per_device_day": None if math.isnan(value.per_device_day) else round(value.per_device_day, 2),
        "uplift_ci": None if math.isnan(value.ci_low) else [round(value.ci_low, 2), round(value.ci_high, 2)],
        "uplift_verdict": value.verdict,
    }


def _day(day: int) -> str:
    return datetime.fromtimestamp(day * DAY, UTC).strftime("%Y-%m-%d")


def report(
    site: Annotated[str | None, typer.Option("--site", help="site id (default from settings)")] = None,
    since: Annotated[
        str | None, typer.Option("--since", help="from this date (2026-11-01) or the last N days (7d)")
    ] = None,
    html: Annotated[
        Path | None, typer.Option("--html", help="also write a self-contained HTML page with plots")
    ] = None,
    json_out: Annotated[bool, typer.Option("--json", help="print the report as one JSON object")] = False,
    data_dir: Annotated[Path | None, typer.Option("--data-dir", help="where site stores live (default ./var)")] = None,
    config: Annotated[Path | None, typer.Option("--config", help="site settings YAML", exists=True)] = None,
) -> None:
    """The site's ROI: net value, treated against holdout, measured uplift with its interval, return on cost."""
    console = Console(stderr=True)
    agent = {k: v for k, v in {"site": site, "data_dir": data_dir}.items() if v is not None}
    try:
        settings = load_settings(config, agent=agent)
        ledger = read_site_ledger(settings, since)
    except (SettingsError, ReportError, EconomicsError) as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    if html is not None:
        from edgeloop.agent.roi_html import write_html  # matplotlib is loaded only when a page is asked for

        write_html(ledger, html)
        console.print(f"wrote {html}")
    if json_out:
        sys.stdout.write(orjson.dumps({"site": ledger.site, **ledger.report.to_json()}).decode() + "\n")
    else:
        Console().print(report_view(ledger))
