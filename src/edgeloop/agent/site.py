"""The site agent: receives a site's messages in micro-batches and runs the loop on them.

ingest (decode, quarantine) -> store -> learner (score, then learn) -> sustained anomaly -> policy -> decision
-> command -> ack or timeout; device events become outcomes. `handle_batch` is synchronous and does no
waiting: I/O goes to the store's writer thread and the MQTT client's send buffer.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson
from numpy.typing import NDArray

from edgeloop.agent.books import SiteBooks
from edgeloop.agent.desk import OperatorDesk
from edgeloop.agent.learning import LearnsFromAnswers
from edgeloop.agent.runs import run_lengths
from edgeloop.agent.selection import load_selection
from edgeloop.agent.shadow import ModelBoard, Standing
from edgeloop.agent.stats import AgentStats
from edgeloop.agent.watches import Watch
from edgeloop.audit import AuditLog, Kind
from edgeloop.io.decode import NO_META, DecodedBatch, Rejected, TelemetryDecoder
from edgeloop.io.mqtt import Message, Transport
from edgeloop.io.registry import DeviceRegistry, KnownDevice
from edgeloop.io.store import SqliteStore, bucket_of, chunk_rows
from edgeloop.io.topics import AGENT, Channel, TopicError, agent_topic, device_topic, parse_device_topic, site_filter
from edgeloop.learn.base import Learner, grow
from edgeloop.learn.ondelay import alarm_class
from edgeloop.learn.prior import PriorSource, prior_part
from edgeloop.ledger import Arm, Usage
from edgeloop.model import AckStatus, Command, Decision, DecisionStatus, DeviceMeta, Outcome
from edgeloop.policy import DecisionContext, GuardState, PolicyEngine, PolicyError, parse_policy
from edgeloop.settings import AgentSettings

log = logging.getLogger(__name__)

#: wall seconds between two requests for the retained meta of a device that sends telemetry without one
META_ASK_EVERY_S = 60.0
#: most devices whose meta is asked for again (each costs a subscription on the broker)
META_ASK_MAX_DEVICES = 10_000
#: an anomaly this soon (data time) after one of the device's alarms lapsed in its on-delay is raised at once
REPEAT_S = 6 * 3600.0

#: device events after which the device runs again from a new normal (its learners start afresh)
RESTART_EVENTS = {"repaired", "started"}
#: device events after which the device is down and no decision about it makes sense
DOWN_EVENTS = {"failure", "maintenance_started", "stopped"}


@dataclass(slots=True)
class PendingCommand:
    command: Command
    deadline: float


class SiteAgent(LearnsFromAnswers):
    """One site's agent. Feed it batches with `handle_batch`, or let `run` pull them from the client."""

    def __init__(
        self,
        settings: AgentSettings,
        client: Transport,
        store: SqliteStore,
        learner: Learner,
        policy: PolicyEngine,
        books: SiteBooks | None = None,
        audit: AuditLog | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.site = settings.site
        self.client = client
        self.store = store
        self.learner = learner
        self.policy = policy
        self.books = books
        self.audit = audit
        self.clock = clock
        self.stats = AgentStats()
        self.registry = DeviceRegistry()
        self.decoder = TelemetryDecoder(self.site, self.registry, settings.max_payload, settings.max_future_s)
        self.pending: dict[str, PendingCommand] = {}
        self.last_decision: dict[str, str] = {}  # device -> id of its latest decision
        self._decided_at: dict[str, float] = {}  # decision id -> data time, for the latest decision per device
        self._init_learning()  # thresholds and on-delays, as earlier answers left them (agent/learning.py)
        self._thr = np.zeros(0, dtype=np.float64)  # each device's alarm threshold, as feedback has set it
        self._run = np.zeros(0, dtype=np.int64)
        self._cooldown_until = np.zeros(0, dtype=np.float64)
        self._down = np.zeros(0, dtype=bool)
        self._settle_until = np.zeros(0, dtype=np.float64)  # a restarted device warms up: no alarms till then
        self._unassigned: dict[str, str] = {}  # devices announced in this batch, for the holdout
        self._meta_missing: set[str] = set()  # devices that sent telemetry without a known meta, since last asked
        self._meta_asked: dict[str, float] = {}  # device -> monotonic time its meta was last asked for again
        #: the fleet's priors (edgeloop.fleet.share): new series start from them; and a shorter settle with one
        self.prior: PriorSource | None = None
        self.prior_settle_s: float | None = None
        self.desk = OperatorDesk(store, self._log, self._send, self._on_verdict, self._replace_policy)
        saved_guard = store.read_guard_state()
        self.guard = GuardState() if saved_guard is None else GuardState.from_json(saved_guard)
        self._sustain = np.zeros(0, dtype=np.int64)  # each device's sustain: its champion's (agent.sustain)
        self._groups_stale = False  # new series since the learner was last told which keys are one device
        #: champion and challengers per asset type (agent.selection, agent.challengers); None: `learner` for all
        self.models = _board(settings, store)
        if self.models is not None:
            self.models.champion.default = learner
            self.learner = self.models.champion

    # -- the loop ---------------------------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> AgentStats:
        """Subscribe, then handle micro-batches until `stop` is set; drains what has arrived before returning."""
        client = self.client
        for channel in (Channel.META, Channel.EVENT, Channel.ACK, Channel.STATE):
            await client.subscribe(site_filter(self.site, channel), qos=1)
        await client.subscribe(site_filter(self.site, Channel.TELEMETRY), qos=0)
        client.publish(agent_topic(self.site, "state"), b"online", qos=1, retain=True)
        while not stop.is_set():
            await client.wait(self.settings.batch_wait_s)
            self.handle_batch(client.drain(self.settings.batch_max))
            self.sweep_timeouts()
            for device in self.metas_to_ask_again():  # a subscription of its own brings the retained meta again
                await client.subscribe(device_topic(self.site, device, Channel.META), qos=1)
            await asyncio.sleep(0)  # let the network reader run between batches
        while batch := client.drain(self.settings.batch_max):
            self.handle_batch(batch)
        client.publish(agent_topic(self.site, "state"), b"offline", qos=1, retain=True)
        await client.flush(timeout=5.0)
        await asyncio.to_thread(self.store.flush)
        return self.stats

    def metas_to_ask_again(self) -> list[str]:
        """Devices whose telemetry came without a meta known for them, at most once a minute each (wall time):
        their meta may have been lost on the way (the agent then quarantines all they send until it comes)."""
        now = time.monotonic()
        due = [d for d in self._meta_missing if now - self._meta_asked.get(d, -np.inf) >= META_ASK_EVERY_S]
        if len(self._meta_asked) + len(due) > META_ASK_MAX_DEVICES:  # a flood of made-up devices: stop asking
            due = [d for d in due if d in self._meta_asked]
        for device in due:
            self._meta_asked[device] = now
        self._meta_missing.clear()
        return due

    def handle_batch(self, messages: Sequence[Message]) -> None:
        self.store.check()
        if not messages:
            return
        now = self.clock()
        telemetry = [m for m in messages if m.topic.endswith("/telemetry")]
        if len(telemetry) != len(messages):
            control = [m for m in messages if not m.topic.endswith("/telemetry")]
            control.sort(key=lambda m: not m.topic.endswith("/meta"))  # devices first, then what they report
            for message in control:
                if self._unassigned and not message.topic.endswith("/meta"):
                    self._assign_holdout(now)
                self._handle_control(message, now)
            self._assign_holdout(now)
            if self._groups_stale:
                self._regroup()
        if telemetry:
            self._handle_telemetry(telemetry, now)

    # -- telemetry: the hot path ------------------------------------------------------------------------------

    def _handle_telemetry(self, messages: list[Message], now: float) -> None:
        decoded = self.decoder.decode(messages, now)
        if decoded.rejected:
            self._quarantine(decoded.rejected, now)
            self._meta_missing.update(r.device for r in decoded.rejected if r.device and r.reason == NO_META)
        points = decoded.points
        self.stats.messages += decoded.n_messages
        if len(points) == 0:
            return
        scores = self.learner.score_learn(points.series, points.values, points.ts)
        self.stats.points += len(points)
        if self.settings.store_telemetry:
            device_of_point = self.registry.device_of[points.series]
            self.store.write_telemetry(chunk_rows(device_of_point, points.series, points.ts, points.values, scores))
        if self.books is not None:
            self.books.on_data(float(decoded.msg_ts.min()))
            self.books.on_data(float(decoded.msg_ts.max()))
        self._decide_on_runs(decoded, scores, now)
        if self.models is not None:
            self._shadow(decoded, now)

    def _shadow(self, decoded: DecodedBatch, now: float) -> None:
        assert self.models is not None
        device, ts, points = decoded.msg_device, decoded.msg_ts, decoded.points
        may_alarm = ~self._down[device] & (ts >= self._settle_until[device])
        made = self.models.shadow(points.series, points.values, points.ts, device, ts, decoded.msg_start, may_alarm)
        for d in made:
            self._log("shadow_decision", {"device": d.device, "asset_type": d.asset_type, "learner": d.learner,
                                          "ts": d.ts, "score": round(d.score, 4)}, now)  # fmt: skip
        if made:
            self.store.write("INSERT INTO shadow VALUES (?, ?, ?, ?, ?, ?)",
                             [(d.device, d.asset_type, d.learner, d.ts, now, d.score) for d in made])  # fmt: skip

    def _decide_on_runs(self, decoded: DecodedBatch, scores: NDArray[np.float64], now: float) -> None:
        device, ts, start = decoded.msg_device, decoded.msg_ts, decoded.msg_start
        sample_score = np.maximum.reduceat(scores, start)
        n_dev = len(self.registry.by_index)
        self._run = grow(self._run, n_dev, 0)
        self._cooldown_until = grow(self._cooldown_until, n_dev, -np.inf)
        self._down = grow(self._down, n_dev, False)
        self._thr = grow(self._thr, n_dev, self.settings.threshold)
        self._settle_until = grow(self._settle_until, n_dev, -np.inf)
        self._sustain = grow(self._sustain, n_dev, self.settings.sustain)
        hot = (sample_score >= self._thr[device]) & ~self._down[device] & (ts >= self._settle_until[device])
        self.stats.anomalous_samples += int(np.count_nonzero(hot))
        self.watches.note(device, ts, hot, n_dev)
        runs, present, last = run_lengths(device, hot, self._run)
        self._run[present] = np.minimum(last, self._sustain[present])
        candidates = np.flatnonzero(runs >= self._sustain[device])
        for i in candidates:  # rare: only samples that complete a sustained run
            d = int(device[i])
            if ts[i] < self._cooldown_until[d] or self._down[d] or d in self.watches.waiting:
                continue
            end = int(start[i + 1]) if i + 1 < start.shape[0] else scores.shape[0]
            known = self.registry.by_index[d]
            metric_of = {k: m for m, k in known.keys.items()}
            # the evidence: each metric's score in the sample that completed the run
            evidence = {
                metric_of.get(int(k), str(k)): round(float(s), 4)
                for k, s in zip(decoded.points.series[start[i] : end], scores[start[i] : end], strict=True)
            }
            key = alarm_class(known.meta.asset_type, evidence)
            wait = self.on_delay.delay(key)
            # false alarms of this class went away on their own: see whether this one does (unless it repeats)
            if wait > 0 and not self.watches.lapsed_within(d, float(ts[i]), REPEAT_S):
                lead = int(decoded.points.series[start[i] + int(np.argmax(scores[start[i] : end]))])
                watch = Watch(d, key, float(ts[i]), float(ts[i]) + wait, float(sample_score[i]), evidence, lead)
                self.watches.hold(watch)
                self.stats.alarms_delayed += 1
                self._log("alarm_delayed", {"device": known.meta.device, **watch.to_json()}, now)
                continue
            self._decide(known, float(ts[i]), float(sample_score[i]), evidence, now)
        if self.watches.waiting:
            self._corroborate(decoded, scores, hot)
        self._settle_watches(device, ts, now)

    def _corroborate(self, decoded: DecodedBatch, scores: NDArray[np.float64], hot: NDArray[np.bool_]) -> None:
        """Which metrics of the watched devices' anomalous samples are anomalous: a second one confirms a held
        alarm. Only those samples' points are looked at, not the whole batch's."""
        device, start = decoded.msg_device, decoded.msg_start
        chosen = np.flatnonzero(hot & np.isin(device, np.fromiter(self.watches.waiting, dtype=np.int64)))
        if chosen.size == 0:
            return
        counts = np.append(start[1:], scores.shape[0])[chosen] - start[chosen]
        first = np.repeat(start[chosen] - np.cumsum(counts) + counts, counts)
        points = first + np.arange(int(counts.sum()))  # the chosen samples' points, in order
        point_device = np.repeat(device[chosen], counts)
        point_hot = scores[points] >= self._thr[point_device]
        ts = np.repeat(decoded.msg_ts[chosen], counts)
        self.watches.corroborate(point_device, decoded.points.series[points], ts, point_hot)

    # -- decisions and commands -------------------------------------------------------------------------------

    def _decide(
        self,
        known: KnownDevice,
        ts: float,
        score: float,
        evidence: dict[str, float],
        now: float,
        on_delay_s: float = 0.0,
    ) -> None:
        meta = known.meta
        held_out = self.books is not None and self.books.arm(meta.device) is Arm.HOLDOUT
        context = DecisionContext(meta.device, meta.asset_type, min(max(score, 0.0), 1.0), meta, None, held_out,
                                  self.desk.open_for(meta.device))  # fmt: skip
        verdict = self.policy.decide(context, self.guard, now)
        decision_id = uuid.uuid4().hex
        command = None  # for a held-out device: what would have been sent
        acting = (DecisionStatus.SENT, DecisionStatus.HELD_OUT, DecisionStatus.PENDING_APPROVAL)
        if verdict.status in acting and verdict.action is not None:
            command = Command(uuid.uuid4().hex, self.site, meta.device, verdict.action, verdict.args, decision_id)
        decision = Decision(
            id=decision_id,
            site=self.site,
            device=meta.device,
            asset_type=meta.asset_type,
            ts=ts,
            at=now,
            score=round(score, 4),
            evidence=evidence,
            model=self.learner.name if self.models is None else self.models.champion_of(meta.asset_type).learner,
            rule=verdict.rule or "none",
            autonomy=verdict.autonomy,
            status=verdict.status,
            action=command,
            reason=verdict.reason,
            guardrails=tuple(check.to_json() for check in verdict.guardrails),
            on_delay_s=round(on_delay_s, 1),
        )
        self._cooldown_until[known.index] = ts + self.settings.cooldown_s
        self._run[known.index] = 0
        if self.models is not None:
            self.models.note_alarm(meta.asset_type, decision.model, meta.device, ts)
        self._decided_at.pop(self.last_decision.get(meta.device, ""), None)
        self._alarm_of.pop(self.last_decision.get(meta.device, ""), None)
        self.last_decision[meta.device] = decision_id
        self._decided_at[decision_id] = ts
        self._alarm_of[decision_id] = (alarm_class(meta.asset_type, evidence), ts - on_delay_s)
        self.stats.decisions += 1
        self.stats.decision_latency_s.append(now - ts)
        record = decision.to_record()
        self._log(Kind.DECISION, record, now)  # logged before anything is sent
        self.store.write_decision(record)
        if self.books is not None:
            self.books.on_decision(decision)
        self.client.publish(agent_topic(self.site, "decision"), orjson.dumps(record), qos=1)
        if command is not None and decision.status is DecisionStatus.SENT:
            self._send(command, now)
        elif command is not None and decision.status is DecisionStatus.PENDING_APPROVAL:
            self.desk.request(decision, command, verdict.expires_at or now, now)
            self.stats.approvals_requested += 1
        elif decision.status is DecisionStatus.BLOCKED:
            self.stats.blocked += 1

    def _send(self, command: Command, now: float) -> None:
        """The one path that sends commands: the policy decided (or an operator approved) just before."""
        self._log(Kind.COMMAND, {**command.payload(), "device": command.device}, now)
        self.policy.record_sent(self.guard, command.device, command.name, now)
        self.store.write_guard_state(self.guard.to_json(), now)
        self.store.write_command(command.id, command.decision, command.device, command.name, dict(command.args), now)
        self.client.publish(
            device_topic(self.site, command.device, Channel.CMD), orjson.dumps(command.payload()), qos=1
        )
        self.pending[command.id] = PendingCommand(command, now + self.settings.ack_timeout_s)
        self.stats.commands_sent += 1

    def sweep_timeouts(self) -> None:
        """Commands whose ack is overdue are recorded as timed out (the device may still act on them); expired
        approvals are rejected and operators' answers taken from the inbox."""
        now = self.clock()
        self.desk.sweep(now)
        if self.guard.prune(now - self.policy.horizon_s):
            self.store.write_guard_state(self.guard.to_json(), now)
        if not self.pending:
            return
        for cmd_id in [c for c, p in self.pending.items() if p.deadline <= now]:
            pending = self.pending.pop(cmd_id)
            self._record_ack(pending.command, AckStatus.TIMEOUT, f"no ack within {self.settings.ack_timeout_s} s", now)

    def _record_ack(self, command: Command, status: AckStatus, detail: str, now: float) -> None:
        self._log(Kind.ACK, {"command": command.id, "device": command.device, "status": str(status),
                             "detail": detail, "decision": command.decision}, now)  # fmt: skip
        self.store.write_ack(command.id, str(status), now, detail)
        self.store.write_outcome(command.device, now, now, f"ack_{status}", command.decision, {"command": command.id})
        if status is AckStatus.DONE:
            self.stats.commands_acked += 1
        elif status is AckStatus.REJECTED:
            self.stats.commands_rejected += 1
        else:
            self.stats.commands_timed_out += 1

    # -- control messages: meta, events, acks, state ----------------------------------------------------------

    def _handle_control(self, message: Message, now: float) -> None:
        if f"/{AGENT}/" in message.topic:
            return  # our own retained state, echoed back by the `+/state` subscription
        try:
            topic = parse_device_topic(message.topic)
            if topic.site != self.site:
                raise TopicError(message.topic, f"not this agent's site ({self.site})")
        except TopicError as exc:
            self._quarantine([Rejected(message.topic, exc.reason, message.payload[:4096])], now)
            return
        if topic.channel is Channel.STATE or (topic.channel is Channel.META and not message.payload):
            return  # device liveness is informative only; an empty retained meta clears a device's description
        try:
            doc = orjson.loads(message.payload)
            if not isinstance(doc, dict):
                raise ValueError("expected a JSON object")
            if topic.channel is Channel.META:
                self._on_meta(topic.device, doc, now)
            elif topic.channel is Channel.EVENT:
                self._on_event(topic.device, doc, now)
            elif topic.channel is Channel.ACK:
                self._on_ack(topic.device, doc, now)
            else:
                raise ValueError(f"the agent does not take {topic.channel} messages")
        except (orjson.JSONDecodeError, ValueError, TypeError, KeyError) as exc:
            reason = (
                f"malformed JSON: {exc}" if isinstance(exc, orjson.JSONDecodeError) else f"bad {topic.channel}: {exc}"
            )
            self._quarantine([Rejected(message.topic, reason, message.payload[:4096], topic.device)], now)

    def _on_meta(self, device: str, doc: dict[str, Any], now: float) -> None:
        meta = DeviceMeta.from_json(doc)
        if meta.device != device:
            raise ValueError(f"meta names device {meta.device!r} on the topic of {device!r}")
        for spec in meta.metrics:
            if not spec.low < spec.high:
                raise ValueError(f"metric {spec.name!r} has an empty range [{spec.low}, {spec.high}]")
        if self.books is not None and self.books.arm(device) is None:
            self.books.economics.asset(meta.asset_type)  # no economics for it: refuse the device, not the batch
            self._unassigned[device] = meta.asset_type
        before = self.registry.n_series
        known = self.registry.add(meta)
        self.store.write_device(device, meta.asset_type, meta.to_json(), now)
        if self.models is not None:
            self._apply_rule(known.index, self.models.on_device(known.index, device, meta.asset_type))
        else:  # where feedback has left the device's threshold (it may have been restored from the store)
            self._thr = grow(self._thr, len(self.registry.by_index), self.settings.threshold)
            self._thr[known.index] = self.feedback.threshold(device, meta.asset_type)
        self._store_new_series(before, known)

    def _assign_holdout(self, now: float) -> None:
        if self.books is not None and self._unassigned:
            self.books.assign(self._unassigned, now)
            arms = {d: str(self.books.arm(d)) for d in self._unassigned}
            design = self.books.design
            self._log("holdout", {"seed": design.seed, "fraction": design.fraction, "assigned": arms}, now)
        self._unassigned = {}

    def _store_new_series(self, before: int, known: KnownDevice) -> bool:
        """Tell the store (and a device learner) about a device's new series; seed them from the fleet's prior
        when there is one. Returns whether any was seeded."""
        seeded = self._seed(known, range(before, self.registry.n_series))
        if self.models is not None:
            self.models.on_series(np.arange(before, self.registry.n_series), known.meta.asset_type)
        self._groups_stale = True
        bucket = bucket_of(known.index)
        rows = [(k, *self.registry.series_name(k), bucket) for k in range(before, self.registry.n_series)]
        self.store.write_series(rows)
        return seeded

    def _regroup(self) -> None:
        """Tell a learner that watches a device's metrics together which keys those are: once per batch of new
        series, since a learner drops what it learnt of devices when the groups change."""
        self._groups_stale = False
        set_groups = getattr(self.learner, "set_groups", None)
        if set_groups is None:
            return
        groups = np.full(self.registry.n_series, -1, dtype=np.int64)  # retired keys: no device's any more
        for device in self.registry.by_index:
            groups[list(device.keys.values())] = device.index
        set_groups(groups)
        if self.models is not None:
            self.models.set_groups(groups)

    def _seed(self, known: KnownDevice, new_keys: range) -> bool:
        learner = prior_part(self.learner)
        if self.prior is None or not new_keys or learner is None:
            return False
        priors = self.prior.priors(known.meta.asset_type)
        chosen = []
        for metric, key in known.keys.items():
            spec, prior = known.meta.metric(metric), priors.get(metric)
            if key in new_keys and prior is not None and prior.is_usable(*((spec.low, spec.high) if spec else ())):
                chosen.append((key, prior))
        if chosen:
            learner.seed(np.array([k for k, _ in chosen], dtype=np.int64), [p for _, p in chosen])
        return bool(chosen)

    def _on_event(self, device: str, doc: dict[str, Any], now: float) -> None:
        kind = doc.get("kind")
        if not isinstance(kind, str) or not kind:
            raise ValueError("'kind' must be a non-empty string")
        ts = float(doc.get("ts", now))
        known = self.registry.get(device)
        if known is None:
            raise ValueError("unknown device (no meta received for it)")
        named = doc.get("decision")
        decision = named if isinstance(named, str) else self.last_decision.get(device)
        usage = _usage(device, doc, ts, decision) if kind == "usage" else None
        downtime = doc.get("downtime_s")
        if downtime is not None and (
            not isinstance(downtime, int | float) or isinstance(downtime, bool) or downtime < 0
        ):
            raise ValueError(f"'downtime_s' must be a number of seconds >= 0, not {downtime!r}")
        self._down = grow(self._down, len(self.registry.by_index), False)
        self._run = grow(self._run, len(self.registry.by_index), 0)
        if kind == "stopped":
            self.guard.device_stopped(device)
            self.store.write_guard_state(self.guard.to_json(), now)
        elif kind in RESTART_EVENTS and device in self.guard.stopped:
            self.guard.device_started(device)
            self.store.write_guard_state(self.guard.to_json(), now)
        if kind in DOWN_EVENTS:
            self._down[known.index] = True
            self._on_down(known, kind == "failure", kind == "maintenance_started" and bool(doc.get("found")), ts, now)
        elif kind in RESTART_EVENTS:
            self._down[known.index] = False
            self._settle_until = grow(self._settle_until, len(self.registry.by_index), -np.inf)
            self._run[known.index] = 0
            before = self.registry.n_series
            self.registry.renew(device)
            seeded = self._store_new_series(before, known)
            settle = self.prior_settle_s if seeded and self.prior_settle_s is not None else self.settings.settle_s
            self._settle_until[known.index] = ts + settle
        if kind == "failure":
            self.stats.failures += 1
            self._grade(device, True, ts, now)
        elif kind == "maintenance_started" and "found" in doc:
            self._grade(device, bool(doc.get("found")), ts, now)
        elif kind == "repaired" and doc.get("reason") != "failure":
            if doc.get("found"):
                self.stats.repairs_found_fault += 1
            else:
                self.stats.repairs_found_nothing += 1
        self.store.write_outcome(device, ts, now, kind, decision, doc)
        if kind == "maintenance_started" or (kind == "repaired" and doc.get("reason") == "maintenance"):
            self._learn_from_maintenance(device, decision, ts, doc.get("found"), now)
        if usage is None:
            self._log(Kind.OUTCOME, {"device": device, "decision": decision, **doc, "kind": kind, "ts": ts}, now)
        if self.books is not None:
            if usage is not None:
                self.books.on_usage(usage)
            else:
                self.books.on_outcome(Outcome(self.site, device, ts, kind, decision, doc))

    def _on_ack(self, device: str, doc: dict[str, Any], now: float) -> None:
        cmd_id = doc.get("id")
        pending = self.pending.pop(cmd_id, None) if isinstance(cmd_id, str) else None
        if pending is None:
            raise ValueError(f"ack for an unknown or already settled command {cmd_id!r}")
        if pending.command.device != device:
            self.pending[pending.command.id] = pending
            raise ValueError(f"ack from {device!r} for a command sent to {pending.command.device!r}")
        try:
            status = AckStatus(str(doc.get("status")))
            if status is AckStatus.TIMEOUT:
                raise ValueError("a device cannot ack with 'timeout'")
        except ValueError:
            self.pending[pending.command.id] = pending
            raise ValueError(f"ack status must be 'done' or 'rejected', not {doc.get('status')!r}") from None
        self._record_ack(pending.command, status, str(doc.get("detail", "")), now)

    def record_policy(self, source: str, by: str, why: str, now: float) -> None:
        """Keep the policy in force in the store (for the API) and log it: a policy change is a decision too."""
        body = self.policy.policy.model_dump(mode="json")
        digest = hashlib.sha256(orjson.dumps(body, option=orjson.OPT_SORT_KEYS)).hexdigest()
        self.store.write("INSERT OR REPLACE INTO site_policy VALUES (1, ?, ?, ?)",
                         [(now, source, orjson.dumps(body).decode())])  # fmt: skip
        self._log(Kind.POLICY, {"sha256": digest, "by": by, "why": why, "source": source[:100_000]}, now)

    def _replace_policy(self, text: str, by: str, why: str, now: float) -> str:
        try:
            policy = parse_policy(text, "policy from the inbox")
        except PolicyError as exc:
            return f"refused: {exc}"
        self.policy = PolicyEngine(policy)
        self.record_policy(text, by, why, now)
        return "applied"

    def _scaled(self, threshold: float, asset_type: str) -> float:
        """Feedback moves thresholds in the tail from agent.threshold; a champion's own threshold moves alike."""
        if self.models is None:
            return threshold
        base = self.models.champion_of(asset_type).threshold
        return 1.0 - (1.0 - threshold) * (1.0 - base) / (1.0 - self.settings.threshold)

    def _apply_rule(self, index: int, rule: Standing) -> None:
        n_dev = len(self.registry.by_index)
        self._thr = grow(self._thr, n_dev, self.settings.threshold)
        self._sustain = grow(self._sustain, n_dev, self.settings.sustain)
        meta = self.registry.by_index[index].meta  # the champion's threshold, moved as feedback moved the type's
        self._thr[index] = self._scaled(self.feedback.threshold(meta.device, meta.asset_type), meta.asset_type)
        self._sustain[index] = rule.sustain

    def _grade(self, device: str, positive: bool, ts: float, now: float) -> None:
        """A labelled outcome grades the champion and challengers of the device's type; maybe a promotion."""
        known = self.registry.get(device)
        if self.models is None or known is None:
            return
        promotion = self.models.label(device, known.meta.asset_type, positive, ts)
        if promotion is None:
            return
        asset_type, rule = known.meta.asset_type, self.models.champion_of(known.meta.asset_type)
        self._log(Kind.PROMOTION, promotion, now)  # a promotion is a decision: it goes into the signed log
        self.store.write("INSERT OR REPLACE INTO champions VALUES (?, ?, ?, ?, ?)",
                         [(asset_type, rule.learner, rule.threshold, rule.sustain, now)])  # fmt: skip
        for other in self.registry.by_index:
            if other.meta.asset_type == asset_type:
                self._apply_rule(other.index, rule)

    def _log(self, kind: str, body: dict[str, Any], now: float) -> None:
        if self.audit is not None:
            self.audit.append(kind, body, ts=now)

    def _quarantine(self, rejected: list[Rejected], now: float) -> None:
        for r in rejected:
            self.stats.count_reason(r.reason)
        self.store.write_quarantine([(now, r.topic, r.device, r.reason, r.raw) for r in rejected])


def _usage(device: str, doc: dict[str, Any], ts: float, decision: str | None) -> Usage:
    """A device-day's usage report: `{"kind": "usage", "day": <UTC day index>, "energy_kwh", "slowdown_h"}`."""
    day, energy, slowdown = doc.get("day", int(ts // 86_400)), doc.get("energy_kwh", 0.0), doc.get("slowdown_h", 0.0)
    if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in (day, energy, slowdown)):
        raise ValueError("usage needs numeric 'day', 'energy_kwh' and 'slowdown_h'")
    if energy < 0 or slowdown < 0:
        raise ValueError(f"usage cannot be negative (energy_kwh={energy}, slowdown_h={slowdown})")
    return Usage(device, int(day), float(energy), float(slowdown), decision if slowdown else None)


def _board(settings: AgentSettings, store: SqliteStore) -> ModelBoard | None:
    """The models per asset type when a selection or challengers are set, with the champions stored earlier."""
    if settings.selection is None and not settings.challengers:
        return None
    selection = None if settings.selection is None else load_selection(settings.selection)
    rows = store.query("SELECT asset_type, learner, threshold, sustain FROM champions")
    return ModelBoard(settings, selection, {str(t): Standing(str(n), float(x), int(k)) for t, n, x, k in rows})
