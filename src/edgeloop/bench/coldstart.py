"""`edgeloop bench coldstart`: does the fleet's prior help a new site through its first day?

A fleet of `--sites` factory plants (seeds `seed + 1 ...`) runs for `--fleet-days` simulated days, each with
its own agent. At the end each site's summaries are sealed with its own key, and a newcomer takes them through
the real path (`unseal`, trust, schema, `merge`; the MQTT transport itself is covered by the tests). Then a NEW
site (seed `seed + 100`), whose faults may start from its first minute (`fault_free_s`, 0 by default; the fleet's
plants keep the simulator's 4 fault-free hours), runs its first simulated day twice: without the prior and with
it, with the same learner and the same false-alarm budget. Alarms are scored against the plant's ground truth
as `edgeloop bench feedback` scores them: precision = share of alarms raised while a fault was active on the
device; recall = developing faults caught (acted on) before they failed.

Target: with the prior, the new site catches >= 1.3x the developing faults it catches without, with no more
false alarms.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import orjson
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pydantic import ValidationError
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

TARGET_CAUGHT = 1.3
#: the learner and budget the bench runs by default: a calibrated learner, so the budget means one rate everywhere
LEARNER = "ewma_noise_timed_spot"
BUDGET = 1.0
#: devices per site: the new site's day then has 10-18 developing faults caught, so a ratio of 1.3 can be told
#: apart; at 100 it catches 2-6 and one fault decides the target (docs/fleet.md)
DEVICES = 300
#: the new site's plant has run this long when its agent starts, so some of its faults are under way
RUNNING_S = 12 * 3600.0


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
    truth = {**result.truth, "faults": faults_from(result.truth["faults"], lo)}
    (week,) = weekly(truth, [d for d in decisions if d["ts"] >= lo], 1)
    day = DayOne(week.alarms, week.false_alarms, week.precision, week.developing_faults, week.caught_before_failure,
                 week.recall)  # fmt: skip
    return agents[0], day


def faults_from(faults: list[dict[str, Any]], lo: float) -> list[dict[str, Any]]:
    """The faults of the day that starts at `lo`: those starting in it, and those under way at its start (it
    begins with them, as a new site's agent does with a plant that ran before it) as if they started then.

    >>> f = [{"start_ts": 5.0, "failure_ts": None, "cleared_ts": None}, {"start_ts": 1.0, "failure_ts": 3.0,
    ...      "cleared_ts": None}, {"start_ts": 2.0, "failure_ts": 8.0, "cleared_ts": None}]
    >>> [g["start_ts"] for g in faults_from(f, 4.0)]
    [5.0, 4.0]
    """
    out = []
    for f in faults:
        end = f["failure_ts"] or f["cleared_ts"]
        if f["start_ts"] >= lo:
            out.append(f)
        elif end is None or end >= lo:
            out.append({**f, "start_ts": lo})
    return out


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


def coldstart(
    devices: int = DEVICES,
    sites: int = 3,
    fleet_days: int = 2,
    seed: int = 0,
    prior_settle_s: float | None = None,
    config: Path | None = None,
    json_out: bool = False,
    learner: str | None = LEARNER,
    budget: float | None = BUDGET,
    fault_free_s: float = 0.0,
    running_s: float = RUNNING_S,
) -> int:
    """Run the fleet, then the new site with and without its prior, and print the figures; the exit code: 0 target
    met, 1 missed, 2 bad settings. `learner` and `budget` (None: the settings') apply to every site alike."""
    console = Console(stderr=True)
    try:
        settings = _settings(config, learner, budget)
    except SettingsError as exc:
        console.print(f"[red]error:[/red] {exc}")
        return 2
    settle = settings.fleet.prior_settle_s if prior_settle_s is None else prior_settle_s
    fleet_specs = [PlantSpec(seed + 1 + i, devices, fleet_days, site=f"site-{i + 1}") for i in range(sites)]
    new_site = PlantSpec(seed + 100, devices, 1, site="newcomer", fault_free_s=fault_free_s, running_s=running_s)
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=console, transient=json_out) as progress:

        def bar(label: str, spec: PlantSpec) -> Callable[[int], None]:
            task = progress.add_task(label, total=spec.steps)
            return lambda n: progress.advance(task, n)

        runs = [(s.site, run_site(s, settings, bar(f"fleet {s.site}", s))) for s in fleet_specs]
        learnt = [(site, agent) for site, (agent, _) in runs]
        fleet = fleet_knowledge(learnt, START_TS)
        _, without = run_site(new_site, settings, bar("new site, no prior", new_site))

        def with_prior(agent: SiteAgent) -> None:
            agent.devices.prior = fleet
            agent.devices.prior_settle_s = settle

        _, with_ = run_site(new_site, settings, bar("new site, fleet prior", new_site), with_prior)
    caught = None if not without.caught_before_failure else with_.caught_before_failure / without.caught_before_failure
    fewer_false = with_.false_alarms <= without.false_alarms
    result = {
        "learner": settings.agent.learner,
        "false_alarms_per_device_day": settings.agent.false_alarms_per_device_day,
        "fault_free_s": fault_free_s,
        "running_s": running_s,
        "caught_with": with_.caught_before_failure,
        "caught_without": without.caught_before_failure,
        "caught_ratio": None if caught is None else round(caught, 4),
        "false_alarms_with": with_.false_alarms,
        "false_alarms_without": without.false_alarms,
        "target_met": bool(caught is not None and caught >= TARGET_CAUGHT and fewer_false),
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


def _settings(config: Path | None, learner: str | None, budget: float | None) -> Settings:
    """The site settings, with the bench's learner and budget over the file's; SettingsError when they clash."""
    settings = load_settings(config, ledger={"holdout_fraction": 0.0})
    agent = settings.agent.model_dump()
    if learner is not None:
        agent["learner"] = learner
    if budget is not None:
        agent["false_alarms_per_device_day"] = budget
    try:
        return settings.model_copy(update={"agent": type(settings.agent).model_validate(agent)})
    except ValidationError as exc:
        raise SettingsError(f"invalid --learner or --budget:\n{exc}") from exc


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
    ratio = result["caught_ratio"]
    out.print(
        f"{result['learner']}, {result['false_alarms_per_device_day']} false alarms per device-day budgeted; "
        f"the new site's faults may start after {result['fault_free_s'] / 3600:g} h"
    )
    out.print(f"developing faults caught with the prior / without: {'-' if ratio is None else f'{ratio:.2f}x'} "
              f"(target >= {TARGET_CAUGHT}x with no more false alarms: "
              f"{result['false_alarms_with']} against {result['false_alarms_without']}): "
              f"{'met' if result['target_met'] else 'missed'}")  # fmt: skip
