"""The dispatcher: alarm -> policy -> decision -> command -> pending -> ack or timeout.

Every decision goes through `decide`: the policy's verdict (rules, guardrails, autonomy) becomes a decision
record, logged before anything is sent, stored and published; its command is sent at once (autonomy 3), parked
for an operator (autonomy 2, `approvals.py`), or only recorded (held out, observe, recommend, blocked).
`send` is the one path that sends commands; each waits for its device's ack until `ack_timeout_s` (wall time,
from the injected clock) and is recorded as timed out otherwise.
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import orjson

from edgeloop.agent.stats import AgentStats
from edgeloop.audit import Kind
from edgeloop.io.inbound import CommandAck
from edgeloop.io.topics import Channel, agent_topic, device_topic
from edgeloop.model import AckStatus, Command, Decision, DecisionStatus, DeviceMeta
from edgeloop.policy import DecisionContext, GuardState, PolicyEngine, PolicyError, parse_policy
from edgeloop.policy.shares import share_site_limits

AuditFn = Callable[[str, dict[str, Any], float], str | None]  # returns the record's hash, if logged
PublishFn = Callable[[str, bytes, int], None]


class DispatchRecords(Protocol):
    """What the dispatcher keeps in the site's store."""

    def write_decision(self, record: dict[str, Any], audit: str | None = None) -> None: ...
    def write_guard_state(self, state: dict[str, Any], at: float) -> None: ...
    def write_command(
        self, cmd_id: str, decision: str, device: str, name: str, args: dict[str, Any], at: float
    ) -> None: ...
    def write_ack(self, cmd_id: str, status: str, at: float, detail: str) -> None: ...
    def write_site_policy(self, policy: dict[str, Any], source: str, at: float) -> None: ...
    def write_outcome(
        self, device: str, ts: float, at: float, kind: str, decision: str | None, detail: dict[str, Any]
    ) -> None: ...


class Approvals(Protocol):
    """Where decisions wait for an operator (`agent/approvals.py`)."""

    def open_for(self, device: str) -> str | None: ...
    def request(self, decision: Decision, command: Command, expires: float, now: float) -> None: ...


@dataclass(slots=True)
class PendingCommand:
    command: Command
    deadline: float


#: timed-out commands remembered, so that an ack that comes late still settles them (the newest are kept)
LATE_ACKS_KEPT = 10_000


class Dispatcher:
    """Decisions and commands of one site; see the module's docstring."""

    def __init__(
        self,
        site: str,
        policy: PolicyEngine,
        guard: GuardState,
        records: DispatchRecords,
        log: AuditFn,
        publish: PublishFn,
        stats: AgentStats,
        ack_timeout_s: float,
    ) -> None:
        self.site = site
        self.policy = policy
        self.guard = guard
        self.records = records
        self.log = log
        self.publish = publish
        self.stats = stats
        self.ack_timeout_s = ack_timeout_s
        self.partitions = 1  # agents the site's devices are split over: each gets its share of site-wide limits
        self.approvals: Approvals | None = None  # set once the site's approval desk exists (it sends through us)
        self.pending: dict[str, PendingCommand] = {}
        #: commands that timed out, latest last: an ack that comes after all still settles them (`on_ack`)
        self.timed_out: OrderedDict[str, Command] = OrderedDict()
        self.last_decision: dict[str, str] = {}  # device -> id of its latest decision
        self.observers: list[Callable[[Decision], None]] = []  # told of each decision once it is recorded
        # The guardrails' rate limits count in the plant's data time, as the alarm stage's cooldown does: on a
        # live site it is the wall clock, and a replay or a simulated plant running faster keeps the same limits.
        self.data_ts = -math.inf  # the latest data time decided about

    def record_policy(self, source: str, by: str, why: str, now: float) -> None:
        """Keep the policy in force in the store (for the API) and log it: a policy change is a decision too."""
        body = self.policy.policy.model_dump(mode="json")
        digest = hashlib.sha256(orjson.dumps(body, option=orjson.OPT_SORT_KEYS)).hexdigest()
        self.records.write_site_policy(body, source, now)
        self.log(Kind.POLICY, {"sha256": digest, "by": by, "why": why, "source": source[:100_000]}, now)

    def replace_policy(self, text: str, by: str, why: str, now: float) -> str:
        """A policy sent through the inbox (`edgeloop policy apply`): applied and logged, or refused with why.
        Site-wide limits are shared out over the site's `partitions` agents."""
        try:
            policy = parse_policy(text, "policy from the inbox")
        except PolicyError as exc:
            return f"refused: {exc}"
        self.policy = PolicyEngine(share_site_limits(policy, self.partitions))
        self.record_policy(text, by, why, now)
        return "applied"

    def resume(self, unsettled: list[tuple[str, str, str, str, dict[str, Any], float]], now: float) -> None:
        """Commands a previous run sent and never saw settled wait again for their ack, `ack_timeout_s` from now
        (the device may have acked while the agent was down: its broker session delivers that ack now)."""
        for cmd_id, decision, device, name, args, _sent_at in unsettled:
            command = Command(cmd_id, self.site, device, name, args, decision)
            self.pending[cmd_id] = PendingCommand(command, now + self.ack_timeout_s)

    def decide(
        self,
        meta: DeviceMeta,
        ts: float,
        score: float,
        evidence: dict[str, float],
        now: float,
        model: str,
        held_out: bool,
        on_delay_s: float = 0.0,
    ) -> Decision:
        """Decide about a sustained anomaly of `meta`'s device at data time `ts`; record and carry it out."""
        waiting = None if self.approvals is None else self.approvals.open_for(meta.device)
        context = DecisionContext(meta.device, meta.asset_type, min(max(score, 0.0), 1.0), meta, None, held_out,
                                  waiting)  # fmt: skip
        self.data_ts = max(self.data_ts, ts)
        verdict = self.policy.decide(context, self.guard, self.data_ts, expires_from=now)
        decision_id = uuid.uuid4().hex
        command = None  # the proposed action, also when it is not sent (held out, blocked, recommended, observed)
        if verdict.action is not None:
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
            model=model,
            rule=verdict.rule or "none",
            autonomy=verdict.autonomy,
            status=verdict.status,
            action=command,
            reason=verdict.reason,
            guardrails=tuple(check.to_json() for check in verdict.guardrails),
            on_delay_s=round(on_delay_s, 1),
        )
        self.last_decision[meta.device] = decision_id
        self.stats.decisions += 1
        self.stats.decision_latency_s.append(now - ts)
        record = decision.to_record()
        audit = self.log(Kind.DECISION, record, now)  # logged before anything is sent
        self.records.write_decision(record, audit)  # the row carries its record's hash: `audit verify --store`
        for observer in self.observers:
            observer(decision)
        self.publish(agent_topic(self.site, "decision"), orjson.dumps(record), 1)
        if command is not None and decision.status is DecisionStatus.SENT:
            self.send(command, now)
        elif command is not None and decision.status is DecisionStatus.PENDING_APPROVAL and self.approvals:
            self.approvals.request(decision, command, verdict.expires_at or now, now)
            self.stats.approvals_requested += 1
        elif decision.status is DecisionStatus.BLOCKED:
            self.stats.blocked += 1
        return decision

    def send(self, command: Command, now: float) -> None:
        """The one path that sends commands: the policy decided (or an operator approved) just before."""
        self.log(Kind.COMMAND, {**command.payload(), "device": command.device}, now)
        self.policy.record_sent(self.guard, command.device, command.name, self._guard_ts(now))
        self.records.write_guard_state(self.guard.to_json(), now)
        self.records.write_command(command.id, command.decision, command.device, command.name,
                                   dict(command.args), now)  # fmt: skip
        self.publish(device_topic(self.site, command.device, Channel.CMD), orjson.dumps(command.payload()), 1)
        self.pending[command.id] = PendingCommand(command, now + self.ack_timeout_s)
        self.stats.commands_sent += 1

    def on_published(self, topic: str, payload: bytes, now: float) -> None:
        """A message left the outbox: a command's wait for its ack starts now, not when it was decided."""
        if topic.endswith(f"/{Channel.CMD}"):
            with contextlib.suppress(orjson.JSONDecodeError, KeyError, TypeError):
                self.published(str(orjson.loads(payload)["id"]), now)

    def published(self, command_id: str, now: float) -> None:
        """The command left the outbox just now (it waited for the store): its ack clock starts here."""
        pending = self.pending.get(command_id)
        if pending is not None:
            pending.deadline = max(pending.deadline, now + self.ack_timeout_s)

    def on_ack(self, ack: CommandAck, now: float) -> None:
        """A device's ack settles its pending command; raises ValueError for one that settles nothing."""
        pending = self.pending.get(ack.command)
        if pending is None:
            late = self.timed_out.get(ack.command)
            if late is None or late.device != ack.device or ack.status is AckStatus.TIMEOUT:
                raise ValueError(f"ack for an unknown or already settled command {ack.command!r}")
            del self.timed_out[ack.command]  # the device acted (or refused) after all: its row says so
            self.stats.commands_timed_out -= 1
            self.stats.commands_acked_late += 1
            self._record_ack(late, ack.status, f"after its ack timeout: {ack.detail}", now)
            return
        if pending.command.device != ack.device:
            raise ValueError(f"ack from {ack.device!r} for a command sent to {pending.command.device!r}")
        del self.pending[ack.command]
        self._record_ack(pending.command, ack.status, ack.detail, now)

    def sweep(self, now: float) -> None:
        """Commands whose ack is overdue are recorded as timed out (the device may still act on them); the
        guard forgets what is past its horizon."""
        if self.guard.prune(self._guard_ts(now) - self.policy.horizon_s):
            self.records.write_guard_state(self.guard.to_json(), now)
        for cmd_id in [c for c, p in self.pending.items() if p.deadline <= now]:
            pending = self.pending.pop(cmd_id)
            self._record_ack(pending.command, AckStatus.TIMEOUT, f"no ack within {self.ack_timeout_s} s", now)
            self.timed_out[cmd_id] = pending.command
            while len(self.timed_out) > LATE_ACKS_KEPT:
                self.timed_out.popitem(last=False)

    def _guard_ts(self, now: float) -> float:
        """The time the guardrails count in: the latest data time, or the wall clock before any decision."""
        return self.data_ts if self.data_ts > -math.inf else now

    def _record_ack(self, command: Command, status: AckStatus, detail: str, now: float) -> None:
        self.log(Kind.ACK, {"command": command.id, "device": command.device, "status": str(status),
                            "detail": detail, "decision": command.decision}, now)  # fmt: skip
        self.records.write_ack(command.id, str(status), now, detail)
        self.records.write_outcome(command.device, now, now, f"ack_{status}", command.decision,
                                   {"command": command.id})  # fmt: skip
        if status is AckStatus.DONE:
            self.stats.commands_acked += 1
        elif status is AckStatus.REJECTED:
            self.stats.commands_rejected += 1
        else:
            self.stats.commands_timed_out += 1
