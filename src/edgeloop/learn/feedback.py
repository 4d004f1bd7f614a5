"""Alarm thresholds that learn from what operators and outcomes say about past alarms.

Each device and each asset type has a threshold on the anomaly likelihood; a device alarms when it exceeds the
higher of the two. They move in the tail: with q = 1 - threshold,

- a **false alarm** (an operator's verdict, or maintenance that found nothing) takes `type_step` off its asset
  type's q, so a type that keeps crying wolf becomes quieter as a whole; `concur` false alarms of one device in
  a row (no true fault between them) halve the device's q: that device must look clearly worse before it
  alarms again. One answer alone never moves a device: operators are wrong sometimes, and a true alarm
  labelled false would make the device's next fault late (measured with `edgeloop bench feedback`);
- a **true fault** (verdict, or maintenance that found a failure mode) doubles the device's q and eases the
  type's back toward the base, never below the base threshold;
- `unsure` changes nothing.

Each decision counts once, whichever comes first (verdict or outcome), so an operator confirming what the
maintenance found does not count it twice.

>>> fb = ThresholdFeedback(base=0.9)
>>> fb.threshold("p1", "pump")
0.9
>>> fb.false_alarm("d1", "p1", "pump")
True
>>> round(fb.threshold("p1", "pump"), 4), round(fb.threshold("p2", "pump"), 4)  # the type moved, not p1 alone
(0.91, 0.91)
>>> fb.false_alarm("d1", "p1", "pump")  # the same decision again
False
>>> fb.false_alarm("d2", "p1", "pump")  # a second false alarm of p1 in a row: now p1 itself
True
>>> round(fb.threshold("p1", "pump"), 4), round(fb.threshold("p2", "pump"), 4)
(0.95, 0.919)
>>> fb.true_fault("d3", "p1", "pump")  # the device back where it was, its type a step back
True
>>> round(fb.threshold("p1", "pump"), 4)
0.91
"""

from __future__ import annotations

from typing import Any


class ThresholdFeedback:
    def __init__(self, base: float = 0.9, type_step: float = 0.1, ceiling: float = 0.9999, concur: int = 2) -> None:
        if not 0.0 < base < ceiling < 1.0:
            raise ValueError(f"need 0 < base ({base}) < ceiling ({ceiling}) < 1")
        self.base = base
        self.type_step = type_step
        self.ceiling = ceiling
        self.concur = concur
        self._in_a_row: dict[str, int] = {}  # false alarms of a device since its last true fault
        self._device_q: dict[str, float] = {}
        self._type_q: dict[str, float] = {}
        self._counted: set[str] = set()

    def threshold(self, device: str, asset_type: str) -> float:
        q = min(self._device_q.get(device, 1 - self.base), self._type_q.get(asset_type, 1 - self.base))
        return 1.0 - max(q, 1.0 - self.ceiling)

    def false_alarm(self, decision: str, device: str, asset_type: str) -> bool:
        """Count a false alarm; False when this decision was counted already."""
        if not self._first(decision):
            return False
        in_a_row = self._in_a_row.get(device, 0) + 1
        if in_a_row >= self.concur:
            self._device_q[device] = self._device_q.get(device, 1 - self.base) * 0.5
            in_a_row = 0
        self._in_a_row[device] = in_a_row
        self._type_q[asset_type] = self._type_q.get(asset_type, 1 - self.base) * (1 - self.type_step)
        return True

    def true_fault(self, decision: str, device: str, asset_type: str) -> bool:
        """Count a confirmed fault; False when this decision was counted already."""
        if not self._first(decision):
            return False
        top = 1 - self.base
        self._in_a_row[device] = 0
        self._device_q[device] = min(top, self._device_q.get(device, top) * 2.0)
        self._type_q[asset_type] = min(top, self._type_q.get(asset_type, top) / (1 - self.type_step))
        return True

    def _first(self, decision: str) -> bool:
        if decision in self._counted:
            return False
        self._counted.add(decision)
        return True

    def to_json(self) -> dict[str, Any]:
        return {"base": self.base, "device_q": dict(self._device_q), "type_q": dict(self._type_q),
                "false_alarms_in_a_row": dict(self._in_a_row)}  # fmt: skip

    def restore(self, state: dict[str, Any]) -> None:
        """Take back what `to_json` saved (e.g. after a restart); a state saved under another base is ignored,
        since its tails were measured from that base.

        >>> fb = ThresholdFeedback(base=0.9)
        >>> for d in ("d1", "d2"):
        ...     _ = fb.false_alarm(d, "p1", "pump")
        >>> again = ThresholdFeedback(base=0.9)
        >>> again.restore(fb.to_json())
        >>> again.threshold("p1", "pump") == fb.threshold("p1", "pump") > 0.9
        True
        """
        if state.get("base") != self.base:
            return
        self._device_q = {str(k): float(v) for k, v in state.get("device_q", {}).items()}
        self._type_q = {str(k): float(v) for k, v in state.get("type_q", {}).items()}
        self._in_a_row = {str(k): int(v) for k, v in state.get("false_alarms_in_a_row", {}).items()}
