"""`edgeloop roi report`: the site's ROI ledger as the agent booked it, read from its store.

Net value to date, by asset type and by action; treated against holdout side by side; the measured uplift with
its 95% interval (and a plain statement when it is still too wide to claim anything); the return on the agent's
running cost; what false alarms cost. `--json` prints the report data, `--html FILE` writes a page with plots.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path
from typing import Annotated

import orjson
import typer
from rich.console import Console, Group
from rich.table import Table

from edgeloop.agent.roi import read_fleet_ledger, read_site_ledger
from edgeloop.ledger import Arm, EconomicsError, ReportError, SiteLedger, day_label, headline
from edgeloop.ledger.headline import rows
from edgeloop.settings import SettingsError, load_settings

roi_app = typer.Typer(help="The ROI ledger: what the agent earned, measured against the holdout.", no_args_is_help=True)


def _money(value: object, currency: str) -> str:
    return f"{float(str(value)):,.0f} {currency}"


def _rate(value: float | None, digits: int = 2) -> str:
    return "-" if value is None or math.isnan(value) else f"{value:,.{digits}f}"


def report_view(site: SiteLedger) -> Group:
    r, cur = site.report, site.report.currency
    h = headline(r)
    head = Table(title=f"ROI ledger: site {site.site}", show_header=False)
    head.add_column(style="bold")
    head.add_column(justify="right")
    span = "-" if r.first_day is None else f"{day_label(r.first_day)} .. {day_label(r.last_day or r.first_day)}"
    head.add_row("days", f"{r.days} ({span})")
    for label, text in rows(h):
        head.add_row(label, text)
    head.add_row("false-alarm cost (booked)", _money(r.false_alarm_cost, cur))
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
    return Group(head, h.verdict, arms, uplift, groups, *notes)


@roi_app.command("report")
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
    fleet: Annotated[
        bool, typer.Option("--fleet", help="every site of the shared PostgreSQL store (store.url) as one report")
    ] = False,
) -> None:
    """The site's ROI: net value, treated against holdout, measured uplift with its interval, return on cost."""
    console = Console(stderr=True)
    agent = {k: v for k, v in {"site": site, "data_dir": data_dir}.items() if v is not None}
    try:
        settings = load_settings(config, agent=agent)
        ledger = read_fleet_ledger(settings, since) if fleet else read_site_ledger(settings, since)
    except (SettingsError, ReportError, EconomicsError) as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    if html is not None:
        from edgeloop.web.roi_html import write_html  # matplotlib is loaded only when a page is asked for

        write_html(ledger, html)
        console.print(f"wrote {html}")
    if json_out:
        body = {"site": ledger.site, **ledger.report.to_json(), "headline": headline(ledger.report).to_json()}
        sys.stdout.write(orjson.dumps(body).decode() + "\n")
    else:
        Console().print(report_view(ledger))
