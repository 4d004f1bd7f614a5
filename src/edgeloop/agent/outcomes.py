"""Device events become outcomes: the device goes down or runs again, models are graded, the alarm stage
learns from what maintenance found, and the ledger books the outcome (or the day's usage). Operators' verdicts
are taken here too, and the re-bases of gated learners (a repair, maintenance or a `new_normal` verdict) logged.

A failure, a repair or the start of maintenance expires the device's pending approval, with that reason.
Events after which the device is down (`DOWN_EVENTS`) end its held alarms; events after which it runs again
from a new normal (`RESTART_EVENTS`) give it fresh series (its learners start afresh) and a settling time.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from edgeloop.audit import Kind
from edgeloop.io.inbound import DeviceEvent
from edgeloop.learn.calibrated import Rebase
from edgeloop.learn.catalog import commissioned_parts, gated_parts
from edgeloop.ledger import Usage
from edgeloop.model import Outcome
from edgeloop.policy.expiry import expiry_reason

if TYPE_CHECKING:  # the agent composes this part; this part only calls back into it
    from edgeloop.agent.site import SiteAgent

#: device events after which the device runs again from a new normal (its learners start afresh)
RESTART_EVENTS = {"repaired", "started"}
#: device events after which the device is down and no decision about it makes sense
DOWN_EVENTS = {"failure", "maintenance_started", "stopped"}


def rebase_reason(doc: dict[str, Any]) -> str:
    """Why a `repaired` event re-bases its device: a maintenance, or a repair after a failure."""
    return "maintenance" if doc.get("reason") == "maintenance" else "repaired"


#: events of this run remembered as handled (a repeat of an older one is found in the store)
HANDLED_KEPT = 10_000


class Outcomes:
    """What happens to a site's devices, as their events tell it."""

    def __init__(self, agent: SiteAgent) -> None:
        self.agent = agent
        self._handled: dict[tuple[str, float, str], None] = {}  # this run's newest events, oldest first

    def _repeat(self, device: str, ts: float, kind: str) -> bool:
        """Whether this event was handled already: by this run (kept in memory: its first copy may still wait in
        the store's queue) or by an earlier one (in the store: what an earlier run did not commit, it did not
        book either, and the broker sends it again)."""
        key = (device, ts, kind)
        if key in self._handled or self.agent.store.has_outcome(device, ts, kind):
            return True
        self._handled[key] = None
        if len(self._handled) > HANDLED_KEPT:
            del self._handled[next(iter(self._handled))]
        return False

    def on_event(self, event: DeviceEvent, now: float) -> None:
        """One device event; raises ValueError for a device the agent does not know."""
        agent, device, kind, ts, doc = self.agent, event.device, event.kind, event.ts, event.doc
        known = agent.registry.get(device)
        if known is None:
            raise ValueError("unknown device (no meta received for it)")
        if self._repeat(device, ts, kind):  # sent again (its ack was lost): booked once
            agent.stats.repeats_dropped += 1
            return
        decision = event.decision if event.decision is not None else agent.dispatcher.last_decision.get(device)
        usage = None
        if event.usage is not None:
            u = event.usage
            usage = Usage(device, u.day, u.energy_kwh, u.slowdown_h, decision if u.slowdown_h else None)
        self._guard(device, kind, now)
        expired_because = expiry_reason(kind)
        if expired_because is not None:  # the command waiting for an operator was chosen for another device state
            agent.approvals.expire_for(device, expired_because, now)
        if kind in DOWN_EVENTS:
            found = kind == "maintenance_started" and bool(doc.get("found"))
            agent.act(agent.stage.on_down(known.index, kind == "failure", found, ts), now)
        elif kind in RESTART_EVENTS:
            renewed, seeded = agent.devices.renew(device)
            # a reading from before the restart that comes after it is the old regime's: not learnt by the fresh
            # series (a repair met before the readings that preceded it once had them learn those); readings from
            # its time on that came before it are learnt again by the fresh series (`agent/rewind.py`)
            agent.newest.start(np.fromiter(renewed.keys.values(), dtype=np.int64), ts)
            agent.rewind.renewed(agent, device, ts, now)
            prior_settle = agent.devices.prior_settle_s
            settle = prior_settle if seeded and prior_settle is not None else agent.settings.settle_s
            agent.stage.on_restart(known.index, ts, settle)
            if kind == "repaired":  # fresh series learn the new regime; a gated learner's re-base is logged
                self.rebase(device, rebase_reason(doc), now, ts)
        if kind == "failure":
            agent.stats.failures += 1
            self.grade(device, True, ts, now)
        elif kind == "maintenance_started" and "found" in doc:
            self.grade(device, bool(doc.get("found")), ts, now)
        elif kind == "repaired" and doc.get("reason") != "failure":
            if doc.get("found"):
                agent.stats.repairs_found_fault += 1
            else:
                agent.stats.repairs_found_nothing += 1
        agent.store.write_outcome(device, ts, now, kind, decision, doc)
        maintained = kind == "maintenance_started" or (kind == "repaired" and doc.get("reason") == "maintenance")
        feedback = agent.stage.feedback
        if maintained and feedback.graded_by_maintenance(decision, ts):
            assert decision is not None
            right = bool(doc.get("found"))
            agent.act(agent.stage.answered(decision, device, right, "maintenance", feedback.alarm_of(decision)), now)
        if usage is None:
            agent.record(Kind.OUTCOME, {"device": device, "decision": decision, **doc, "kind": kind, "ts": ts}, now)
        if agent.books is not None:
            if usage is not None:
                agent.books.on_usage(usage)
            else:
                agent.books.on_outcome(Outcome(agent.site, device, ts, kind, decision, doc))

    def _guard(self, device: str, kind: str, now: float) -> None:
        """A stopped device is one the policy's guardrails may not command until it runs again."""
        dispatcher = self.agent.dispatcher
        if kind == "stopped":
            dispatcher.guard.device_stopped(device)
        elif kind in RESTART_EVENTS and device in dispatcher.guard.stopped:
            dispatcher.guard.device_started(device)
        else:
            return
        self.agent.store.write_guard_state(dispatcher.guard.to_json(), now)

    def grade(self, device: str, positive: bool, ts: float, now: float) -> None:
        """A labelled outcome grades the champion and challengers of the device's type; maybe a promotion."""
        agent = self.agent
        known = agent.registry.get(device)
        if known is None:
            return
        asset_type = known.meta.asset_type
        promotion = agent.models.label(device, asset_type, positive, ts)
        if promotion is None:
            return
        rule = agent.models.champion_of(asset_type)
        agent.record(Kind.PROMOTION, promotion, now)  # a promotion is a decision: it goes into the signed log
        agent.store.write_champion(asset_type, rule.learner, rule.threshold, rule.sustain, now)
        agent.stage.set_rule(asset_type, rule.threshold, rule.sustain)

    # -- what operators say ----------------------------------------------------------------------------------

    def on_verdict(self, decision: dict[str, Any], verdict: str, now: float) -> None:
        """An operator's verdict on a decision: the models are graded, and the alarm stage learns from it."""
        agent = self.agent
        agent.stats.verdicts += 1
        if verdict == "new_normal":
            self.rebase(str(decision["device"]), "new_normal", now)
            return
        if verdict not in ("true_fault", "false_alarm"):
            return
        device, right = str(decision["device"]), verdict == "true_fault"
        self.grade(device, right, now, now)
        noted = agent.stage.feedback.alarm_of(str(decision["id"]))  # the class the stage saw, if still kept
        if noted is None:
            key = agent.stage.class_of(device, str(decision["asset_type"]), dict(decision.get("evidence") or {}))
            noted = (key, float(decision["ts"]) - float(decision.get("on_delay_s") or 0.0))
        agent.act(agent.stage.answered(str(decision["id"]), device, right, "verdict", noted), now)

    def rebase(self, device: str, reason: str, now: float, ts: float | None = None) -> None:
        """The device's regime is new from data time `ts` (the event's; an operator's verdict: the newest data
        seen): its gated learners learn it (`edgeloop.learn.calibrated`), a commissioned model learns it afresh
        (`edgeloop.learn.pca`), logged."""
        agent = self.agent
        known = agent.registry.get(device)
        if known is None:
            return
        keys = np.fromiter(known.keys.values(), dtype=np.int64)
        agent.rewind.touch(keys)  # learning again from an earlier copy would not repeat this re-base
        at = agent.data_ts if ts is None else ts
        for gated in gated_parts(agent.learner):
            gated.rebase(keys, at, reason)
            self.record_rebases(gated.take_rebases(), now)
        for commissioned in commissioned_parts(agent.learner):  # learns its commissioning period again from now
            commissioned.restart(keys)
            self.record_rebases([Rebase(int(k), at, reason) for k in keys.tolist()], now)

    def record_rebases(self, rebases: Sequence[Rebase], now: float) -> None:
        """One audit record per device and re-base: which metrics, when (data time) and why."""
        by_device: dict[tuple[str, float, str], list[str]] = {}
        for r in rebases:
            device, metric = self.agent.registry.series_name(r.key)
            by_device.setdefault((device, r.ts, r.reason), []).append(metric)
        for (device, ts, reason), metrics in by_device.items():
            self.agent.record("rebase", {"device": device, "ts": ts, "reason": reason, "metrics": sorted(metrics)}, now)
