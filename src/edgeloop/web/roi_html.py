"""The ROI report as one self-contained HTML page: figures as inline SVG, no scripts, nothing fetched.

The figures are also what the dashboard shows (`GET /roi/plots`); `edgeloop roi report --html` writes the page.
"""

from __future__ import annotations

import html
import io
import itertools
import math
from collections import defaultdict
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.figure import Figure

from edgeloop.ledger import Arm, SiteLedger, day_label, headline
from edgeloop.ledger.entries import DAY
from edgeloop.ledger.headline import rows

COLORS = {Arm.TREATED: "#1f77b4", Arm.HOLDOUT: "#ff7f0e"}


def _svg(fig: Figure) -> str:
    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight")
    plt.close(fig)
    text = buf.getvalue()
    return text[text.index("<svg") :]


def series(site: SiteLedger) -> dict[str, Any]:
    """The ledger's figures over time, per arm, as the dashboard draws them (`GET /roi/series`) and the plots
    here: for each day with data (unix seconds of its start, and its UTC date), the arm's net value and
    unplanned downtime per device that day and the net value per device summed to that day; beside them the
    measured uplift (treated minus holdout, per device-day, with its 95% interval) of each metric, and the net
    value by action. All from the ledger's observations and report; nothing is estimated here."""
    days = sorted({o.day for o in site.observations})
    arms: dict[str, dict[str, Any]] = {}
    for arm in Arm:
        mine = [o for o in site.observations if o.arm is arm]
        devices = len({o.device for o in mine})
        value: dict[int, float] = defaultdict(float)
        down: dict[int, float] = defaultdict(float)
        for o in mine:
            value[o.day] += o.net_value
            down[o.day] += o.downtime_h
        per = devices or 1
        daily = [value[d] / per for d in days]
        arms[str(arm)] = {
            "devices": devices,
            "net_value": daily,
            "cumulative_net_value": list(itertools.accumulate(daily)),
            "downtime_h": [down[d] / per for d in days],
        }
    r = site.report
    return {
        "currency": r.currency,
        "days": [d * DAY for d in days],
        "labels": [day_label(d) for d in days],
        "arms": arms,
        "uplift": {k: u.to_json() for k, u in r.uplift.items()},
        "by_action": {k: float(v) for k, v in sorted(r.by_action.items(), key=lambda kv: float(kv[1]))},
    }


def cumulative_value(site: SiteLedger) -> str:
    """Cumulative realized net value per device, treated against holdout, day by day."""
    data = series(site)
    fig, ax = plt.subplots(figsize=(7, 3.2))
    for arm in Arm:
        mine = data["arms"][str(arm)]
        devices = mine["devices"] or 1
        ax.plot(data["labels"], mine["cumulative_net_value"], marker="o", color=COLORS[arm],
                label=f"{arm} ({devices} devices)")  # fmt: skip
    ax.set_ylabel(f"net value per device ({site.report.currency})")
    ax.set_title("Cumulative realized value per device")
    ax.legend()
    ax.tick_params(axis="x", rotation=45)
    return _svg(fig)


def downtime(site: SiteLedger) -> str:
    arms = [site.report.arms[a] for a in Arm]
    fig, ax = plt.subplots(figsize=(4, 3.2))
    values = [a.downtime_h_per_device_day or 0.0 for a in arms]
    ax.bar([str(a.arm) for a in arms], values, color=[COLORS[a.arm] for a in arms])
    ax.set_ylabel("unplanned downtime (h per device-day)")
    ax.set_title("Downtime per device-day")
    return _svg(fig)


def value_by_action(site: SiteLedger) -> str:
    items = sorted(site.report.by_action.items(), key=lambda kv: float(kv[1]))
    fig, ax = plt.subplots(figsize=(5, 0.6 + 0.5 * max(1, len(items))))
    ax.barh([k for k, _ in items], [float(v) for _, v in items], color="#2ca02c")
    ax.set_xlabel(site.report.currency)
    ax.set_title("Net value by action (linked decision's command)")
    return _svg(fig)


def _row(cells: list[str], tag: str = "td") -> str:
    return "<tr>" + "".join(f"<{tag}>{html.escape(c)}</{tag}>" for c in cells) + "</tr>"


def write_html(site: SiteLedger, path: Path) -> None:
    r, cur = site.report, site.report.currency
    uplift_rows = []
    for name, u in r.uplift.items():
        interval = "-" if math.isnan(u.ci_low) else f"{u.ci_low:+,.3f} .. {u.ci_high:+,.3f}"
        estimate = "-" if math.isnan(u.per_device_day) else f"{u.per_device_day:+,.3f}"
        uplift_rows.append(_row([name, estimate, interval, u.verdict]))
    arm_rows = [
        _row([str(a.arm), str(a.devices), str(a.device_days), f"{float(a.net_value):,.0f}", str(a.failures),
              f"{a.downtime_h:,.1f}"])
        for a in (r.arms[x] for x in Arm)
    ]  # fmt: skip
    h = headline(r)
    summary = [*rows(h), ("false-alarm cost (booked)", f"{float(r.false_alarm_cost):,.0f} {cur}")]
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>edgeloop ROI: {html.escape(site.site)}</title>
<style>body{{font-family:system-ui,sans-serif;max-width:1000px;margin:2em auto;color:#222}}
table{{border-collapse:collapse;margin:1em 0}}td,th{{border:1px solid #ccc;padding:4px 8px;text-align:right}}
td:first-child,th:first-child{{text-align:left}}.figs{{display:flex;flex-wrap:wrap;gap:1em}}</style></head>
<body><h1>ROI ledger: site {html.escape(site.site)}</h1>
<p>{r.days} days, {r.entries} entries. Measured figures compare treated devices with the randomized holdout;
claimed avoided failures are shown apart and left out of every measured figure.</p>
<p class="verdict"><strong>{html.escape(h.verdict)}</strong></p>
<table>{"".join(_row([k, v]) for k, v in summary)}</table>
<h2>Treated against holdout</h2>
<table>{_row(["arm", "devices", "device-days", f"net value ({cur})", "failures", "downtime h"], "th")}
{"".join(arm_rows)}</table>
<h2>Measured uplift (treated minus holdout, per device-day, 95% interval)</h2>
<table>{_row(["metric", "estimate", "interval", "verdict"], "th")}{"".join(uplift_rows)}</table>
<div class="figs">{cumulative_value(site)}{downtime(site)}{value_by_action(site)}</div>
</body></html>
"""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page, encoding="utf-8")
