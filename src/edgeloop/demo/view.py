"""What `edgeloop demo` shows: the live view while it runs, and the summary and ROI tables at its end."""

from __future__ import annotations

import time
from typing import Any

from rich.console import Group
from rich.table import Table

from edgeloop.agent.site import SiteAgent
from edgeloop.ledger import Arm, Headline, RoiReport, headline
from edgeloop.ledger.headline import rows


def live_view(agent: SiteAgent, started: float, rate: float, duration: float, report: RoiReport | None = None) -> Group:
    """The agent's counters, and beside them the treated and holdout arms as the ledger has them so far."""
    s = agent.stats
    table = Table(title=f"edgeloop demo: site {agent.site}", show_header=False, min_width=60)
    table.add_column(style="bold")
    table.add_column(justify="right")
    table.add_row("elapsed", f"{time.monotonic() - started:.0f} / {duration:.0f} s")
    table.add_row("points/s (last second)", f"{rate:,.0f}")
    table.add_row("points scored and stored", f"{s.points:,}")
    table.add_row("devices", f"{len(agent.registry)}")
    table.add_row("anomalous samples", f"{s.anomalous_samples:,}")
    table.add_row("decisions", f"{s.decisions}")
    table.add_row("commands sent / acked", f"{s.commands_sent} / {s.commands_acked}")
    table.add_row("waiting for approval (edgeloop approvals list)", f"{len(agent.approvals.awaiting)}")
    table.add_row("blocked by a guardrail", f"{s.blocked}")
    table.add_row("faults found by maintenance (caught early)", f"[green]{s.repairs_found_fault}[/green]")
    table.add_row("maintenance that found nothing", f"{s.repairs_found_nothing}")
    table.add_row("failures that happened", f"[red]{s.failures}[/red]")
    table.add_row("quarantined inputs", f"{s.quarantined}")
    return Group(table, arms_table(report))


def arms_table(report: RoiReport | None) -> Table:
    """Treated and holdout side by side, and the measured difference so far (the headline's one definition).

    >>> print(arms_table(None).caption)
    the ledger has no device-day yet
    """
    table = Table(title="treated vs holdout, so far", min_width=60)
    table.add_column("")
    table.add_column("treated (the agent acts)", justify="right")
    table.add_column("holdout (it only watches)", justify="right")
    if report is None:
        table.caption = "the ledger has no device-day yet"
        return table
    arms = [report.arms[Arm.TREATED], report.arms[Arm.HOLDOUT]]
    cur = report.currency

    def per_day(x: float | None, unit: str = "") -> str:
        return "–" if x is None else f"{x:,.2f}{unit}"

    table.add_row("devices", *(f"{a.devices}" for a in arms))
    table.add_row("device-days", *(f"{a.device_days:,}" for a in arms))
    table.add_row("failures", *(f"{a.failures}" for a in arms))
    table.add_row("unplanned downtime", *(f"{a.downtime_h:,.1f} h" for a in arms))
    table.add_row("downtime per device-day", *(per_day(a.downtime_h_per_device_day, " h") for a in arms))
    table.add_row("net value per device-day", *(per_day(a.net_value_per_device_day, f" {cur}") for a in arms))
    h = headline(report)
    if h.value_per_device_day is None or h.value_ci_low is None or h.value_ci_high is None:
        table.caption = "measured difference: not yet (both arms need device-days)"
    else:
        table.caption = (
            f"measured difference: {h.value_per_device_day:+,.0f} {cur} per device-day "
            f"(95% interval {h.value_ci_low:+,.0f} to {h.value_ci_high:+,.0f})"
        )
    return table


def summary_table(summary: dict[str, Any]) -> Table:
    table = Table(title="edgeloop demo: summary", show_header=False)
    table.add_column(style="bold")
    table.add_column(justify="right")
    for key, value in summary.items():
        table.add_row(key.replace("_", " "), f"{value:,}" if isinstance(value, int) else str(value))
    return table


def roi_table(figures: Headline) -> Table:
    table = Table(title="ROI ledger (edgeloop roi report for all of it)", show_header=False)
    table.add_column(style="bold")
    table.add_column(justify="right")
    for label, text in rows(figures):
        table.add_row(label, text)
    return table


def measured(figures: Headline) -> dict[str, Any]:
    """The measured figures a script checks, at the top level of `demo --json`."""
    return {
        "uplift_per_device_day": figures.value_per_device_day,
        "uplift_ci_low": figures.value_ci_low,
        "uplift_ci_high": figures.value_ci_high,
        "downtime_reduction": figures.downtime_reduction,
        "treated_devices": figures.treated_devices,
        "holdout_devices": figures.holdout_devices,
        "treated_days": figures.treated_days,
        "holdout_days": figures.holdout_days,
        "verdict": figures.verdict,
    }
