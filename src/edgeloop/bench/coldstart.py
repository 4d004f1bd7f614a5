"""`edgeloop bench coldstart`: does the fleet's prior help a new site through its first day?

A fleet of `--sites` factory plants (seeds `seed + 1 ...`) runs for `--fleet-days` simulated days, each with
its own agent. At the end each site's summaries are sealed with its own key, and a newcomer takes them through
the real path (`unseal`, trust, schema, `merge`; the MQTT transport itself is covered by the tests). Then a NEW
site (seed `seed + 100`) runs its first simulated day twice: without the prior and with it. Alarms are scored
against the plant's ground truth as `edgeloop bench feedback` scores them: precision = share of alarms raised
while a fault was active on the device; recall = developing faults caught (acted on) before they failed.

Target: the prior lifts day-one precision by >= 30% (relative) at equal or better recall.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import orjson
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from edgeloop.agent.site import SiteAgent
from edgeloop.bench.backtest import DAY, START_TS, PlantSpec, run_with_agent
from edgeloop.bench.feedback import weekly
from edgeloop.fleet.envelope import seal
from edgeloop.fleet.share import FleetKnowledge, describe, knowledge_topic, site_summaries
from edgeloop.settings import Settings, SettingsError, load_settings
from edgeloop.sim.factory import FactoryPlant

TARGET_LIFT = 0.3


@dataclass(frozen=True, slots=True)
class DayOne:
    alarms: int
    false_alarms: int
    precision: float | None
    developing_faults: int
    caught_before_failure: int
    recall: float | None


def run_site(
    spec: PlantSpec,
    settings: Settings,
    advance: Callable[[int], None],
    prepare: Callable[[SiteAgent], None] | None = None,
) -> tuple[SiteAgent, DayOne]:
    """One site's run; returns its agent (learner state kept) and its alarms scored over its last day."""
    decisions: list[dict[str, Any]] = []
    agents: list[SiteAgent] = []

    def hook(agent: SiteAgent, plant: FactoryPlant, made: list[dict[str, Any]]) -> None:
        if not agents:
            agents.append(agent)
        decisions.extend(made)

    result = run_with_agent(spec, settings, advance, on_block=hook, prepare=prepare)
    lo = START_TS + (spec.days - 1) * DAY  # the last day, scored as `bench feedback` scores a week
    truth = {**result.truth, "faults": [f for f in result.truth["faults"] if f["start_ts"] >= lo]}
    (week,) = weekly(truth, [d for d in decisions if d["ts"] >= lo], 1)
    day = DayOne(week.alarms, week.false_alarms, week.precision, week.developing_faults, week.caught_before_failure,
                 week.recall)  # fmt: skip
    return agents[0], day


def fleet_knowledge(sites: list[tuple[str, SiteAgent]], ts: float) -> FleetKnowledge:
    """What a newcomer takes from the fleet: each site's summaries, sealed with its key, through `take`."""
    fleet = FleetKnowledge()
    for site, agent in sites:
        key = Ed25519PrivateKey.generate()
        for summary in site_summaries(site, agent.registry, agent.learner, ts):
            refused = fleet.take(knowledge_topic(summary.asset_type, site), seal(summary.to_json(), key))
            if refused is not None:
                raise RuntimeError(f"site {site}'s own summary was refused: {refused}")
    return fleet


def _ratio(value: float | None, base: float | None) -> float | None:
    return None if value is None or not base else value / base - 1.0


def coldstart(
    devices: int = 100,
    sites: int = 3,
    fleet_days: int = 2,
    seed: int = 0,
    prior_settle_s: float | None = None,
    config: Path | None = None,
    json_out: bool = False,
) -> int:
    """Run the fleet, then the new site with and without its prior, and print the figures; the exit code: 0 target
    met, 1 missed, 2 bad settings."""
    console = Console(stderr=True)
    try:
        settings = load_settings(config, ledger={"holdout_fraction": 0.0})
    except SettingsError as exc:
        console.print(f"[red]error:[/red] {exc}")
        return 2
    settle = settings.fleet.prior_settle_s if prior_settle_s is None else prior_settle_s
    fleet_specs = [PlantSpec(seed + 1 + i, devices, fleet_days, site=f"site-{i + 1}") for i in range(sites)]
    new_site = PlantSpec(seed + 100, devices, 1, site="newcomer")
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=console, transient=json_out) as progress:

        def bar(label: str, spec: PlantSpec) -> Callable[[int], None]:
            task = progress.add_task(label, total=spec.steps)
            return lambda n: progress.advance(task, n)

        runs = [(s.site, run_site(s, settings, bar(f"fleet {s.site}", s))) for s in fleet_specs]
        learnt = [(site, agent) for site, (agent, _) in runs]
        fleet = fleet_knowledge(learnt, new_site.build().now)
        _, without = run_site(new_site, settings, bar("new site, no prior", new_site))

        def with_prior(agent: SiteAgent) -> None:
            agent.devices.prior = fleet
            agent.devices.prior_settle_s = settle

        _, with_ = run_site(new_site, settings, bar("new site, fleet prior", new_site), with_prior)
    lift = _ratio(with_.precision, without.precision)
    recall_ok = (with_.recall or 0.0) >= (without.recall or 0.0)
    result = {
        "precision_with": with_.precision,
        "precision_without": without.precision,
        "recall_with": with_.recall,
        "recall_without": without.recall,
        "precision_lift": None if lift is None else round(lift, 4),
        "target_met": bool(lift is not None and lift >= TARGET_LIFT and recall_ok),
        "with": asdict(with_),
        "without": asdict(without),
        "prior_settle_s": settle if settle is not None else settings.agent.settle_s,
        "fleet_last_day": {site: asdict(day) for site, (_, day) in runs},
        "fleet": {t: describe(fleet.merged(t)) for t in sorted(fleet.summaries)},
    }
    if json_out:
        sys.stdout.write(orjson.dumps(result).decode() + "\n")
    else:
        _print(result, with_, without, [(site, day) for site, (_, day) in runs], fleet_days)
    if not result["target_met"]:
        return 1
    return 0


def _print(result: dict[str, Any], with_: DayOne, without: DayOne, fleet: list[tuple[str, DayOne]], days: int) -> None:
    out = Console()
    table = Table(title=f"new site, first simulated day (fleet: {len(fleet)} sites x {days} days)")
    for col in ("run", "alarms", "false alarms", "precision", "developing faults", "caught before failure", "recall"):
        table.add_column(col, justify="right")
    rows = [("new site, no prior", without), ("new site, fleet prior", with_)]
    rows += [(f"{site}, day {days} (warm)", day) for site, day in fleet]
    for label, d in rows:
        pct = [("-" if v is None else f"{v:.1%}") for v in (d.precision, d.recall)]
        table.add_row(label, str(d.alarms), str(d.false_alarms), pct[0], str(d.developing_faults),
                      str(d.caught_before_failure), pct[1])  # fmt: skip
    out.print(table)
    lift = result["precision_lift"]
    out.print(f"precision lift {'-' if lift is None else f'{lift:+.1%}'} (target >= +{TARGET_LIFT:.0%} at equal or "
              f"better recall): {'met' if result['target_met'] else 'missed'}")  # fmt: skip
