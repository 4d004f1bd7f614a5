"""`edgeloop bench roi`: does the ledger's holdout estimate match the agent's true effect?

Per seed, the factory plant runs twice for the same simulated days: once with the site agent acting on its
treated devices (`backtest.run_with_agent`), once with no agent at all (`backtest.run_without_agent`). Faults
are drawn up front per device, so the second run is each treated device's life without the agent: the true
effect is known exactly. Both runs are booked by the same attribution rules and economics.

- `true_uplift`: net value per treated device-day with the agent minus without it (the effect on the treated).
- `estimated_uplift`, `ci_low`, `ci_high`: what the ledger estimates from the first run alone, treated against
  holdout devices (`ledger.uplift`), with its 95% interval.
- `relative_error`: |estimated - true| / |true|.
- `downtime_reduction`: 1 - treated/holdout unplanned downtime per device-day, as the ledger measures it;
  `true_downtime_reduction`: 1 - with/without the agent on the treated devices.
- `holdout_unchanged`: whether every holdout device booked the same value in both runs (the agent did not
  touch them), a check that the comparison is fair.
"""

from __future__ import annotations

import math
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import orjson
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from edgeloop.bench.backtest import AgentRun, PlainRun, PlantSpec, run_with_agent, run_without_agent
from edgeloop.ledger import Arm, DeviceDay, Ledger, attribute, build_report, device_days, load_economics
from edgeloop.settings import Settings, SettingsError, load_settings

TARGETS = {"downtime_reduction": 0.3, "relative_error": 0.10}


@dataclass(frozen=True, slots=True)
class RoiCheck:
    seed: int
    devices: int
    days: int
    true_uplift: float
    estimated_uplift: float
    relative_error: float
    ci_low: float
    ci_high: float
    conclusive: bool
    downtime_reduction: float
    true_downtime_reduction: float
    failures_treated: int
    failures_holdout: int
    failures_treated_without_agent: int
    treated_devices: int
    holdout_devices: int
    decisions: int
    commands_sent: int
    held_out_decisions: int
    holdout_unchanged: bool
    currency: str
    seconds: float

    def meets_targets(self) -> bool:
        return (
            self.downtime_reduction >= TARGETS["downtime_reduction"]
            and self.relative_error <= TARGETS["relative_error"]
            and self.conclusive
        )


def evaluate(
    spec: PlantSpec, settings: Settings, acted: AgentRun, alone: PlainRun, seconds: float, n_boot: int = 2000
) -> RoiCheck:
    """Compare the ledger's estimate (from `acted` alone) with the truth (`acted` against `alone`)."""
    economics = load_economics(settings.ledger.economics)
    record = acted.holdout
    with_agent = device_days(acted.entries, record, spec.day_range)
    report = build_report(acted.entries, with_agent, economics, seed=spec.seed, n_boot=n_boot)
    booked_alone = Ledger().extend(attribute(economics, record, [], alone.outcomes, alone.usage))
    without = {(o.device, o.day): o for o in device_days(booked_alone, record, spec.day_range)}
    treated = [o for o in with_agent if o.arm is Arm.TREATED]
    held = [o for o in with_agent if o.arm is Arm.HOLDOUT]
    base = [without[o.device, o.day] for o in treated]
    true_uplift = _mean([o.net_value for o in treated]) - _mean([o.net_value for o in base])
    value, downtime = report.uplift["net_value"], report.uplift["downtime_h"]
    return RoiCheck(
        seed=spec.seed,
        devices=spec.devices,
        days=spec.days,
        true_uplift=round(true_uplift, 2),
        estimated_uplift=round(value.per_device_day, 2),
        relative_error=round(abs(value.per_device_day - true_uplift) / abs(true_uplift), 4)
        if true_uplift
        else math.inf,
        ci_low=round(value.ci_low, 2),
        ci_high=round(value.ci_high, 2),
        conclusive=value.conclusive,
        downtime_reduction=round(-(downtime.relative or 0.0), 4),
        true_downtime_reduction=round(1 - _ratio(treated, base), 4),
        failures_treated=report.arms[Arm.TREATED].failures,
        failures_holdout=report.arms[Arm.HOLDOUT].failures,
        failures_treated_without_agent=sum(o.failures for o in base),
        treated_devices=len(record.devices(Arm.TREATED)),
        holdout_devices=len(record.devices(Arm.HOLDOUT)),
        decisions=acted.decisions,
        commands_sent=acted.sent,
        held_out_decisions=acted.held_out,
        holdout_unchanged=all(abs(o.net_value - without[o.device, o.day].net_value) < 0.005 for o in held),
        currency=economics.currency,
        seconds=round(seconds, 1),
    )


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else math.nan


def _ratio(treated: list[DeviceDay], base: list[DeviceDay]) -> float:
    before = sum(o.downtime_h for o in base)
    return sum(o.downtime_h for o in treated) / before if before else math.nan


def run_seed(spec: PlantSpec, settings: Settings, progress: Progress | None = None) -> RoiCheck:
    started = time.monotonic()
    task = None if progress is None else progress.add_task(f"seed {spec.seed}", total=2 * spec.steps)

    def advance(n: int) -> None:
        if progress is not None and task is not None:
            progress.advance(task, n)

    acted = run_with_agent(spec, settings, advance)
    alone = run_without_agent(spec, advance)
    return evaluate(spec, settings, acted, alone, time.monotonic() - started)


def results_table(checks: list[RoiCheck]) -> Table:
    cur = checks[0].currency if checks else ""
    table = Table(title="edgeloop bench roi: ledger estimate against the true effect (dd: device-day)")
    heads = ("seed", f"true uplift {cur}/dd", "estimate", "95% interval", "error", "downtime cut ledger/true",
             "failures T/H", "holdout same", "targets")  # fmt: skip
    for col in heads:
        table.add_column(col, justify="right")
    for c in checks:
        table.add_row(
            str(c.seed),
            f"{c.true_uplift:,.0f}",
            f"{c.estimated_uplift:,.0f}",
            f"{c.ci_low:,.0f}..{c.ci_high:,.0f}",
            f"{c.relative_error:.1%}",
            f"{c.downtime_reduction:.0%} / {c.true_downtime_reduction:.0%}",
            f"{c.failures_treated} / {c.failures_holdout}",
            "yes" if c.holdout_unchanged else "[red]NO[/red]",
            "[green]met[/green]" if c.meets_targets() else "[red]missed[/red]",
        )
    return table


def roi(
    seeds: str = "0,1,2",
    devices: int = 400,
    days: int = 14,
    interval: float = 15.0,
    config: Path | None = None,
    json_out: bool = False,
    holdout_fraction: float | None = None,
) -> int:
    """Run the back-test pair of every seed and print the figures; the exit code: 0 every target met, 1 one
    missed, 2 bad settings or seeds."""
    console = Console(stderr=True)
    try:
        ledger = {"holdout_fraction": holdout_fraction} if holdout_fraction is not None else {}
        settings = load_settings(config, ledger=ledger)
        seed_list = [int(s) for s in seeds.split(",") if s.strip()]
    except (SettingsError, ValueError) as exc:
        console.print(f"[red]error:[/red] {exc}")
        return 2
    checks: list[RoiCheck] = []
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=console, transient=json_out) as progress:
        for seed in seed_list:
            checks.append(run_seed(PlantSpec(seed, devices, days, interval), settings, progress))
    summary = {
        "seeds": [asdict(c) for c in checks],
        "all_targets_met": all(c.meets_targets() for c in checks),
        "targets": {**TARGETS, "interval_excludes_zero": True},
        "holdout_fraction": settings.ledger.holdout_fraction,
    }
    if json_out:
        sys.stdout.write(orjson.dumps(summary).decode() + "\n")
    else:
        Console().print(results_table(checks))
    if not summary["all_targets_met"]:
        return 1
    return 0
