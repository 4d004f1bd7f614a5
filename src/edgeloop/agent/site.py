"""The site agent: a thin conductor that runs the loop on a site's micro-batches.

How a telemetry point travels (`docs/topics.md` tells it step by step): the source's batch is sorted at the
edge (`io/inbound.py`) and decoded (`io/decode.py`), scored by the learner (`learn/`), stored
(`io/store`), turned into alarms by the alarm stage (`learn/alarm/`), and each alarm into a decision, a
command and its ack by the dispatcher (`agent/dispatcher.py`); device events become outcomes in the ledger
(`agent/outcomes.py`). `handle_batch` is synchronous and does no waiting: I/O goes to the store's writer
thread and the transport's send buffer.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from edgeloop.agent import controls, learnt, lifecycle
from edgeloop.agent.acks import StoredAcks
from edgeloop.agent.approvals import ApprovalDesk
from edgeloop.agent.devices import SiteDevices
from edgeloop.agent.dispatcher import Dispatcher
from edgeloop.agent.holdback import Holdback
from edgeloop.agent.ledger_writer import LedgerWriter
from edgeloop.agent.models import ModelBoard, Standing
from edgeloop.agent.outbox import DurableOutbox
from edgeloop.agent.outcomes import Outcomes
from edgeloop.agent.partition import PartitionView
from edgeloop.agent.repeats import Newest, drop_copies
from edgeloop.agent.rewind import Rewind
from edgeloop.agent.stats import AgentStats
from edgeloop.audit import AuditError, AuditLog
from edgeloop.io.decode import NO_META, RAW_KEPT, DecodedBatch, Rejected, TelemetryDecoder
from edgeloop.io.inbound import InboundSplitter
from edgeloop.io.registry import DeviceRegistry
from edgeloop.io.store import AgentStore, StoreError, chunk_rows
from edgeloop.io.topics import Channel, device_topic
from edgeloop.io.transport import Message, Transport
from edgeloop.learn.alarm import Alarm, AlarmStage, Note
from edgeloop.learn.base import Learner
from edgeloop.learn.catalog import gated_parts
from edgeloop.ledger import Arm
from edgeloop.policy import GuardState, PolicyEngine
from edgeloop.settings import AgentSettings

log = logging.getLogger(__name__)

#: how many alarm notes of each kind the stats count
NOTE_STATS = {"alarm_delayed": "alarms_delayed", "alarm_lapsed": "alarms_lapsed"}


class SiteAgent:
    """One site's agent. Feed it batches with `handle_batch`, or let `run` pull them from the transport."""

    def __init__(
        self,
        settings: AgentSettings,
        client: Transport,
        store: AgentStore,
        learner: Learner,
        policy: PolicyEngine,
        books: LedgerWriter | None = None,
        audit: AuditLog | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings, self.site, self.client, self.store = settings, settings.site, client, store
        self.books, self.audit, self.clock, self.stats = books, audit, clock, AgentStats()
        self.telemetry_qos = 0  # QoS of the telemetry subscription (`broker.qos`, set where the agent is wired)
        #: the partition of the site's devices this agent runs (agent.partition): all of them when not split
        self.partition = PartitionView(self.site, settings.part, self.stats)
        #: QoS 1 messages go through it when set (`agent/outbox.py`): stored, then published until acknowledged
        self.outbox: DurableOutbox | None = None
        #: set with `broker.ack: stored`: QoS 1 messages acknowledged once stored (`agent/acks.py`)
        self.acks: StoredAcks | None = None
        self.holdback = Holdback()  # telemetry held after a restart (`agent/holdback.py`)
        #: champion and challengers per asset type (agent.selection, agent.challengers); plain: `learner` for all
        saved = {str(t): Standing(str(n), float(x), int(k)) for t, n, x, k in store.read_champions()}
        self.models = ModelBoard.from_settings(learner, settings, saved)
        self.learner = learner = self.models.scorer
        budget = settings.false_alarms_per_device_day
        self.stage = AlarmStage(settings.threshold, settings.sustain, settings.cooldown_s, settings.on_delay_max_s,
                                budget=None if budget is None else (budget, settings.sample_s),
                                on_delay_min_false=settings.on_delay_min_false)  # fmt: skip
        self.data_ts = -np.inf  # the latest data time seen: a re-base an operator asks for starts there
        self.newest = Newest()  # each device's newest telemetry time: what the broker sends again is dropped
        #: copies of the learner, to put late readings in place: learning again needs the stored readings
        self.rewind = Rewind(settings.late_window_s if settings.store_telemetry else 0.0)
        self.chunks_written = 0  # telemetry rows this run of the store has been given: a checkpoint notes it
        self.devices = SiteDevices(store, self.stage, learner, self.models, books, self.record)
        self.split = InboundSplitter(self.site, settings.max_future_s, settings.max_past_s)
        self.decoder = TelemetryDecoder(self.site, self.registry, settings.max_payload, settings.max_future_s,
                                        settings.max_past_s)  # fmt: skip
        saved_guard = store.read_guard_state()
        guard = GuardState() if saved_guard is None else GuardState.from_json(saved_guard)
        self.dispatcher = Dispatcher(self.site, policy, guard, store, self.record, self.publish, self.stats,
                                     settings.ack_timeout_s)  # fmt: skip
        self.dispatcher.partitions = self.partition.count
        self.outcomes = Outcomes(self)
        self.approvals = ApprovalDesk(store, self.record, self.dispatcher.send, self.outcomes.on_verdict,
                                      self.dispatcher.replace_policy)  # fmt: skip
        self.dispatcher.approvals = self.approvals
        self.dispatcher.resume(store.read_unsettled_commands(), clock())
        if books is not None:  # every ledger entry is booked in the signed log too, its row carrying the hash
            books.log = lambda kind, body: self.record(kind, body, self.clock())
        learnt = store.read_learnt("feedback")  # thresholds and on-delays, as earlier answers left them
        if learnt is not None:
            self.stage.feedback.restore(learnt)

    @property
    def registry(self) -> DeviceRegistry:
        return self.devices.registry

    @property
    def policy(self) -> PolicyEngine:
        return self.dispatcher.policy

    # -- the loop -------------------------------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> AgentStats:
        """Subscribe, then handle micro-batches until `stop` is set; drains what has arrived before returning."""
        client = self.client
        await lifecycle.start(self)
        every = self.settings.checkpoint_s
        next_checkpoint = self.clock() + every
        acks = self.acks
        async for batch in client.batches(self.settings.batch_max, self.settings.batch_wait_s):
            self.handle_batch(batch)
            if acks is not None:
                acks.after_batch(park=self.holdback.held > 0)
            if stop.is_set():
                break
            self.sweep_timeouts()
            if self.outbox is not None:
                await self.outbox.pump()
            if every and self.clock() >= next_checkpoint:
                next_checkpoint = self.clock() + every
                await self.checkpoint()
                await self.publish_audit_head()
            for device in self.devices.metas_to_ask_again(self.clock()):  # its own subscription brings it again
                await client.subscribe(device_topic(self.site, device, Channel.META), qos=1)
            await self.partition.subscribe(client, self.registry, self.telemetry_qos)  # devices new in the batch
            await asyncio.sleep(0)  # let the network reader run between batches
        await lifecycle.finish(self)
        return self.stats

    def handle_batch(self, messages: Sequence[Message]) -> None:
        self.store.check()
        messages = self.partition.mine(messages)
        if not messages and not self.holdback.held:
            return
        now = self.clock()
        inbound = self.split(messages, now)
        if inbound.rejected:
            self.quarantine(inbound.rejected, now)
        held, steps = self.holdback.held, self.holdback.take(inbound, now)  # takes the events it holds
        controls.handle(self, inbound.controls, now)
        for telemetry, event in steps:  # in time order: the readings before an event, then the event
            if inbound.repeats or held:
                telemetry = drop_copies(telemetry, self.stats)
            if telemetry:
                try:
                    self._telemetry(telemetry, now, in_time_order=held > 0)
                except (StoreError, AuditError):
                    raise  # a decision that cannot be logged is not taken: intake stops, the batch is not blamed
                except Exception as exc:  # the batch's messages go to quarantine whole, with the reason: none lost
                    log.exception("handling a batch of %d telemetry messages failed", len(telemetry))
                    reason = f"internal error: {type(exc).__name__}: {exc}"
                    self.quarantine([Rejected(m.topic, reason, m.payload[:RAW_KEPT]) for m in telemetry], now)
            if event is not None:
                controls.handle(self, [event], now)

    def _stored(self, device: str, metric: str, start: float, end: float) -> set[tuple[float, float]]:
        at, values, _ = self.store.read_series(device, metric, start, end)
        return set(zip(at.tolist(), values.tolist(), strict=True))

    def sweep_timeouts(self) -> None:
        """Commands whose ack is overdue are recorded as timed out (the device may still act on them); expired
        approvals are rejected and operators' answers taken from the inbox."""
        now = self.clock()
        self.approvals.sweep(now)
        if self.outbox is None or not self.outbox.held:  # a command still waiting for the store is not late yet
            self.dispatcher.sweep(now)

    # -- telemetry: the hot path --------------------------------------------------------------------------------

    def _telemetry(self, messages: list[Message], now: float, in_time_order: bool = False) -> None:
        decoded = self.decoder.decode(messages, now)
        if in_time_order:  # held after a restart: what the broker sent again late goes before what followed it
            decoded = decoded.in_time_order()
        if decoded.rejected:
            self.quarantine(decoded.rejected, now)
            self.devices.missing_meta(r.device for r in decoded.rejected if r.device and r.reason == NO_META)
        marks = self.store.marks
        decoded = self.newest.drop_stored(decoded, self.registry, self.stats, self._stored, self.store.flush,
                                          lambda: marks.committed)  # fmt: skip
        decoded, late = self.newest.split_late(decoded, self.stats)
        if late is not None:  # put in place where the learner can go back to before them, else stored unscored
            self._store_points(late, self.rewind.take_late(self, late, now))
        points = decoded.points
        self.stats.messages += decoded.n_messages
        if len(points) == 0:
            return
        self.newest.note(decoded.msg_device, decoded.msg_ts, points.series, points.ts)
        scores = self.learner.score_learn(points.series, points.values, points.ts)
        self.data_ts = max(self.data_ts, float(points.ts.max()))
        for gated in gated_parts(self.learner):
            self.outcomes.record_rebases(gated.take_rebases(), now)
        self.stats.points += len(points)
        self._store_points(decoded, scores)
        if self.books is not None:
            self.books.on_data(float(decoded.msg_ts.min()))
            self.books.on_data(float(decoded.msg_ts.max()))
        alarms = self.stage.on_batch(decoded.msg_device, decoded.msg_ts, decoded.msg_start, points.series, scores)
        self.stats.anomalous_samples += alarms.anomalous
        self.act(alarms.events, now)
        if not self.models.plain:
            self._shadow(decoded, now)
        self.rewind.keep(self.learner, self.newest.series, now)

    def _store_points(self, decoded: DecodedBatch, scores: NDArray[np.float64]) -> None:
        """Hand `decoded`'s points to the store with their scores, and note them as not committed yet."""
        if not self.settings.store_telemetry:
            return
        points, marks = decoded.points, self.store.marks
        rows = chunk_rows(self.registry.device_of[points.series], points.series, points.ts, points.values, scores)
        self.chunks_written += len(rows)
        self.store.write_telemetry(rows)
        self.newest.handled(marks.queued, marks.committed, decoded)

    def act(self, events: Sequence[Alarm | Note], now: float) -> None:
        """Decide on the stage's alarms and log its notes, in the order they came."""
        for event in events:
            if isinstance(event, Alarm):
                self._decide(event, now)
                continue
            counter = NOTE_STATS.get(event.kind)
            if counter is not None:
                setattr(self.stats, counter, getattr(self.stats, counter) + 1)
            self.record(event.kind, event.body, now)
        if self.stage.feedback.dirty:
            self.store.write_learnt("feedback", self.stage.feedback.learnt(), now)

    def _decide(self, alarm: Alarm, now: float) -> None:
        meta = self.registry.by_index[alarm.device].meta
        model = self.models.champion_of(meta.asset_type).learner
        self.models.note_alarm(meta.asset_type, model, meta.device, alarm.ts)
        held_out = self.books is not None and self.books.arm(meta.device) is Arm.HOLDOUT
        decision = self.dispatcher.decide(meta, alarm.ts, alarm.score, alarm.evidence, now, model, held_out,
                                          alarm.on_delay_s)  # fmt: skip
        self.stage.feedback.note_decision(decision.id, meta.device, alarm.ts, alarm.key, alarm.ts - alarm.on_delay_s)
        if self.books is not None:
            self.books.on_decision(decision)

    def _shadow(self, decoded: DecodedBatch, now: float) -> None:
        """Challengers score the same points in the shadow; what they would have raised is logged and kept."""
        device, ts, points = decoded.msg_device, decoded.msg_ts, decoded.points
        may_alarm = self.stage.may_alarm(device, ts)
        made = self.models.shadow(points.series, points.values, points.ts, device, ts, decoded.msg_start, may_alarm)
        for d in made:
            self.record("shadow_decision", {"device": d.device, "asset_type": d.asset_type, "learner": d.learner,
                                          "ts": d.ts, "score": round(d.score, 4)}, now)  # fmt: skip
        if made:
            self.store.write_shadow([(d.device, d.asset_type, d.learner, d.ts, now, d.score) for d in made])

    # -- what a restart needs (`agent/learnt.py`) ----------------------------------------------------------------

    async def checkpoint(self) -> None:
        await learnt.save_checkpoint(self)

    async def publish_audit_head(self) -> None:
        await learnt.publish_audit_head(self)

    def learnt_state(self) -> dict[str, Any]:
        return learnt.state_of(self)

    def resume(self, state: dict[str, Any]) -> bool:
        return learnt.resume(self, state)

    # -- records --------------------------------------------------------------------------------------------------

    def publish(self, topic: str, payload: bytes, qos: int, retain: bool = False) -> None:
        if self.outbox is not None and qos > 0:
            self.outbox.put(topic, payload, qos, retain)
        else:
            self.client.publish(topic, payload, qos=qos, retain=retain)

    def record(self, kind: str, body: dict[str, Any], now: float) -> str | None:
        """Append a record to the site's signed audit log (when it has one); its hash, for the store's row."""
        if self.audit is None:
            return None
        return self.audit.append(kind, body, ts=now).hash

    def quarantine(self, rejected: list[Rejected], now: float) -> None:
        for r in rejected:
            self.stats.count_reason(r.reason)
        self.store.write_quarantine([(now, r.topic, r.device, r.reason, r.raw) for r in rejected])
