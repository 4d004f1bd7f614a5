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
import contextlib
import hashlib
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import orjson

from edgeloop.agent import checkpoint
from edgeloop.agent.approvals import ApprovalDesk
from edgeloop.agent.devices import SiteDevices
from edgeloop.agent.dispatcher import Dispatcher
from edgeloop.agent.ledger_writer import LedgerWriter
from edgeloop.agent.models import ModelBoard, Standing
from edgeloop.agent.outbox import DurableOutbox
from edgeloop.agent.outcomes import Outcomes
from edgeloop.agent.stats import AgentStats
from edgeloop.audit import AuditError, AuditLog, Kind
from edgeloop.audit.directory import write_atomic
from edgeloop.audit.head import AUDIT_HEAD, sign_head
from edgeloop.io.decode import NO_META, RAW_KEPT, DecodedBatch, Rejected, TelemetryDecoder
from edgeloop.io.inbound import Control, DeviceEvent, InboundSplitter, MetaUpdate, rejection
from edgeloop.io.registry import DeviceRegistry
from edgeloop.io.store import AgentStore, StoreError, chunk_rows
from edgeloop.io.topics import Channel, agent_state_topic, agent_topic, device_topic, site_filter
from edgeloop.io.transport import Message, Transport
from edgeloop.learn.alarm import Alarm, AlarmStage, Note
from edgeloop.learn.base import Learner
from edgeloop.learn.calibrated import Rebase
from edgeloop.learn.catalog import gated_parts
from edgeloop.learn.ondelay import alarm_class
from edgeloop.learn.prior import PriorSource
from edgeloop.ledger import Arm
from edgeloop.policy import GuardState, PolicyEngine, PolicyError, parse_policy
from edgeloop.policy.shares import share_site_limits
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
        self.settings = settings
        self.site = settings.site
        self.client = client
        self.store = store
        self.books = books
        self.audit = audit
        self.clock = clock
        self.stats = AgentStats()
        self.telemetry_qos = 0  # QoS of the telemetry subscription (`broker.qos`, set where the agent is wired)
        #: the partition of the site's devices this agent runs (agent.partition), None: all of them
        self.part = settings.part
        self.state_topic = agent_state_topic(self.site, None if self.part is None else self.part.label)
        self._owned: dict[str, bool] = {}  # device id -> whether this partition runs it
        self._subscribed = 0  # devices of the registry whose own topics this partition subscribed to
        #: QoS 1 messages go through it when set (`agent/outbox.py`, set where the agent is wired): written to the
        #: store before they are published, published again after a restart until the broker acknowledged them
        self.outbox: DurableOutbox | None = None
        #: champion and challengers per asset type (agent.selection, agent.challengers); plain: `learner` for all
        saved = {str(t): Standing(str(n), float(x), int(k)) for t, n, x, k in store.read_champions()}
        self.models = ModelBoard.from_settings(learner, settings, saved)
        self.learner = learner = self.models.scorer
        budget = settings.false_alarms_per_device_day
        self.stage = AlarmStage(settings.threshold, settings.sustain, settings.cooldown_s, settings.on_delay_max_s,
                                budget=None if budget is None else (budget, settings.sample_s))  # fmt: skip
        self.data_ts = -np.inf  # the latest data time seen: a re-base an operator asks for starts there
        self.devices = SiteDevices(store, self.stage, learner, self.models, books, self.record)
        self.split = InboundSplitter(self.site, settings.max_future_s, settings.max_past_s)
        self.decoder = TelemetryDecoder(self.site, self.registry, settings.max_payload, settings.max_future_s,
                                        settings.max_past_s)  # fmt: skip
        saved_guard = store.read_guard_state()
        guard = GuardState() if saved_guard is None else GuardState.from_json(saved_guard)
        publish = self._publish
        self.dispatcher = Dispatcher(self.site, policy, guard, store, self.record, publish, self.stats,
                                     settings.ack_timeout_s)  # fmt: skip
        self.approvals = ApprovalDesk(store, self.record, self.dispatcher.send, self._on_verdict, self._replace_policy)
        self.dispatcher.approvals = self.approvals
        self.dispatcher.resume(store.read_unsettled_commands(), clock())
        self.outcomes = Outcomes(self)
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

    @property
    def prior(self) -> PriorSource | None:
        """The fleet's priors (`edgeloop.fleet.share`): new series start from them."""
        return self.devices.prior

    @prior.setter
    def prior(self, prior: PriorSource | None) -> None:
        self.devices.prior = prior

    @property
    def prior_settle_s(self) -> float | None:
        """A restarted device's settling time when its series were seeded from the fleet's prior."""
        return self.devices.prior_settle_s

    @prior_settle_s.setter
    def prior_settle_s(self, settle_s: float | None) -> None:
        self.devices.prior_settle_s = settle_s

    # -- the loop -------------------------------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> AgentStats:
        """Subscribe, then handle micro-batches until `stop` is set; drains what has arrived before returning."""
        client = self.client
        for channel in (Channel.META, Channel.EVENT, Channel.ACK, Channel.STATE):
            await client.subscribe(site_filter(self.site, channel), qos=1)
        if self.part is None:
            await client.subscribe(site_filter(self.site, Channel.TELEMETRY), qos=self.telemetry_qos)
        else:
            await self._subscribe_partition()
        if self.outbox is not None:
            await self.outbox.resend()  # what an earlier run decided and the broker never acknowledged
        self._publish(self.state_topic, b"online", 1, retain=True)
        await self.publish_audit_head()
        every = self.settings.checkpoint_s
        next_checkpoint = self.clock() + every
        async for batch in client.batches(self.settings.batch_max, self.settings.batch_wait_s):
            self.handle_batch(batch)
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
            if self.part is not None:
                await self._subscribe_partition()
            await asyncio.sleep(0)  # let the network reader run between batches
        while batch := client.drain(self.settings.batch_max):
            self.handle_batch(batch)
        self._publish(self.state_topic, b"offline", 1, retain=True)
        await self.checkpoint()
        await self.publish_audit_head()
        if self.outbox is not None:  # what is not acknowledged by now is published again at the next start
            await self.outbox.close(timeout=2.0)
        else:
            await client.flush(timeout=3.0)
        if not await asyncio.to_thread(self.store.flush, 5.0):  # SIGTERM must end the agent within 10 s
            log.error("stopping with writes not committed to %s: %s", self.store.path, self.store.failure or "timeout")
        return self.stats

    async def _subscribe_partition(self) -> None:
        """Telemetry of this partition's devices, one topic each, as their metas make them known.

        The v1 topics have no partition level, and a shared subscription splits by message, not by device, so
        telemetry (the volume) is subscribed per device; the site's metas, events, acks and states (a trickle)
        come site-wide and `handle_batch` keeps this partition's.
        """
        known, part = self.registry.by_index, self.part
        while self._subscribed < len(known):
            device = known[self._subscribed].meta.device
            self._subscribed += 1
            if part is None or part.owns(device):  # a handed-over checkpoint holds other partitions' devices too
                await self.client.subscribe(device_topic(self.site, device, Channel.TELEMETRY), qos=self.telemetry_qos)

    def _mine(self, messages: Sequence[Message]) -> Sequence[Message]:
        """The messages of this partition's devices (and any not of a device); counts the others."""
        part, owned = self.part, self._owned
        if part is None:
            return messages
        if len(owned) > 1_000_000:  # device ids are untrusted input: the cache stays bounded
            owned.clear()
        kept = []
        for m in messages:
            parts = m.topic.split("/", 4)
            device = parts[3] if len(parts) > 4 else ""
            mine = owned.get(device)
            if mine is None:
                mine = owned[device] = not device or device.startswith("_") or part.owns(device)
            if mine:
                kept.append(m)
        self.stats.other_partitions += len(messages) - len(kept)
        return kept

    def handle_batch(self, messages: Sequence[Message]) -> None:
        self.store.check()
        messages = self._mine(messages)
        if not messages:
            return
        now = self.clock()
        inbound = self.split(messages, now)
        if inbound.rejected:
            self._quarantine(inbound.rejected, now)
        if inbound.controls:
            for control in inbound.controls:
                if not isinstance(control, MetaUpdate):
                    self.devices.assign_holdout(now)
                try:
                    self._control(control, now)
                except (ValueError, TypeError, KeyError) as exc:
                    self._quarantine([rejection(control, str(exc))], now)
                except (StoreError, AuditError):
                    raise  # no storage or no audit log: intake stops, visibly (the caller sees why)
                except Exception as exc:  # a bug or an input nobody foresaw: this message only, never the agent
                    log.exception("handling a %s of %s failed", type(control).__name__, control.device)
                    self._quarantine([rejection(control, f"internal error: {type(exc).__name__}: {exc}")], now)
            self.devices.assign_holdout(now)
            self.devices.regroup()
        if inbound.telemetry:
            try:
                self._telemetry(inbound.telemetry, now)
            except (StoreError, AuditError):
                raise  # a decision that cannot be logged is not taken: intake stops, the batch is not blamed
            except Exception as exc:  # the batch's messages go to quarantine whole, with the reason: none is lost
                log.exception("handling a batch of %d telemetry messages failed", len(inbound.telemetry))
                reason = f"internal error: {type(exc).__name__}: {exc}"
                self._quarantine([Rejected(m.topic, reason, m.payload[:RAW_KEPT]) for m in inbound.telemetry], now)

    def _control(self, control: Control, now: float) -> None:
        if isinstance(control, MetaUpdate):
            self.devices.on_meta(control.meta, now)
        elif isinstance(control, DeviceEvent):
            self.outcomes.on_event(control, now)
        else:
            self.dispatcher.on_ack(control, now)

    def sweep_timeouts(self) -> None:
        """Commands whose ack is overdue are recorded as timed out (the device may still act on them); expired
        approvals are rejected and operators' answers taken from the inbox."""
        now = self.clock()
        self.approvals.sweep(now)
        if self.outbox is None or not self.outbox.held:  # a command still waiting for the store is not late yet
            self.dispatcher.sweep(now)

    # -- telemetry: the hot path --------------------------------------------------------------------------------

    def _telemetry(self, messages: list[Message], now: float) -> None:
        decoded = self.decoder.decode(messages, now)
        if decoded.rejected:
            self._quarantine(decoded.rejected, now)
            self.devices.missing_meta(r.device for r in decoded.rejected if r.device and r.reason == NO_META)
        points = decoded.points
        self.stats.messages += decoded.n_messages
        if len(points) == 0:
            return
        scores = self.learner.score_learn(points.series, points.values, points.ts)
        self.data_ts = max(self.data_ts, float(points.ts.max()))
        for gated in gated_parts(self.learner):
            self._record_rebases(gated.take_rebases(), now)
        self.stats.points += len(points)
        if self.settings.store_telemetry:
            device_of_point = self.registry.device_of[points.series]
            self.store.write_telemetry(chunk_rows(device_of_point, points.series, points.ts, points.values, scores))
        if self.books is not None:
            self.books.on_data(float(decoded.msg_ts.min()))
            self.books.on_data(float(decoded.msg_ts.max()))
        alarms = self.stage.on_batch(decoded.msg_device, decoded.msg_ts, decoded.msg_start, points.series, scores)
        self.stats.anomalous_samples += alarms.anomalous
        self.act(alarms.events, now)
        if not self.models.plain:
            self._shadow(decoded, now)

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
        key = alarm_class(meta.asset_type, alarm.evidence)
        self.stage.feedback.note_decision(decision.id, meta.device, alarm.ts, key, alarm.ts - alarm.on_delay_s)
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

    # -- answers and policy ---------------------------------------------------------------------------------------

    def _on_verdict(self, decision: dict[str, Any], verdict: str, now: float) -> None:
        """An operator's verdict on a decision: the models are graded, and the alarm stage learns from it."""
        self.stats.verdicts += 1
        if verdict == "new_normal":
            self.rebase(str(decision["device"]), "new_normal", now)
            return
        if verdict not in ("true_fault", "false_alarm"):
            return
        device, right = str(decision["device"]), verdict == "true_fault"
        self.outcomes.grade(device, right, now, now)
        key = alarm_class(str(decision["asset_type"]), dict(decision.get("evidence") or {}))
        since = float(decision["ts"]) - float(decision.get("on_delay_s") or 0.0)
        self.act(self.stage.answered(str(decision["id"]), device, right, "verdict", (key, since)), now)

    def rebase(self, device: str, reason: str, now: float) -> None:
        """The device's regime is new: its gated learners learn it (`edgeloop.learn.calibrated`), logged."""
        known = self.registry.get(device)
        if known is None:
            return
        keys = np.fromiter(known.keys.values(), dtype=np.int64)
        for gated in gated_parts(self.learner):
            gated.rebase(keys, self.data_ts, reason)
            self._record_rebases(gated.take_rebases(), now)

    def _record_rebases(self, rebases: Sequence[Rebase], now: float) -> None:
        """One audit record per device and re-base: which metrics, when (data time) and why."""
        by_device: dict[tuple[str, float, str], list[str]] = {}
        for r in rebases:
            device, metric = self.registry.series_name(r.key)
            by_device.setdefault((device, r.ts, r.reason), []).append(metric)
        for (device, ts, reason), metrics in by_device.items():
            self.record("rebase", {"device": device, "ts": ts, "reason": reason, "metrics": sorted(metrics)}, now)

    def record_policy(self, source: str, by: str, why: str, now: float) -> None:
        """Keep the policy in force in the store (for the API) and log it: a policy change is a decision too."""
        body = self.policy.policy.model_dump(mode="json")
        digest = hashlib.sha256(orjson.dumps(body, option=orjson.OPT_SORT_KEYS)).hexdigest()
        self.store.write_site_policy(body, source, now)
        self.record(Kind.POLICY, {"sha256": digest, "by": by, "why": why, "source": source[:100_000]}, now)

    def _replace_policy(self, text: str, by: str, why: str, now: float) -> str:
        try:
            policy = parse_policy(text, "policy from the inbox")
        except PolicyError as exc:
            return f"refused: {exc}"
        self.dispatcher.policy = PolicyEngine(share_site_limits(policy, 1 if self.part is None else self.part.count))
        self.record_policy(text, by, why, now)
        return "applied"

    # -- checkpoints --------------------------------------------------------------------------------------------

    async def checkpoint(self) -> None:
        """Write the learnt state to the site's checkpoint file (`agent/checkpoint.py`); a failure is logged."""
        data = checkpoint.encode(self.learnt_state())  # here, between batches: a consistent state
        try:
            await asyncio.to_thread(checkpoint.write, self.settings.checkpoint_path, data)
        except OSError as exc:
            log.warning("checkpoint not written to %s: %s", self.settings.checkpoint_path, exc)

    async def publish_audit_head(self) -> None:
        """Publish the audit log's signed head (`audit/head.py`), retained on `_agent/audit/head` and written to
        the site's `audit-head.json` (served by the API): whoever keeps a copy catches records cut later."""
        if self.audit is None:
            return
        records, head = self.audit.state()
        payload = orjson.dumps(sign_head(self.site, records, head, self.clock(), self.audit.key))
        self._publish(agent_topic(self.site, AUDIT_HEAD), payload, 1, retain=True)
        try:
            await asyncio.to_thread(write_atomic, self.settings.audit_head_path, payload)
        except OSError as exc:
            log.warning("audit head not written to %s: %s", self.settings.audit_head_path, exc)

    def learnt_state(self) -> dict[str, Any]:
        """What a restart needs to resume warm (`agent/checkpoint.py`): registry, learner and alarm stage."""
        return {"site": self.site, "registry": self.registry, "learner": self.learner, "stage": self.stage.snapshot(),
                "guard": self.dispatcher.guard.to_json()}  # fmt: skip

    def resume(self, state: dict[str, Any]) -> bool:
        """Take back `learnt_state()` of an earlier run of this site, before any message; whether it was taken."""
        if state.get("site") != self.site or not self.models.plain or len(self.registry):
            return False  # another site's, or a model board's (its champions are rebuilt from the store)
        self.learner = self.models.learner = state["learner"]
        self.devices.resume(state["registry"], self.learner)
        self.decoder.registry = self.devices.registry
        self.stage.restore(state["stage"])
        self.devices.regroup()
        if "guard" in state and self.store.read_guard_state() is None:  # handed over from another partitioning
            guard = GuardState.from_json(state["guard"])
            part = self.part
            if part is not None:  # the actions this partition's devices had: the rate limits go on counting them
                guard = GuardState([a for a in guard.actions if part.owns(a.device)],
                                   {d for d in guard.stopped if part.owns(d)})  # fmt: skip
            self.dispatcher.guard = guard
        return True

    # -- records --------------------------------------------------------------------------------------------------

    def on_published(self, topic: str, payload: bytes) -> None:
        """A message left the outbox: a command's wait for its ack starts now, not when it was decided."""
        if topic.endswith(f"/{Channel.CMD}"):
            with contextlib.suppress(orjson.JSONDecodeError, KeyError, TypeError):
                self.dispatcher.published(str(orjson.loads(payload)["id"]), self.clock())

    def _publish(self, topic: str, payload: bytes, qos: int, retain: bool = False) -> None:
        if self.outbox is not None and qos > 0:
            self.outbox.put(topic, payload, qos, retain)
        else:
            self.client.publish(topic, payload, qos=qos, retain=retain)

    def record(self, kind: str, body: dict[str, Any], now: float) -> str | None:
        """Append a record to the site's signed audit log (when it has one); its hash, for the store's row."""
        if self.audit is None:
            return None
        return self.audit.append(kind, body, ts=now).hash

    def _quarantine(self, rejected: list[Rejected], now: float) -> None:
        for r in rejected:
            self.stats.count_reason(r.reason)
        self.store.write_quarantine([(now, r.topic, r.device, r.reason, r.raw) for r in rejected])
