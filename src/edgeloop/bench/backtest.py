"""ROI back-test runs: the factory plant with the site agent in lockstep, and the same plant with no agent.

With the agent, every simulated block of `block_s` goes through the agent's real ingest path (JSON payloads on
the topic scheme, decode, score, decide, policy, ledger) over an in-process `Loopback`; its commands reach the
plant before the next block and their acks come back as messages. Lockstep keeps the run deterministic under a
seed: the plant's faults are drawn up front per device, so a device the agent never acts on lives exactly the
same life in both runs.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from edgeloop.agent.ledger_writer import LedgerWriter
from edgeloop.agent.service import make_learner, make_policy
from edgeloop.agent.site import SiteAgent
from edgeloop.io.loopback import Loopback
from edgeloop.io.store import SqliteStore
from edgeloop.io.topics import Channel, device_topic
from edgeloop.ledger import Entry, HoldoutRecord, Usage
from edgeloop.model import AutonomyLevel, Outcome
from edgeloop.settings import Settings
from edgeloop.sim.factory import FactoryPlant
from edgeloop.sim.runner import apply_command, encode_events, encode_step

DAY = 86_400.0
START_TS = 19_676 * DAY  # midnight UTC, 2023-11-15: runs cover whole days
FAULT_FREE_S = 4 * 3600.0  # the factory plant's fault-free start (`FactoryPlant`'s warmup_s)


@dataclass(frozen=True, slots=True)
class PlantSpec:
    seed: int
    devices: int
    days: int
    interval_s: float = 15.0
    site: str = "factory"
    fault_free_s: float = FAULT_FREE_S  # no fault starts before this much of the plant's life has passed
    running_s: float = 0.0  # how long the plant ran before the run (and its agent) starts: faults may be under way
    upsets_per_device_day: float = 0.0  # process upsets (`sim/factory/upsets.py`): nuisance alarms, no fault

    def build(self) -> FactoryPlant:
        """The plant at the run's start, `START_TS`: it was built `running_s` earlier and has run since."""
        plant = FactoryPlant(self.devices, self.seed, START_TS - self.running_s, self.interval_s, self.site,
                             warmup_s=self.fault_free_s, upsets_per_device_day=self.upsets_per_device_day)  # fmt: skip
        while plant.now < START_TS - 1e-6:
            plant.step()
        return plant

    @property
    def steps(self) -> int:
        return int(self.days * DAY / self.interval_s)

    @property
    def day_range(self) -> range:
        first = int(START_TS // DAY)
        return range(first, first + self.days)


@dataclass(frozen=True, slots=True)
class AgentRun:
    entries: list[Entry]
    holdout: HoldoutRecord
    truth: dict[str, Any]
    decisions: int
    sent: int
    held_out: int


@dataclass(frozen=True, slots=True)
class PlainRun:
    outcomes: list[Outcome]
    usage: list[Usage]
    truth: dict[str, Any]


Progress = Callable[[int], None]  # steps just done
#: called after each block with the agent, the plant and the decision records the agent published in it
BlockHook = Callable[[SiteAgent, FactoryPlant, list[dict[str, Any]]], None]


def run_with_agent(
    spec: PlantSpec,
    settings: Settings,
    progress: Progress | None = None,
    block_s: float = 300.0,
    on_block: BlockHook | None = None,
    prepare: Callable[[SiteAgent], None] | None = None,
) -> AgentRun:
    """The plant with the site agent acting (autonomy 3) on its treated devices; `prepare` sees the agent before
    the plant's devices are announced to it."""
    plant = spec.build()
    update = {"site": spec.site, "store_telemetry": False, "autonomy": AutonomyLevel.ACT}
    cfg = settings.agent.model_copy(update=update)
    link = Loopback()
    with tempfile.TemporaryDirectory(prefix="edgeloop-backtest-") as tmp:
        store = SqliteStore(Path(tmp) / "edgeloop.db", spec.site)
        try:
            books = LedgerWriter.open(store, settings.ledger)
            agent = SiteAgent(cfg, link, store, make_learner(cfg), make_policy(cfg), books, clock=lambda: plant.now)
            if prepare is not None:
                prepare(agent)
            for meta in plant.metas():
                link.deliver(device_topic(spec.site, meta.device, Channel.META), orjson.dumps(meta.to_json()), True)
            agent.handle_batch(link.drain(len(plant.devices)))
            seqs: dict[str, int] = {}
            per_block = max(1, int(block_s // spec.interval_s))
            done = 0
            while done < spec.steps:
                n = min(per_block, spec.steps - done)
                for _ in range(n):
                    for topic, payload, _qos in encode_step(spec.site, plant.step(), seqs):
                        link.deliver(topic, payload)
                decisions = _exchange(agent, link, plant)
                if on_block is not None:
                    on_block(agent, plant, decisions)
                done += n
                if progress is not None:
                    progress(n)
            for topic, payload, _qos in encode_events(spec.site, plant.now, plant.close_day()):
                link.deliver(topic, payload)
            _exchange(agent, link, plant)
            store.flush()
            store.check()
            entries = [Entry.from_json(e) for e in store.read_entries()]
            statuses = store.read_decision_statuses()
        finally:
            store.close()
    return AgentRun(
        entries, books.record, plant.ground_truth(), len(statuses), statuses.count("sent"), statuses.count("held_out")
    )


def _exchange(agent: SiteAgent, link: Loopback, plant: FactoryPlant) -> list[dict[str, Any]]:
    """Hand the agent what the plant sent; act on its commands; repeat until the acks are in. Returns the
    decision records the agent published meanwhile."""
    decisions: list[dict[str, Any]] = []
    while batch := link.drain(1 << 30):
        agent.handle_batch(batch)
        for message in link.take_sent():
            if message.topic.endswith("/cmd"):
                ack = apply_command(plant, message.topic, message.payload)
                if ack is not None:
                    link.deliver(ack[0], ack[1])
            elif message.topic.endswith("/_agent/decision"):
                decisions.append(orjson.loads(message.payload))
    return decisions


def run_without_agent(spec: PlantSpec, progress: Progress | None = None) -> PlainRun:
    """The same plant left alone: its outcomes and usage, as the agent would have received them."""
    plant = spec.build()
    outcomes: list[Outcome] = []
    usage: list[Usage] = []

    def collect(ts: float, events: list[tuple[str, dict[str, Any]]]) -> None:
        for device, event in events:
            if event["kind"] == "usage":
                usage.append(Usage(device, int(event["day"]), float(event["energy_kwh"]), float(event["slowdown_h"])))
            else:
                outcomes.append(Outcome(spec.site, device, ts, str(event["kind"]), None, {"ts": ts, **event}))

    for i in range(spec.steps):
        step = plant.step()
        collect(step.ts, step.events)
        if progress is not None and i % 100 == 99:
            progress(100)
    collect(plant.now, plant.close_day())
    if progress is not None:
        progress(spec.steps % 100)
    return PlainRun(outcomes, usage, plant.ground_truth())
