"""How the site agent learns from answers: operators' verdicts and what maintenance found.

A true fault moves alarm thresholds at once (`edgeloop.learn.feedback`). A false alarm is held as a *doubt*
until it shows whether its anomaly ends while the device keeps running: if it does, it was a transient and its
alarm class learns an on-delay (`edgeloop.learn.ondelay`; alarms of that class then wait, `agent/watches.py`);
if the device is stopped or serviced first, thresholds learn from it. What was learnt is kept in the store.
`docs/operators.md` says the same for operators.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import NDArray

from edgeloop.agent.stats import AgentStats
from edgeloop.agent.watches import Doubt, Watches
from edgeloop.io.registry import DeviceRegistry, KnownDevice
from edgeloop.io.store import SqliteStore
from edgeloop.learn.base import grow
from edgeloop.learn.feedback import ThresholdFeedback
from edgeloop.learn.ondelay import OnDelay, alarm_class
from edgeloop.settings import AgentSettings

#: answered decisions remembered (so a second answer on one is not counted again), newest kept
MAX_JUDGED = 10_000


class LearnsFromAnswers:
    """The part of `SiteAgent` that learns from answers; it uses the agent's registry, store, log and decide."""

    settings: AgentSettings
    registry: DeviceRegistry
    store: SqliteStore
    stats: AgentStats
    feedback: ThresholdFeedback
    on_delay: OnDelay
    watches: Watches
    _thr: NDArray[np.float64]
    _down: NDArray[np.bool_]
    _decided_at: dict[str, float]  # decision id -> data time, for the latest decision per device
    #: decision id -> its alarm class and the data time its anomaly was sustained (before any on-delay), for
    #: the latest decision per device
    _alarm_of: dict[str, tuple[str, float]]
    _judged: dict[str, None]  # decisions feedback has taken an answer on (the first answer counts)
    #: the agent's one way to raise an alarm: (known device, data time, score, evidence, now, on_delay_s=...)
    _decide: Callable[..., None]

    def _log(self, kind: str, body: dict[str, Any], now: float) -> None:
        raise NotImplementedError

    def _grade(self, device: str, positive: bool, ts: float, now: float) -> None:
        raise NotImplementedError

    def _scaled(self, threshold: float, asset_type: str) -> float:
        raise NotImplementedError

    def _init_learning(self) -> None:
        self.feedback = ThresholdFeedback(self.settings.threshold)
        self.on_delay = OnDelay(max_s=self.settings.on_delay_max_s)
        self.watches = Watches()
        self._alarm_of = {}
        self._judged = {}
        self._restore_learnt()

    def _settle_watches(self, device: NDArray[np.int64], ts: NDArray[np.float64], now: float) -> None:
        """Alarms whose on-delay is over are raised or lapse; false alarms whose anomaly ended teach on-delays."""
        confirmed, lapsed, ended = self.watches.due(device, ts)
        for watch, at in confirmed:
            known = self.registry.by_index[watch.device]
            if not self._down[watch.device]:
                self._decide(known, at, watch.score, watch.evidence, now, on_delay_s=at - watch.since)
        for watch, at in lapsed:
            self.stats.alarms_lapsed += 1
            device_id = self.registry.by_index[watch.device].meta.device
            self._log("alarm_lapsed", {"device": device_id, "at": at, **watch.to_json()}, now)
        for doubt, lasted in ended:
            self._learn_transient(doubt, lasted, now)

    def _on_verdict(self, decision: dict[str, Any], verdict: str, now: float) -> None:
        """An operator's verdict on a decision: feedback learns from it (see `_learn`)."""
        self.stats.verdicts += 1
        if verdict in ("true_fault", "false_alarm"):
            device = str(decision["device"])
            self._grade(device, verdict == "true_fault", now, now)
            key = alarm_class(str(decision["asset_type"]), dict(decision.get("evidence") or {}))
            right = verdict == "true_fault"
            since = float(decision["ts"]) - float(decision.get("on_delay_s") or 0.0)
            self._learn(str(decision["id"]), device, right, "verdict", now, (key, since))

    def _learn_from_maintenance(self, device: str, decision: str | None, ts: float, found: Any, now: float) -> None:
        """Maintenance the agent's latest decision (within a day) asked for says whether the alarm was right."""
        decided_at = self._decided_at.get(decision or "", -np.inf)
        if decision is None or ts - decided_at > 86_400:
            return
        self._learn(decision, device, bool(found), "maintenance", now, self._alarm_of.get(decision))

    def _learn(
        self, decision: str, device: str, right: bool, source: str, now: float, alarm: tuple[str, float] | None
    ) -> None:
        """The first answer on a decision counts. A true fault moves thresholds at once; a false alarm waits to
        show whether its anomaly ends on its own (it then teaches its class an on-delay) or not (thresholds).
        `alarm`: the decision's class and the data time its anomaly was sustained."""
        known = self.registry.get(device)
        if known is None or decision in self._judged:
            return
        self._judged[decision] = None
        self._save_learnt(now)
        if right or alarm is None or self.on_delay.max_s == 0:
            self._move_thresholds(decision, device, right, source, now)
            return
        doubt = Doubt(decision, device, *alarm)
        if known.index < len(self._down) and self._down[known.index]:  # down already: settle on what was seen
            lasted = self.watches.lasted(known.index, doubt.ts)
            if lasted is None:
                self._move_thresholds(decision, device, False, source, now)
            else:
                self._learn_transient(doubt, lasted, now)
            return
        earlier = self.watches.doubt(known.index, doubt)
        if earlier is not None:  # a newer false alarm while the older one's anomaly still goes on
            self._move_thresholds(earlier.decision, device, False, "verdict", now)

    def _on_down(self, known: KnownDevice, failed: bool, found: bool, ts: float, now: float) -> None:
        """The device stopped (`failed`: broke down; `found`: maintenance found a fault): its held alarm lapses,
        its doubted false alarm is settled; a failure after a lapse tells the lapsed alarm's class to wait less.

        What happened outranks what was said: an alarm called false whose device then failed, or whose
        maintenance found a fault, was right (operators are wrong sometimes), and is learnt as a true fault."""
        watch, settled = self.watches.stopped(known.index, ts)
        if watch is not None:
            self.stats.alarms_lapsed += 1
            self._log("alarm_lapsed", {"device": known.meta.device, "at": ts, "why": "device down",
                                       **watch.to_json()}, now)  # fmt: skip
        if settled is not None:
            doubt, lasted = settled
            if failed or found:
                self._move_thresholds(doubt.decision, doubt.device, True, "failure" if failed else "maintenance", now)
            elif lasted is None:
                self._move_thresholds(doubt.decision, doubt.device, False, "verdict", now)
            else:
                self._learn_transient(doubt, lasted, now)
        key = self.watches.lapsed_before(known.index, ts) if failed else None
        if key is not None and self.on_delay.missed(key):
            self._save_learnt(now)
            body = {"device": known.meta.device, "source": "failure", "alarm_class": key,
                    "on_delay_s": self.on_delay.delay(key), "why": "failed after an alarm of it lapsed"}  # fmt: skip
            self._log("feedback", body, now)

    def _learn_transient(self, doubt: Doubt, lasted: float, now: float) -> None:
        """A false alarm whose anomaly ended `lasted` seconds after it: its class waits about that long."""
        wait = self.on_delay.transient(doubt.key, lasted)
        self._save_learnt(now)
        body = {"decision": doubt.decision, "device": doubt.device, "source": "on_delay", "alarm_was_right": False,
                "alarm_class": doubt.key, "anomaly_lasted_s": round(lasted, 1), "on_delay_s": wait}  # fmt: skip
        self._log("feedback", body, now)

    def _move_thresholds(self, decision: str, device: str, right: bool, source: str, now: float) -> None:
        known = self.registry.get(device)
        if known is None:
            return
        asset_type = known.meta.asset_type
        counted = (self.feedback.true_fault if right else self.feedback.false_alarm)(decision, device, asset_type)
        if not counted:
            return
        self._save_learnt(now)
        self._thr = grow(self._thr, len(self.registry.by_index), self.settings.threshold)
        for other in self.registry.by_index:
            if other.meta.asset_type == asset_type:
                moved = self.feedback.threshold(other.meta.device, asset_type)
                self._thr[other.index] = self._scaled(moved, asset_type)
        body = {"decision": decision, "device": device, "asset_type": asset_type, "source": source,
                "alarm_was_right": right, "device_threshold": float(self._thr[known.index])}  # fmt: skip
        self._log("feedback", body, now)

    def _save_learnt(self, now: float) -> None:
        """Keep what feedback taught (thresholds, on-delays, which decisions were answered) across restarts."""
        if len(self._judged) > MAX_JUDGED:
            self._judged = dict.fromkeys(list(self._judged)[-MAX_JUDGED:])
        state = {"thresholds": self.feedback.to_json(), "on_delay": self.on_delay.to_json(),
                 "judged": list(self._judged)}  # fmt: skip
        self.store.write_learnt("feedback", state, now)

    def _restore_learnt(self) -> None:
        state = self.store.read_learnt("feedback")
        if state is None:
            return
        self.feedback.restore(state.get("thresholds", {}))
        self.on_delay.restore(state.get("on_delay", {}))
        self._judged = dict.fromkeys(str(d) for d in state.get("judged", []))
