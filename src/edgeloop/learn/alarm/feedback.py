"""What the alarm stage learns from answers: operators' verdicts and what maintenance found.

A true fault moves alarm thresholds at once (`edgeloop.learn.feedback`). A false alarm is held as a *doubt*
until it shows whether its anomaly ends while the device keeps running: if it does, it was a transient and its
alarm class learns an on-delay (`edgeloop.learn.ondelay`; alarms of that class then wait, see `watches.py`);
if the device is stopped or serviced first, thresholds learn from it. `docs/operators.md` says the same for
operators.

Pure: every method takes the data or wall time it needs and returns what should be logged as `Note`s; the
agent writes them to the audit log and keeps `learnt()` in its store whenever `dirty` is set.

>>> fb = AlarmFeedback(threshold=0.9, on_delay_max_s=1800.0)
>>> fb.note_decision("d1", "p1", ts=100.0, key="pump/current", since=100.0)
>>> fb.first_answer("d1"), fb.first_answer("d1"), fb.dirty
(True, False, True)
>>> fb.transient(Doubt("d1", "p1", "pump/current", 100.0), lasted=300.0).body["on_delay_s"]
420.0
>>> fb.graded_by_maintenance("d1", ts=50_000.0), fb.graded_by_maintenance("d1", ts=200_000.0)
(True, False)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from edgeloop.learn.alarm.watches import Doubt
from edgeloop.learn.feedback import ThresholdFeedback
from edgeloop.learn.ondelay import OnDelay

#: answered decisions remembered (so a second answer on one is not counted again), newest kept
MAX_JUDGED = 10_000
#: maintenance within this long (data time) after a decision grades it
MAINTENANCE_WINDOW_S = 86_400.0


@dataclass(frozen=True, slots=True)
class Note:
    """A record for the audit log: its kind and body."""

    kind: str
    body: dict[str, Any]


class AlarmFeedback:
    """Thresholds per device and on-delays per alarm class, as answers and outcomes have set them."""

    def __init__(self, threshold: float, on_delay_max_s: float, on_delay_min_false: int = 1) -> None:
        self.thresholds = ThresholdFeedback(threshold)
        self.on_delay = OnDelay(max_s=on_delay_max_s, min_false=on_delay_min_false)
        self.judged: dict[str, None] = {}  # decisions feedback has taken an answer on (the first answer counts)
        self.dirty = False  # learnt state changed since `learnt()` was last read
        self._decided_at: dict[str, float] = {}  # decision id -> data time, for the latest decision per device
        #: decision id -> its alarm class and the data time its anomaly was sustained (before any on-delay)
        self._alarm_of: dict[str, tuple[str, float]] = {}
        self._latest: dict[str, str] = {}  # device -> its latest decision

    # -- decisions ----------------------------------------------------------------------------------------------

    def note_decision(self, decision: str, device: str, ts: float, key: str, since: float) -> None:
        """A decision was taken about `device`: only each device's latest is remembered."""
        earlier = self._latest.get(device, "")
        self._decided_at.pop(earlier, None)
        self._alarm_of.pop(earlier, None)
        self._latest[device] = decision
        self._decided_at[decision] = ts
        self._alarm_of[decision] = (key, since)

    def alarm_of(self, decision: str) -> tuple[str, float] | None:
        return self._alarm_of.get(decision)

    def graded_by_maintenance(self, decision: str | None, ts: float) -> bool:
        """Whether maintenance at `ts` grades `decision` (the device's latest, taken within a day before)."""
        return decision is not None and ts - self._decided_at.get(decision, -np.inf) <= MAINTENANCE_WINDOW_S

    # -- answers ------------------------------------------------------------------------------------------------

    def first_answer(self, decision: str) -> bool:
        """Whether this is the first answer on `decision` (only the first counts); records it."""
        if decision in self.judged:
            return False
        self.judged[decision] = None
        self.dirty = True
        return True

    def transient(self, doubt: Doubt, lasted: float) -> Note:
        """A false alarm whose anomaly ended `lasted` seconds after it: its class waits about that long."""
        wait = self.on_delay.transient(doubt.key, lasted)
        self.dirty = True
        body = {"decision": doubt.decision, "device": doubt.device, "source": "on_delay", "alarm_was_right": False,
                "alarm_class": doubt.key, "anomaly_lasted_s": round(lasted, 1), "on_delay_s": wait}  # fmt: skip
        return Note("feedback", body)

    def counted(self, decision: str, device: str, asset_type: str, right: bool) -> bool:
        """Count an answer in the type's and device's thresholds; False when it changes nothing."""
        count = self.thresholds.true_fault if right else self.thresholds.false_alarm
        if not count(decision, device, asset_type):
            return False
        self.dirty = True
        return True

    def missed(self, key: str, device: str) -> Note | None:
        """The device failed soon after an alarm of class `key` lapsed: the class waits less."""
        if not self.on_delay.missed(key):
            return None
        self.dirty = True
        body = {"device": device, "source": "failure", "alarm_class": key, "on_delay_s": self.on_delay.delay(key),
                "why": "failed after an alarm of it lapsed"}  # fmt: skip
        return Note("feedback", body)

    # -- what is kept across restarts -----------------------------------------------------------------------------

    def learnt(self) -> dict[str, Any]:
        """Thresholds, on-delays and which decisions were answered, as the store keeps them; clears `dirty`."""
        if len(self.judged) > MAX_JUDGED:
            self.judged = dict.fromkeys(list(self.judged)[-MAX_JUDGED:])
        self.dirty = False
        return {"thresholds": self.thresholds.to_json(), "on_delay": self.on_delay.to_json(),
                "judged": list(self.judged)}  # fmt: skip

    def restore(self, state: dict[str, Any]) -> None:
        """What `learnt()` returned, as the store kept it."""
        self.thresholds.restore(state.get("thresholds", {}))
        self.on_delay.restore(state.get("on_delay", {}))
        self.judged = dict.fromkeys(str(d) for d in state.get("judged", []))

    def snapshot(self) -> dict[str, Any]:
        """All of it: what is learnt, and the latest decision per device with its time and alarm class."""
        dirty = self.dirty
        state = {**self.learnt(), "decided_at": dict(self._decided_at),
                 "alarm_of": {d: list(a) for d, a in self._alarm_of.items()}, "latest": dict(self._latest)}  # fmt: skip
        self.dirty = dirty
        return state

    def restore_snapshot(self, state: dict[str, Any]) -> None:
        self.restore(state)
        self._decided_at = {str(d): float(t) for d, t in state["decided_at"].items()}
        self._alarm_of = {str(d): (str(k), float(t)) for d, (k, t) in state["alarm_of"].items()}
        self._latest = {str(v): str(d) for v, d in state["latest"].items()}
