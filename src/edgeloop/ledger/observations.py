"""Per device-day observations: the unit the uplift is measured on.

`device_days` builds them from the ledger alone: failures and their downtime from F1 entries (on the day the
failure happened), and net value from every entry that is not counterfactual, so a claimed avoided failure
never inflates what the holdout comparison measures.

>>> from edgeloop.ledger.holdout import HoldoutDesign
>>> record = HoldoutDesign(seed=0).assign({"m1": "motor"})
>>> [d.net_value for d in device_days([], record, days=range(19_000, 19_002))]
[0.0, 0.0]
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from edgeloop.ledger.entries import Entry, EntryKind
from edgeloop.ledger.holdout import Arm, HoldoutRecord


@dataclass(frozen=True, slots=True)
class DeviceDay:
    device: str
    asset_type: str
    arm: Arm
    day: int  # UTC day index
    downtime_h: float  # unplanned downtime
    failures: int
    net_value: float  # site currency; costs negative


def device_days(entries: Iterable[Entry], holdout: HoldoutRecord, days: Iterable[int]) -> list[DeviceDay]:
    """One observation per assigned device per day in `days` (days without entries count, as zeros)."""
    wanted = list(days)
    totals: dict[tuple[str, int], list[float]] = {}
    for e in entries:
        t = totals.setdefault((e.device, e.day), [0.0, 0.0, 0.0])
        if e.kind is EntryKind.FAILURE:
            t[0] += e.quantity
            t[1] += 1
        if not e.kind.counterfactual:
            t[2] += float(e.amount)
    out = []
    for a in holdout.assignments:
        for day in wanted:
            down, failures, value = totals.get((a.device, day), [0.0, 0.0, 0.0])
            out.append(DeviceDay(a.device, a.asset_type, a.arm, day, down, int(failures), value))
    return out
