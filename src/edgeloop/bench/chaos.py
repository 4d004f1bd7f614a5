"""`edgeloop bench chaos`: a site at QoS 1 through a scripted sequence of faults, and what survived.

The agent runs as its own process (`edgeloop agent`, persistent session, QoS 1) and the simulated factory
publishes through the same broker, telemetry at QoS 1. Both reach the broker through a TCP link this bench can
cut (`bench/faults.py`). The script, on a fixed simulated span:

1. kill -9 of the agent, restarted after a pause; twice;
2. the broker unreachable for `broker_down_s` (the link cut and refused, for the agent and the devices);
3. the agent's disk full for `disk_full_s` (its file-size limit at 0: every write that grows a file fails);
4. a burst of hostile messages (`fuzz_corpus`), published straight to the broker;

then the devices stop, the agent drains and gets SIGTERM. Printed: telemetry published vs stored, events
published vs stored, commands sent vs executed (repeats counted), decisions in the store vs the audit log,
whether the log and the store verify, crashes, SIGTERM time, and the score difference against an agent that
never stopped: the site's messages as the broker delivered them to an observer (metas, telemetry, events, in
arrival order) replayed into one in-process agent without faults. Figures, not assertions.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import orjson
from rich.console import Console
from rich.table import Table

from edgeloop.audit import LOG_FILE, Record, verify_file
from edgeloop.audit.store_check import check_store
from edgeloop.audit.trust import trust_anchor
from edgeloop.bench.agent_process import AgentProcess
from edgeloop.bench.chaos_replay import Came, Recording, Scores, late, replay, score_difference
from edgeloop.bench.faults import CuttableLink, fuzz_corpus, limit_file_size
from edgeloop.io.broker import EmbeddedBroker
from edgeloop.io.mqtt import MqttClient, parse_url
from edgeloop.io.store import SqliteOperatorStore
from edgeloop.sim.factory import FactoryPlant
from edgeloop.sim.runner import PlantRunner

#: the agent's `broker.redelivery_s` on the embedded broker: NATS sends a dead session's messages again after 30 s
EMBEDDED_REDELIVERY_S = 32.0


@dataclass(frozen=True, slots=True)
class ChaosPlan:
    devices: int = 20
    speed: float = 600.0  # simulated seconds per real second
    seed: int = 0
    warmup_s: float = 15.0  # before the first fault, and between the kills
    kill_down_s: float = 5.0  # the agent stays dead this long
    broker_down_s: float = 60.0
    disk_full_s: float = 30.0
    fuzz: int = 2000
    settle_s: float = 10.0  # after the last fault, before the devices stop
    #: the agent's `broker.redelivery_s`; None: 32 s on the embedded broker (NATS's ack wait and 2 s), else as set
    redelivery_s: float | None = None

    @property
    def span_s(self) -> float:
        """Real seconds the script takes (about): the simulated span is this times `speed`."""
        kills = 2 * (self.kill_down_s + self.warmup_s)
        return self.warmup_s + kills + self.broker_down_s + self.after_outage_s + self.disk_full_s + 5 + self.settle_s

    @property
    def after_outage_s(self) -> float:
        """From the broker's return to the full disk: past the hold that follows a reconnection (redelivery_s)."""
        return 5.0 + (self.redelivery_s or 0.0)


@dataclass(slots=True)
class RunResult:
    site: str = ""
    telemetry_published: int = 0
    telemetry_at_broker: int = 0  # distinct (device, ts) a subscriber on the broker itself received
    telemetry_stored_not_at_broker: int = 0  # what the agent stored and the observer missed (the observer's loss)
    telemetry_at_broker_not_stored: int = 0
    telemetry_stored: int = 0  # distinct (device, ts)
    telemetry_stored_twice: int = 0
    events_published: int = 0
    events_stored: int = 0  # distinct (device, ts, kind)
    events_at_broker: int = 0  # event messages the observer received
    commands_sent: int = 0  # rows in the store's commands table
    commands_executed: int = 0  # distinct ids the devices ran
    commands_repeated: int = 0  # ids delivered again (acked again, not run)
    commands_unsettled: int = 0  # still `sent` at the end
    decisions_stored: int = 0
    decisions_logged: int = 0
    audit_ok: bool = False
    audit_summary: str = ""
    store_ok: bool = False
    store_summary: str = ""
    fuzz_sent: int = 0
    quarantined: int = 0
    crashes: int = 0  # agent exits nobody asked for, but for those below
    stopped_on_full_disk: int = 0  # exits while the disk was full: intake stops when nothing can be stored
    sigterm_s: float | None = None  # None: still running 15 s after SIGTERM (then killed)
    outbox_unsent: int = 0
    timeline: list[str] = field(default_factory=list)
    scores: Scores = field(default_factory=dict, repr=False)
    #: per series, the newest point scored before a late reading or repair of it came (`chaos_replay.late`)
    late_came: Came = field(default_factory=dict, repr=False)
    at_broker: set[tuple[str, float]] = field(default_factory=set, repr=False)  # (device, ts) the observer got
    #: what the broker delivered of the site (arrival time, topic, payload, retain), for the replay
    recording: Recording = field(default_factory=list, repr=False)


async def run_site(plan: ChaosPlan, broker_url: str, data_dir: Path) -> RunResult:
    """One run of the site through the fault script; its figures."""
    site = f"chaos{uuid.uuid4().hex[:6]}"
    result = RunResult(site)
    link = CuttableLink(*parse_url(broker_url))
    await link.up()
    agent = AgentProcess(link.url, site, data_dir, plan.redelivery_s)
    t0 = time.monotonic()

    def mark(what: str) -> None:
        result.timeline.append(f"{time.monotonic() - t0:6.1f}s {what}")

    try:
        runner = await _script(plan, broker_url, site, link, agent, result, mark)
    finally:
        if agent.alive():
            agent.kill()
        await link.down()
    result.crashes = agent.crashes - result.stopped_on_full_disk
    result.telemetry_published = runner.stats.messages
    result.events_published = runner.stats.events
    result.commands_executed = runner.stats.executed_commands
    result.commands_repeated = runner.stats.repeated_commands
    _measure(result, data_dir, site)
    return result


async def _script(
    plan: ChaosPlan,
    broker_url: str,
    site: str,
    link: CuttableLink,
    agent: AgentProcess,
    result: RunResult,
    mark: Callable[[str], None],
) -> PlantRunner:
    """The run itself: agent up, devices publishing, the faults, drain, SIGTERM."""
    data_dir = Path(agent.args[agent.args.index("--data-dir") + 1])
    seen = {"stats": 0.0}
    async with MqttClient(broker_url, f"chaos-observer-{site}") as observer:
        await observer.subscribe(f"edgeloop/v1/{site}/_agent/stats", qos=0)
        for channel in ("telemetry", "meta", "event"):
            await observer.subscribe(f"edgeloop/v1/{site}/+/{channel}", qos=1)
        at_broker = result.at_broker

        async def watch() -> None:
            # telemetry as the broker itself delivers it: tells a loss before the broker from one after it
            async for batch in observer.batches(10_000, 0.2):
                now = time.time()
                for message in batch:
                    if message.topic.endswith("/stats"):
                        seen["stats"] = time.monotonic()
                        continue
                    result.recording.append((now, message.topic, message.payload, message.retain))
                    if message.topic.endswith("/event"):
                        result.events_at_broker += 1
                    if not message.topic.endswith("/telemetry"):
                        continue
                    with contextlib.suppress(ValueError, KeyError, TypeError, AttributeError):  # fuzz too
                        at_broker.add((message.topic.split("/")[3], float(orjson.loads(message.payload)["ts"])))

        watcher = asyncio.create_task(watch())

        async def agent_up(timeout: float = 60.0) -> None:
            since = time.monotonic()
            while seen["stats"] <= since and time.monotonic() - since < timeout:
                if agent.restart_if_dead():
                    mark("agent exited by itself: restarted")
                await asyncio.sleep(0.1)

        agent.start()
        await agent_up()
        mark("agent up")
        plant = FactoryPlant(plan.devices, plan.seed, site=site)
        devices = MqttClient(link.url, f"chaos-devices-{site}", clean_session=False)
        await devices.__aenter__()
        runner = PlantRunner(plant, devices, speed=plan.speed, telemetry_qos=1)
        stop = asyncio.Event()
        sim = asyncio.create_task(runner.run(stop, sim_seconds=plan.span_s * plan.speed))

        async def wait(seconds: float) -> None:
            end = time.monotonic() + seconds
            while time.monotonic() < end:
                if agent.restart_if_dead():
                    mark("agent exited by itself: restarted")
                await asyncio.sleep(0.2)

        await wait(plan.warmup_s)
        for k in (1, 2):
            agent.kill()
            mark(f"kill -9 of the agent ({k})")
            await wait(plan.kill_down_s)
            agent.start()
            await agent_up()
            mark("agent up")
            await wait(plan.warmup_s)
        await link.down()
        mark(f"broker unreachable for {plan.broker_down_s:.0f} s")
        await wait(plan.broker_down_s)
        await link.up()
        mark("broker back")
        await wait(plan.after_outage_s)  # the agent holds telemetry after reconnecting: the disk fills once it stores
        limit_file_size(agent.pid, 0)
        mark(f"disk full for {plan.disk_full_s:.0f} s")
        exits = agent.crashes
        await wait(plan.disk_full_s)
        result.stopped_on_full_disk = agent.crashes - exits
        if agent.alive():
            limit_file_size(agent.pid, None)
        mark("disk space back")
        await wait(5)
        async with MqttClient(broker_url, f"chaos-fuzzer-{site}") as fuzzer:  # the observer only listens
            for topic, payload, retain in fuzz_corpus(site, plant.devices, plan.fuzz):
                fuzzer.publish(topic, payload, qos=1, retain=retain)
            await fuzzer.flush(30)
        result.fuzz_sent = plan.fuzz
        mark(f"fuzz burst of {plan.fuzz} messages")
        await sim
        mark("devices done")
        await devices.flush(60)

        async def answer() -> None:  # the devices still act on what the agent decides from its backlog
            while True:
                runner.answer_commands()
                await asyncio.sleep(0.2)

        answering = asyncio.create_task(answer())
        # a broker sends what an agent that died left unacknowledged again: Mosquitto as soon as it is back, NATS
        # (the embedded broker) once its ack wait has passed, 30 s after it first sent it
        await _drained(data_dir / site / "edgeloop.db", agent, quiet_s=35.0)
        mark("agent drained")
        answering.cancel()
        await devices.flush(10)
        await devices.close()
        result.sigterm_s = agent.terminate()
        mark("agent stopped")
        watcher.cancel()
        result.telemetry_at_broker = len(at_broker)
    return runner


def _stored_points(db: Path) -> int | None:
    try:
        with SqliteOperatorStore.open(db, read_only=True) as store:
            return store.points()
    except Exception:  # not there yet, or busy: asked again shortly
        return None


async def _drained(db: Path, agent: AgentProcess, quiet_s: float = 5.0, timeout: float = 120.0) -> None:
    """Until the store's telemetry stops growing for `quiet_s` (the agent has taken what the broker held)."""
    last, since, t0 = -1, time.monotonic(), time.monotonic()
    while time.monotonic() - t0 < timeout:
        agent.restart_if_dead()
        n = await asyncio.to_thread(_stored_points, db)
        if n is None:
            n = last
        if n != last:
            last, since = n, time.monotonic()
        elif time.monotonic() - since >= quiet_s:
            return
        await asyncio.sleep(0.5)


def _measure(result: RunResult, data_dir: Path, site: str) -> None:
    site_dir = data_dir / site
    with SqliteOperatorStore.open(site_dir / "edgeloop.db", read_only=True) as store:
        names = store.read_series_names()
        result.late_came = late(store)
        seen: set[tuple[str, float]] = set()
        first_metric: dict[str, str] = {}
        for device, metric in sorted(set(names.values())):
            ts, _, scores = store.read_series(device, metric)
            for t, s in zip(ts.tolist(), scores.tolist(), strict=True):
                result.scores[(device, metric, t)] = s
            if first_metric.setdefault(device, metric) == metric:
                seen |= {(device, t) for t in ts.tolist()}
                result.telemetry_stored_twice += len(ts) - len(set(ts.tolist()))
        result.telemetry_stored = len(seen)
        missed = sorted(t for _, t in seen - result.at_broker)
        result.telemetry_stored_not_at_broker = len(missed)
        if missed:  # where the observer's own losses lie, in simulated time (for the replay's fairness)
            result.timeline.append(
                f"observer missed {len(missed)} stored points, simulated times {missed[0]:.0f}"
                f" to {missed[-1]:.0f}, median {missed[len(missed) // 2]:.0f}"
            )
        result.telemetry_at_broker_not_stored = len(result.at_broker - seen)
        result.events_stored = store.count_device_events()
        result.commands_sent = sum(n for _, n in store.count_commands_by_status())
        result.commands_unsettled = store.count_commands("sent")
        result.decisions_stored = store.count_decisions()
        result.quarantined = store.count_quarantined()
        result.outbox_unsent = len(store.read_unsent())
        rows = store.read_audited()
    log = site_dir / "audit" / LOG_FILE
    anchor = trust_anchor(log.parent, pins=data_dir / "config" / "edgeloop" / "audit-pins.json")
    report = verify_file(log, anchor.key)
    result.audit_ok, result.audit_summary = report.ok, report.summary()
    with log.open("rb") as f:
        records = [Record.from_line(line) for line in f if line.endswith(b"\n")]
    result.decisions_logged = sum(1 for r in records if r.kind == "decision")
    checked = check_store(records, rows.decisions, rows.ledger)
    result.store_ok, result.store_summary = checked.ok, checked.summary()


def chaos(broker: str | None, plan: ChaosPlan, baseline: bool, json_out: bool, keep: Path | None = None) -> int:
    """Run the fault script (then, with `baseline`, the replay); print the figures. Returns the exit code.
    `keep`: leave the runs' data (stores, logs, the agent's stderr) there instead of a temporary directory."""
    if broker is None and plan.redelivery_s is None:
        plan = dataclasses.replace(plan, redelivery_s=EMBEDDED_REDELIVERY_S)
    console = Console(stderr=True)
    logging.getLogger("gmqtt").setLevel(logging.CRITICAL)  # the devices' reconnect attempts while the link is cut
    console.print(f"chaos: about {plan.span_s:.0f} s with faults" + (", then the replay" if baseline else ""))
    with contextlib.ExitStack() as stack:
        tmp = str(keep) if keep else stack.enter_context(tempfile.TemporaryDirectory(prefix="edgeloop-chaos-"))
        url = broker or stack.enter_context(EmbeddedBroker()).url
        run = asyncio.run(run_site(plan, url, Path(tmp) / "faults"))
        base: tuple[Scores, Came] | None = None
        if baseline:
            console.print(f"chaos: replaying {len(run.recording):,} messages into an agent that never stops")
            base = replay(run.recording, run.site, Path(tmp) / "replay")
    figures = _figures(run, base, plan)
    if json_out:
        sys.stdout.write(orjson.dumps(figures, option=orjson.OPT_INDENT_2).decode() + "\n")
    else:
        _print(figures)
    return 0


def _figures(run: RunResult, base: tuple[Scores, Came] | None, plan: ChaosPlan) -> dict[str, Any]:
    lost = {
        "telemetry": run.telemetry_published - run.telemetry_stored,
        "events": run.events_published - run.events_stored,
        "decisions_not_in_store": run.decisions_logged - run.decisions_stored,
    }
    scores = (
        {"not_measured": "run with --baseline"}
        if base is None
        else score_difference(run.scores, base[0], (run.late_came, base[1]))
    )
    return {
        "plan": asdict(plan),
        "telemetry": {"published": run.telemetry_published, "at_broker": run.telemetry_at_broker,
                      "stored": run.telemetry_stored,
                      "stored_not_at_broker": run.telemetry_stored_not_at_broker,
                      "at_broker_not_stored": run.telemetry_at_broker_not_stored,
                      "stored_twice": run.telemetry_stored_twice},
        "events": {"published": run.events_published, "at_broker": run.events_at_broker,
                   "stored": run.events_stored},
        "commands": {"sent": run.commands_sent, "executed": run.commands_executed,
                     "delivered_again": run.commands_repeated, "unsettled": run.commands_unsettled},
        "decisions": {"store": run.decisions_stored, "audit_log": run.decisions_logged},
        "verify": {"audit_log": run.audit_ok, "audit": run.audit_summary, "store": run.store_ok,
                   "store_check": run.store_summary},
        "fuzz": {"sent": run.fuzz_sent, "quarantined_total": run.quarantined},
        "crashes": run.crashes,
        "stopped_on_full_disk": run.stopped_on_full_disk,
        "sigterm_s": run.sigterm_s,
        "outbox_unsent_at_end": run.outbox_unsent,
        "lost": lost,
        "score_difference_vs_no_faults": scores,
        "timeline": run.timeline,
    }  # fmt: skip


def _print(figures: dict[str, Any]) -> None:
    table = Table(title="edgeloop bench chaos", show_header=False)
    for key in ("telemetry", "events", "commands", "decisions", "verify", "fuzz", "lost",
                "score_difference_vs_no_faults"):  # fmt: skip
        table.add_row(key, ", ".join(f"{k} {v}" for k, v in figures[key].items()))
    table.add_row("crashes", str(figures["crashes"]))
    table.add_row("stopped_on_full_disk", str(figures["stopped_on_full_disk"]))
    table.add_row("sigterm_s", str(figures["sigterm_s"]))
    Console().print(table)
    for line in figures["timeline"]:
        Console().print(line)
