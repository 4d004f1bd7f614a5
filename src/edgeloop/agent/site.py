"""The site agent: receives a site's messages in micro-batches and runs the loop on them.

ingest (decode, quarantine) -> store -> learner (score, then learn) -> sustained anomaly -> policy -> decision
-> command -> ack or timeout; device events become outcomes. `handle_batch` is synchronous and does no
waiting: I/O goes to the store's writer thread and the MQTT client's send buffer.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson
from numpy.typing import NDArray

from edgeloop.agent.runs import run_lengths
from edgeloop.agent.stats import AgentStats
from edgeloop.io.decode import DecodedBatch, Rejected, TelemetryDecoder
from edgeloop.io.mqtt import Message, MqttClient
from edgeloop.io.registry import DeviceRegistry, KnownDevice
from edgeloop.io.store import SqliteStore, bucket_of, chunk_rows
from edgeloop.io.topics import AGENT, Channel, TopicError, agent_topic, device_topic, parse_device_topic, site_filter
from edgeloop.learn.base import Learner, grow
from edgeloop.model import AckStatus, Command, Decision, DecisionStatus, DeviceMeta
from edgeloop.policy import SitePolicy
from edgeloop.settings import AgentSettings

log = logging.getLogger(__name__)

#: device events after which the device runs again from a new normal (its learners start afresh)
RESTART_EVENTS = {"repaired", "started"}
#: device events after which the device is down and no decision about it makes sense
DOWN_EVENTS = {"failure", "maintenance_started", "stopped"}


@dataclass(slots=True)
class PendingCommand:
    command: Command
    deadline: float


class SiteAgent:
    """One site's agent. Feed it batches with `handle_batch`, or let `run` pull them from the client."""

    def __init__(
        self,
        settings: AgentSettings,
        client: MqttClient,
        store: SqliteStore,
        learner: Learner,
        policy: SitePolicy,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.site = settings.site
        self.client = client
        self.store = store
        self.learner = learner
        self.policy = policy
        self.clock = clock
        self.stats = AgentStats()
        self.registry = DeviceRegistry()
        self.decoder = TelemetryDecoder(self.site, self.registry, settings.max_payload, settings.max_future_s)
        self.pending: dict[str, PendingCommand] = {}
        self.last_decision: dict[str, str] = {}  # device -> id of its latest decision
        self._run = np.zeros(0, dtype=np.int64)
        self._cooldown_until = np.zeros(0, dtype=np.float64)
        self._down = np.zeros(0, dtype=bool)

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
            await asyncio.sleep(0)  # let the network reader run between batches
        while batch := client.drain(self.settings.batch_max):
            self.handle_batch(batch)
        client.publish(agent_topic(self.site, "state"), b"offline", qos=1, retain=True)
        await client.flush(timeout=5.0)
        await asyncio.to_thread(self.store.flush)
        return self.stats

    def handle_batch(self, messages: Sequence[Message]) -> None:
        self.store.check()
        if not messages:
            return
        now = self.clock()
        telemetry = [m for m in messages if m.topic.endswith("/telemetry")]
        if len(telemetry) != len(messages):
            for message in messages:
                if not message.topic.endswith("/telemetry"):
                    self._handle_control(message, now)
        if telemetry:
            self._handle_telemetry(telemetry, now)

    # -- telemetry: the hot path ------------------------------------------------------------------------------

    def _handle_telemetry(self, messages: list[Message], now: float) -> None:
        decoded = self.decoder.decode(messages, now)
        if decoded.rejected:
            self._quarantine(decoded.rejected, now)
        points = decoded.points
        self.stats.messages += decoded.n_messages
        if len(points) == 0:
            return
        scores = self.learner.score_learn(points.series, points.values, points.ts)
        self.stats.points += len(points)
        device_of_point = self.registry.device_of[points.series]
        self.store.write_telemetry(chunk_rows(device_of_point, points.series, points.ts, points.values, scores))
        self._decide_on_runs(decoded, scores, now)

    def _decide_on_runs(self, decoded: DecodedBatch, scores: NDArray[np.float64], now: float) -> None:
        device, ts, start = decoded.msg_device, decoded.msg_ts, decoded.msg_start
        sample_score = np.maximum.reduceat(scores, start)
        n_dev = len(self.registry.by_index)
        self._run = grow(self._run, n_dev, 0)
        self._cooldown_until = grow(self._cooldown_until, n_dev, -np.inf)
        self._down = grow(self._down, n_dev, False)
        hot = (sample_score >= self.settings.threshold) & ~self._down[device]
        self.stats.anomalous_samples += int(np.count_nonzero(hot))
        runs, present, last = run_lengths(device, hot, self._run)
        self._run[present] = np.minimum(last, self.settings.sustain)
        candidates = np.flatnonzero(runs >= self.settings.sustain)
        for i in candidates:  # rare: only samples that complete a sustained run
            d = int(device[i])
            if ts[i] < self._cooldown_until[d] or self._down[d]:
                continue
            end = int(start[i + 1]) if i + 1 < start.shape[0] else scores.shape[0]
            known = self.registry.by_index[d]
            metric_of = {k: m for m, k in known.keys.items()}
            # the evidence: each metric's score in the sample that completed the run
            evidence = {
                metric_of.get(int(k), str(k)): round(float(s), 4)
                for k, s in zip(decoded.points.series[start[i] : end], scores[start[i] : end], strict=True)
            }
            self._decide(known, float(ts[i]), float(sample_score[i]), evidence, now)

    # -- decisions and commands -------------------------------------------------------------------------------

    def _decide(self, known: KnownDevice, ts: float, score: float, evidence: dict[str, float], now: float) -> None:
        meta = known.meta
        verdict = self.policy.decide(meta)
        decision_id = uuid.uuid4().hex
        command = None
        if verdict.status is DecisionStatus.SENT and verdict.command is not None:
            command = Command(uuid.uuid4().hex, self.site, meta.device, verdict.command, verdict.args, decision_id)
        decision = Decision(
            id=decision_id,
            site=self.site,
            device=meta.device,
            asset_type=meta.asset_type,
            ts=ts,
            at=now,
            score=round(score, 4),
            evidence=evidence,
            model=f"{self.learner.name}",
            rule=verdict.rule,
            autonomy=self.policy.autonomy,
            status=verdict.status,
            action=command,
            reason=verdict.reason,
        )
        self._cooldown_until[known.index] = ts + self.settings.cooldown_s
        self._run[known.index] = 0
        self.last_decision[meta.device] = decision_id
        self.stats.decisions += 1
        self.stats.decision_latency_s.append(now - ts)
        record = decision.to_record()
        self.store.write_decision(record)
        self.client.publish(agent_topic(self.site, "decision"), orjson.dumps(record), qos=1)
        if command is not None:
            self._send(command, now)

    def _send(self, command: Command, now: float) -> None:
        self.store.write_command(command.id, command.decision, command.device, command.name, dict(command.args), now)
        self.client.publish(
            device_topic(self.site, command.device, Channel.CMD), orjson.dumps(command.payload()), qos=1
        )
        self.pending[command.id] = PendingCommand(command, now + self.settings.ack_timeout_s)
        self.stats.commands_sent += 1

    def sweep_timeouts(self) -> None:
        """Commands whose ack is overdue are recorded as timed out (the device may still act on them)."""
        if not self.pending:
            return
        now = self.clock()
        for cmd_id in [c for c, p in self.pending.items() if p.deadline <= now]:
            pending = self.pending.pop(cmd_id)
            self._record_ack(pending.command, AckStatus.TIMEOUT, f"no ack within {self.settings.ack_timeout_s} s", now)

    def _record_ack(self, command: Command, status: AckStatus, detail: str, now: float) -> None:
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
        before = self.registry.n_series
        known = self.registry.add(meta)
        self.store.write_device(device, meta.asset_type, meta.to_json(), now)
        self._store_new_series(before, known)

    def _store_new_series(self, before: int, known: KnownDevice) -> None:
        bucket = bucket_of(known.index)
        rows = [(k, *self.registry.series_name(k), bucket) for k in range(before, self.registry.n_series)]
        self.store.write_series(rows)

    def _on_event(self, device: str, doc: dict[str, Any], now: float) -> None:
        kind = doc.get("kind")
        if not isinstance(kind, str) or not kind:
            raise ValueError("'kind' must be a non-empty string")
        ts = float(doc.get("ts", now))
        known = self.registry.get(device)
        if known is None:
            raise ValueError("unknown device (no meta received for it)")
        self._down = grow(self._down, len(self.registry.by_index), False)
        self._run = grow(self._run, len(self.registry.by_index), 0)
        if kind in DOWN_EVENTS:
            self._down[known.index] = True
        elif kind in RESTART_EVENTS:
            self._down[known.index] = False
            self._run[known.index] = 0
            before = self.registry.n_series
            self.registry.renew(device)
            self._store_new_series(before, known)
        if kind == "failure":
            self.stats.failures += 1
        elif kind == "repaired" and doc.get("reason") != "failure":
            if doc.get("found"):
                self.stats.repairs_found_fault += 1
            else:
                self.stats.repairs_found_nothing += 1
        self.store.write_outcome(device, ts, now, kind, self.last_decision.get(device), doc)

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

    def _quarantine(self, rejected: list[Rejected], now: float) -> None:
        for r in rejected:
            self.stats.count_reason(r.reason)
        self.store.write_quarantine([(now, r.topic, r.device, r.reason, r.raw) for r in rejected])
