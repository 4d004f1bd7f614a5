"""`edgeloop bench fleet`: a fleet's sites through one broker and through a three-node cluster, compared.

S sites x D devices of the seeded factory (`sim.factory`, a plant of its own per site, faults included) are sent
twice, the same messages in the same order per site, at QoS 1 end to end:

1. through one broker (the embedded NATS server), and
2. through a three-node NATS cluster (`io.cluster`), the agents connected to every node.

In both runs A agent processes (`bench.scale_worker`) run the sites' agents at autonomy 3, with the holdout drawn
per device (so the arms do not depend on the order the metas arrive in), on SQLite or on one shared PostgreSQL
store per run. The plant does not answer commands: it is the same recording both times, so that the agents'
input is the same and any difference is the transport's.

Printed: per run, what was sent and stored, the decisions and ledger entries; then the sites whose decisions or
ledger differ between the two runs (the decision records without their fresh ids and wall-clock times; the
entries with their linked decision named by device and data time), and the fleet ROI report of each run (on
PostgreSQL read as `edgeloop roi report --fleet` reads it) against the sum of its per-site reports.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing as mp
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
from rich.console import Console
from rich.table import Table

from edgeloop.bench.scale import retain_metas, start_workers, stop_all
from edgeloop.io.broker import EmbeddedBroker
from edgeloop.io.cluster import BrokerCluster
from edgeloop.io.mqtt import MqttClient
from edgeloop.io.mqtt_teardown import quiet_client_teardown
from edgeloop.ledger.fleet import fleet_ledger
from edgeloop.ledger.site_ledger import LedgerRows, SiteLedger, site_ledger
from edgeloop.sim.factory import FactoryPlant
from edgeloop.sim.runner import encode_events, encode_step

T0 = 1_700_000_000.0  # the plants' first data time (2023-11-14 22:13 UTC)
N_BOOT = 200  # the reports' bootstrap: the sums compared do not depend on it
#: messages/s per site. A plant of 50 devices sends less than one a second; the bench compresses hours into
#: minutes, but flat out 20 publishers overload a three-node cluster on two cores at QoS 1 (JetStream misses its
#: 1 s ack deadline and closes the agents' connections), which measures the machine, not the fleet.
RATE = 150.0
#: the agents' `broker.redelivery_s`: what NATS sends again after a reconnection comes after its 30 s ack wait
REDELIVERY_S = 32.0


@dataclass(frozen=True, slots=True)
class PlantLoad:
    """One site's plant and where to send it; the same load gives the same messages."""

    url: str
    site: str
    devices: int
    seed: int
    hours: float
    interval_s: float = 60.0
    faults_per_device_day: float = 4.0
    warmup_s: float = 2 * 3600.0
    rate: float = RATE  # messages/s; 0: as fast as it can

    def plant(self) -> FactoryPlant:
        return FactoryPlant(self.devices, seed=self.seed, start_ts=T0, interval_s=self.interval_s, site=self.site,
                            faults_per_device_day=self.faults_per_device_day, warmup_s=self.warmup_s)  # fmt: skip

    def messages(self) -> Iterator[tuple[str, bytes]]:
        """Every step's telemetry and events, then the day's usage reports (the last messages of a run)."""
        plant, seqs = self.plant(), dict[str, int]()
        for _ in range(int(self.hours * 3600 / self.interval_s)):
            for topic, payload, _ in encode_step(self.site, plant.step(), seqs):
                yield topic, payload
        for topic, payload, _ in encode_events(self.site, plant.now, plant.close_day()):
            yield topic, payload


async def _publish(load: PlantLoad) -> dict[str, int]:
    sent = {"messages": 0, "points": 0, "usage": 0}
    quiet_client_teardown(asyncio.get_running_loop())
    async with MqttClient(load.url, f"edgeloop-bench-fleet-{load.site}", max_outbox=10_000_000,
                          clean_session=False) as client:  # fmt: skip
        start = time.perf_counter()
        for topic, payload in load.messages():
            client.publish(topic, payload, qos=1)
            sent["messages"] += 1
            if load.rate > 0 and (ahead := sent["messages"] / load.rate - (time.perf_counter() - start)) > 0.002:
                await asyncio.sleep(ahead)
            if topic.endswith("/telemetry"):
                sent["points"] += len(orjson.loads(payload)["metrics"])
            elif b'"usage"' in payload:
                sent["usage"] += 1
            if sent["messages"] % 500 == 0:
                await asyncio.sleep(0)  # let the socket drain
        await client.flush(timeout=300)
        sent["reconnections"] = max(client.connections - 1, 0)
    return sent


def _publisher_main(load: PlantLoad, result: mp.Queue[dict[str, int]]) -> None:
    logging.getLogger("gmqtt").setLevel(logging.CRITICAL)  # its reconnections are counted (`reconnections`)
    result.put(asyncio.run(_publish(load)))


async def _retained_metas(url: str, loads: list[PlantLoad], clear: bool = False) -> None:
    await retain_metas(url, ((load.site, meta) for load in loads for meta in load.plant().metas()), clear)


@dataclass(slots=True)
class FleetRun:
    """One run of the fleet through one broker set-up."""

    broker: str
    seconds: float = 0.0
    published: int = 0
    points_sent: int = 0
    points_stored: int = 0  # distinct (device, metric, data time)
    points_learnt: int = 0  # what the learners took in: above points_sent when a reading was learnt twice
    decisions: int = 0
    entries: int = 0
    quarantined: int = 0
    reconnections: int = 0  # of the agents' broker connections
    publisher_reconnections: int = 0  # a publisher sends again what the broker had not acknowledged: may come late
    repeats_dropped: int = 0  # readings the broker sent again that the agents had stored
    late_readings: int = 0  # readings that came after a newer one of their device
    broker_redelivered: int | None = None  # QoS 1 messages the cluster sent again (its consumers' count)
    records: dict[str, dict[str, Any]] = field(default_factory=dict)  # per site: decisions and ledger rows

    def summary(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if k != "records"}


def run_fleet(broker: str, url: str, loads: list[PlantLoad], agents: int, root: Path, store: str | None) -> FleetRun:
    """Send every site's plant through the broker at `url` to `agents` agent processes; their records."""
    run, started = FleetRun(broker), time.monotonic()
    sites = [load.site for load in loads]
    groups = [g for g in (sites[j::agents] for j in range(agents)) if g]
    workers: list[subprocess.Popen[bytes]] = []
    asyncio.run(_retained_metas(url, loads))
    ctx = mp.get_context("spawn")
    publishers: list[tuple[Any, mp.Queue[dict[str, int]]]] = []
    try:
        specs = [{"url": url, "sites": group, "devices": loads[0].devices, "store": store, "autonomy": 3,
                  "holdout_draw": "device", "qos": 1, "redelivery_s": REDELIVERY_S, "records": True, "stall_s": 60.0,
                  "deadline_s": 1800.0, "data_dir": str(root / f"{broker.replace(' ', '-')}-w{j}")}
                 for j, group in enumerate(groups)]  # fmt: skip
        start_workers(specs, workers)
        for load in loads:
            queue: mp.Queue[dict[str, int]] = ctx.Queue()
            proc = ctx.Process(target=_publisher_main, args=(load, queue), daemon=True)
            proc.start()
            publishers.append((proc, queue))
        sent = {load.site: queue.get(timeout=1800) for load, (_, queue) in zip(loads, publishers, strict=True)}
        run.published = sum(s["messages"] for s in sent.values())
        run.points_sent = sum(s["points"] for s in sent.values())
        run.publisher_reconnections = sum(s["reconnections"] for s in sent.values())
        for w, group in zip(workers, groups, strict=True):
            expect = {"expect_points": sum(sent[s]["points"] for s in group),
                      "expect_usage": sum(sent[s]["usage"] for s in group)}  # fmt: skip
            out, _ = w.communicate(orjson.dumps(expect) + b"\n", timeout=1800)
            result = orjson.loads(out.decode().strip().splitlines()[-1])
            if "error" in result:
                raise RuntimeError(result["error"])
            run.points_stored += int(result["distinct"])
            run.points_learnt += int(result["points"])
            run.quarantined += int(result["quarantined"])
            run.reconnections += int(result["reconnections"])
            run.repeats_dropped += int(result["repeats_dropped"])
            run.late_readings += int(result["late_readings"])
            run.records.update(result["records"])
    finally:
        stop_all(workers, (proc for proc, _ in publishers))
        with contextlib.suppress(Exception):  # leave no retained metas behind
            asyncio.run(_retained_metas(url, loads, clear=True))
    run.decisions = sum(len(r["decisions"]) for r in run.records.values())
    run.entries = sum(len(r["entries"]) for r in run.records.values())
    run.seconds = round(time.monotonic() - started, 1)
    return run


# -- comparing two runs ---------------------------------------------------------------------------------------------


def stable_decisions(decisions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The records without what each run draws afresh (ids) or reads off the wall clock (`at`), sorted by device
    and data time."""
    out = []
    for d in decisions:
        record = {k: v for k, v in d.items() if k not in ("id", "at")}
        if isinstance(record.get("action"), dict):
            record["action"] = {k: v for k, v in record["action"].items() if k not in ("id", "decision")}
        out.append(record)
    return sorted(out, key=lambda d: (d["device"], d["ts"]))


def stable_entries(entries: list[dict[str, Any]], decisions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Ledger entries without their booking order, their linked decision named by its device and data time."""
    named = {d["id"]: f"{d['device']}@{d['ts']}" for d in decisions}
    out = [{**{k: v for k, v in e.items() if k != "seq"}, "decision": named.get(e.get("decision") or "")}
           for e in entries]  # fmt: skip
    return sorted(out, key=lambda e: (e["device"], e["ts"], e["kind"], e["rule"]))


#: what a decision's record holds besides what was decided: the score and the per-metric evidence behind it
EVIDENCE = ("score", "evidence")


def differences(one: FleetRun, other: FleetRun) -> dict[str, dict[str, int]]:
    """Per site that differs: how many decisions and ledger entries are in one run and not the other
    (`decisions`: what was decided, on which device at which data time, with which status, action, rule and
    guardrail verdicts; `entries`), and how many records of decisions taken in both differ only in their score
    or evidence (`scores`: readings that came late are not learnt, so the scores that follow differ in their
    last digits)."""
    out: dict[str, dict[str, int]] = {}
    for site in sorted(set(one.records) | set(other.records)):
        a, b = one.records.get(site), other.records.get(site)
        if a is None or b is None:
            out[site] = {"missing_site": 1}
            continue
        da, db = stable_decisions(a["decisions"]), stable_decisions(b["decisions"])
        ea, eb = stable_entries(a["entries"], a["decisions"]), stable_entries(b["entries"], b["decisions"])
        decided = _unmatched(*([{k: v for k, v in d.items() if k not in EVIDENCE} for d in side] for side in (da, db)))
        counts = {"decisions": decided, "entries": _unmatched(ea, eb)}
        counts["scores"] = 0 if decided else _unmatched(da, db) // 2
        diff = {k: n for k, n in counts.items() if n}
        if a["holdout"] != b["holdout"]:
            diff["holdout"] = 1
        if any(diff.values()):
            out[site] = diff
    return out


def decided_alike(diff: dict[str, dict[str, int]]) -> bool:
    """Whether every site decided and booked the same (scores aside)."""
    return not any(n for site in diff.values() for k, n in site.items() if k != "scores")


def _unmatched(a: list[dict[str, Any]], b: list[dict[str, Any]]) -> int:
    """Records of `a` not in `b` and of `b` not in `a`, counted with their multiplicity."""
    ca, cb = (Counter(orjson.dumps(x, option=orjson.OPT_SORT_KEYS) for x in side) for side in (a, b))
    return sum((ca - cb).values()) + sum((cb - ca).values())


def _figures(ledger: SiteLedger) -> dict[str, Decimal | int]:
    """The additive figures of a report: what the fleet's must sum to."""
    r = ledger.report
    out: dict[str, Decimal | int] = {
        "entries": r.entries, "net_value": r.net_value, "realized_net_value": r.realized_net_value,
        "claimed_avoided": r.claimed_avoided, "false_alarm_cost": r.false_alarm_cost, "running_cost": r.running_cost,
    }  # fmt: skip
    out |= {f"kind {k}": v for k, v in r.by_kind.items()}
    for arm, a in r.arms.items():
        out |= {f"{arm.value} devices": a.devices, f"{arm.value} device_days": a.device_days,
                f"{arm.value} net_value": a.net_value, f"{arm.value} failures": a.failures}  # fmt: skip
    return out


def fleet_against_sites(run: FleetRun, store: str | None) -> dict[str, list[Any]]:
    """Each additive figure of the run's fleet report against the sum of its sites' reports: [fleet, sum, equal].
    On PostgreSQL the fleet report is read from the shared store, as `edgeloop roi report --fleet` reads it."""
    rows = {site: LedgerRows(r["holdout"], r["entries"], r["days"]) for site, r in run.records.items()}
    total: Counter[str] = Counter()
    sums: dict[str, Decimal | int] = {}
    for site, site_rows in rows.items():
        for name, value in _figures(site_ledger(site, site_rows, None, None, N_BOOT)).items():
            sums[name] = sums.get(name, 0) + value
            total[name] += 1
    if store:
        from edgeloop.agent.roi import read_fleet_ledger  # the reader of the CLI's fleet report
        from edgeloop.settings import load_settings

        fleet = read_fleet_ledger(load_settings(None, store={"url": store}), None, N_BOOT)
    else:
        fleet = fleet_ledger(rows, None, None, N_BOOT)
    mine = _figures(fleet)
    return {name: [str(mine.get(name, 0)), str(sums.get(name, 0)), mine.get(name, 0) == sums.get(name, 0)]
            for name in sorted(set(mine) | set(sums))}  # fmt: skip


def _run_on(
    broker: str, sites: list[str], devices: int, agents: int, hours: float, root: Path, store: str | None
) -> tuple[FleetRun, dict[str, list[Any]]]:
    """One run on a broker set-up started for it (and a PostgreSQL schema of its own, so that its fleet report
    reads its own sites): the run and its fleet report against the sum of its sites'."""
    with contextlib.ExitStack() as stack:
        brokers: EmbeddedBroker | BrokerCluster = EmbeddedBroker() if broker == "one broker" else BrokerCluster(3)
        stack.enter_context(brokers)
        if store:
            from edgeloop.io.store.postgres.schema import scratch_schema

            store = stack.enter_context(scratch_schema(store, "edgeloop_fleet"))
        loads = [PlantLoad(brokers.url, site, devices, seed=i, hours=hours) for i, site in enumerate(sites)]
        run = run_fleet(broker, brokers.url, loads, agents, root, store)
        if isinstance(brokers, BrokerCluster):
            run.broker_redelivered = brokers.redelivered()
        return run, fleet_against_sites(run, store)


def fleet(sites: int = 20, devices: int = 50, agents: int = 2, hours: float = 6.0, store: str | None = None,
          json_out: bool = False, records: Path | None = None) -> int:  # fmt: skip
    """Run the fleet through one broker, then through the cluster, and print the comparison; exit code 1 when a
    site's decisions or ledger differ or a fleet figure is not the sum of the sites'. `records`: a folder to write
    each run's records to (`one-broker.json`, `nats-cluster-x3.json`: per site, decisions and ledger rows)."""
    console = Console(stderr=True)
    names = [f"fleet-{i:03d}" for i in range(sites)]
    runs: list[FleetRun] = []
    checks: list[dict[str, list[Any]]] = []
    with tempfile.TemporaryDirectory(prefix="edgeloop-fleet-") as tmp:
        for broker in ("one broker", "nats cluster x3"):
            console.print(f"{broker}: {sites} sites x {devices} devices, {hours:g} h of plant at QoS 1, "
                          f"{min(agents, sites)} agent processes ...")  # fmt: skip
            run, check = _run_on(broker, names, devices, agents, hours, Path(tmp), store)
            stored = f"{run.points_stored:,} of {run.points_sent:,} points stored"
            console.print(f"    {run.published:,} messages, {stored}, {run.decisions:,} decisions, "
                          f"{run.entries:,} entries, {run.seconds:g} s")  # fmt: skip
            runs.append(run)
            checks.append(check)
            if records is not None:
                records.mkdir(parents=True, exist_ok=True)
                (records / f"{broker.replace(' ', '-')}.json").write_bytes(orjson.dumps(run.records))
    diff = differences(runs[0], runs[1])
    unequal = {name: check for run, checks_of in zip(runs, checks, strict=True)
               for name, check in checks_of.items() if not check[2]}  # fmt: skip
    ok = decided_alike(diff) and not unequal and all(r.points_stored == r.points_sent for r in runs)
    doc = {"bench": "fleet", "sites": sites, "devices_per_site": devices, "hours": hours, "agents": agents,
           "store": "postgresql" if store else "sqlite", "runs": [r.summary() for r in runs],
           "sites_differing": diff, "fleet_report_vs_sum_of_sites": checks, "equal": ok}  # fmt: skip
    if json_out:
        sys.stdout.write(orjson.dumps(doc).decode() + "\n")
        return 0 if ok else 1
    table = Table(title=f"edgeloop bench fleet ({sites} sites x {devices} devices, {hours:g} h, QoS 1)")
    columns = ("broker", "published", "points sent", "points stored", "points learnt", "decisions", "ledger entries",
               "reconnections (agents / publishers)", "repeats dropped", "late readings", "sent again by broker",
               "s")  # fmt: skip
    for column in columns:
        table.add_column(column, justify="right")
    for r in runs:
        again = "-" if r.broker_redelivered is None else f"{r.broker_redelivered:,}"
        table.add_row(r.broker, f"{r.published:,}", f"{r.points_sent:,}", f"{r.points_stored:,}",
                      f"{r.points_learnt:,}", f"{r.decisions:,}", f"{r.entries:,}",
                      f"{r.reconnections} / {r.publisher_reconnections}", f"{r.repeats_dropped:,}",
                      f"{r.late_readings:,}", again, f"{r.seconds:g}")  # fmt: skip
    out = Console()
    out.print(table)
    differ = {site: d for site, d in diff.items() if decided_alike({site: d}) is False}
    scored = [site for site, d in diff.items() if "scores" in d]
    out.print(f"sites whose decisions or ledger differ between the two: {len(differ)} of {sites}"
              + "".join(f"\n  {site}: {d}" for site, d in differ.items()))  # fmt: skip
    out.print(f"sites that decided alike, with a decision's score differing in its last digits: {len(scored)}")
    for r, check in zip(runs, checks, strict=True):
        bad = [n for n, c in check.items() if not c[2]]
        net = check.get("net_value", ["?", "?", False])
        out.print(f"{r.broker}: fleet report net value {net[0]} = sum of the sites' {net[1]}: "
                  + ("all figures equal" if not bad else f"NOT equal: {', '.join(bad)}"))  # fmt: skip
    out.print("equal" if ok else "NOT equal")
    return 0 if ok else 1
