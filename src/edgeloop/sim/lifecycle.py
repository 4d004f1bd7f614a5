"""The life of a device with faults, the same in every plant that has them (the factory, the building).

A device runs until a developing fault breaks it (FAILED: down for an 8-24 h repair) or until a commanded
maintenance comes due (MAINTENANCE: down for an hour, every active fault is cleared and what was found is said
in the `repaired` event). Faults due while a device is down start when it runs again. Every command, done or
rejected, is kept for the ground truth.

The plant keeps its own physics and says, in four methods, what a fault does to it:
- `_start_fault(i, device, record, planned)`: a planned fault starts on device `i`;
- `_can_start(device, planned)`: whether a planned fault may start next to the ones already active;
- `_clear_developing(i)`: a failure (or a maintenance) ends device `i`'s developing faults;
- `_clear_all(i)`: a maintenance ends all of device `i`'s faults.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Generic, TypeVar

import numpy as np

from edgeloop.sim.device import Device
from edgeloop.sim.faults import HOUR, FaultRecord, PlannedFault

RUNNING, FAILED, MAINTENANCE = 0, 1, 2
MAINTENANCE_H = 1.0
Events = list[tuple[str, dict[str, Any]]]
D = TypeVar("D", bound=Device)


class MaintainedPlant(Generic[D]):
    """The device lifecycle a plant with faults inherits; see the module's docstring for the four hooks."""

    site: str
    seed: int
    start_ts: float
    interval_s: float
    now: float
    #: the fault kinds that end in a failure if nobody acts
    developing_kinds: tuple[str, ...] = ()

    def _init_lifecycle(self, devices: list[D]) -> None:
        self._devices = devices
        self.devices = [d.id for d in devices]
        self._index = {d.id: i for i, d in enumerate(devices)}
        n = len(devices)
        self._state = np.full(n, RUNNING)
        self._down_until = np.full(n, np.inf)
        self._maint_at = np.full(n, np.inf)
        self._downtime = np.zeros(n)
        self._planned_downtime = np.zeros(n)
        self._faults: list[FaultRecord] = []
        self._failures: list[dict[str, Any]] = []
        self._actions: list[dict[str, Any]] = []

    # -- the plant's hooks ------------------------------------------------------------------------------------

    def _start_fault(self, i: int, d: D, record: FaultRecord, planned: PlannedFault) -> None:
        raise NotImplementedError

    def _can_start(self, d: D, planned: PlannedFault) -> bool:
        return True

    def _clear_developing(self, i: int) -> None:
        raise NotImplementedError

    def _clear_all(self, i: int) -> None:
        raise NotImplementedError

    # -- faults, failures and maintenance ---------------------------------------------------------------------

    def _start_faults(self, ts: float) -> None:
        for i, d in enumerate(self._devices):
            while d.next_fault < len(d.plan) and d.plan[d.next_fault].start_ts <= ts:
                if self._state[i] in (FAILED, MAINTENANCE):
                    break  # a fault due while the device is being worked on starts when it runs again
                planned = d.plan[d.next_fault]
                d.next_fault += 1
                if not self._can_start(d, planned):
                    continue
                developing = planned.kind in self.developing_kinds
                record = FaultRecord(f"{d.id}-f{d.next_fault}", d.id, planned.kind, ts, planned.metric, developing)
                self._faults.append(record)
                d.active.append((record, planned))
                self._start_fault(i, d, record, planned)

    def _fail(self, i: int, kind: str, ts: float, events: Events) -> None:
        """A developing fault of `kind` breaks device `i`: it is down for an 8-24 h repair."""
        d = self._devices[i]
        repair_s = float(d.event_rng.uniform(8, 24)) * HOUR
        for record, _ in d.active:
            if record.kind == kind:
                record.failure_ts = ts
        d.active = [(r, p) for r, p in d.active if r.active]
        self._clear_developing(i)
        self._state[i], self._down_until[i], self._maint_at[i] = FAILED, ts + repair_s, np.inf
        self._failures.append({"device": d.id, "ts": ts, "downtime_s": repair_s, "fault": kind})
        events.append((d.id, {"kind": "failure", "fault": kind, "downtime_s": repair_s}))

    def _transitions(self, ts: float, events: Events) -> None:
        """Repairs and maintenance that end now, then maintenance that comes due now."""
        for i in np.flatnonzero(self._down_until <= ts):
            d = self._devices[i]
            reason = "failure" if self._state[i] == FAILED else "maintenance"
            found = d.found if reason == "maintenance" else None
            self._state[i], self._down_until[i] = RUNNING, np.inf
            events.append((d.id, {"kind": "repaired", "reason": reason, "found": found}))
        for i in np.flatnonzero((self._maint_at <= ts) & (self._state != FAILED)):
            d = self._devices[i]
            cleared = [r for r, _ in d.active]
            for record in cleared:
                record.cleared_ts = ts
            developing = [r.kind for r in cleared if r.developing]
            d.found = developing[0] if developing else (cleared[0].kind if cleared else None)
            d.active = []
            self._clear_all(int(i))
            self._state[i], self._maint_at[i], self._down_until[i] = MAINTENANCE, np.inf, ts + MAINTENANCE_H * HOUR
            events.append((d.id, {"kind": "maintenance_started", "found": d.found}))

    def _schedule_maintenance(self, i: int, within_h: float) -> tuple[str, str]:
        self._maint_at[i] = min(self._maint_at[i], self.now + within_h * HOUR)
        return "done", f"maintenance in {within_h:g} h"

    def _book_downtime(self, dt: float) -> None:
        self._downtime += np.where(self._state == FAILED, dt, 0.0)
        self._planned_downtime += np.where(self._state == MAINTENANCE, dt, 0.0)

    def _log_action(self, device: str, name: str, args: Mapping[str, float], status: str) -> None:
        self._actions.append({"device": device, "ts": self.now, "name": name, "args": dict(args), "status": status})

    def active_faults(self, device: str) -> list[str]:
        """The kinds of the faults active on a device now (ground truth, for simulated operators)."""
        return [record.kind for record, _ in self._devices[self._index[device]].active if record.active]

    # -- ground truth -----------------------------------------------------------------------------------------

    def _truth(self, energy_kwh: np.ndarray[Any, np.dtype[np.float64]]) -> dict[str, Any]:
        """The ground truth every plant with faults reports: devices, faults, failures, actions, downtime, energy."""
        return {
            "site": self.site, "seed": self.seed, "start_ts": self.start_ts, "interval_s": self.interval_s,
            "devices": {d.id: d.asset_type for d in self._devices},
            "faults": [f.to_json() for f in self._faults], "failures": self._failures, "actions": self._actions,
            "downtime_s": {d: float(s) for d, s in zip(self.devices, self._downtime, strict=True)},
            "planned_downtime_s": {d: float(s) for d, s in zip(self.devices, self._planned_downtime, strict=True)},
            "energy_kwh": {d: float(e) for d, e in zip(self.devices, energy_kwh, strict=True)},
        }  # fmt: skip

    def _fault_summary(self) -> dict[str, Any]:
        faults = [f.to_json() for f in self._faults]
        developing = [f for f in faults if f["developing"]]
        return {
            "faults": len(faults),
            "developing_faults": len(developing),
            "developing_caught_before_failure": sum(1 for f in developing if f["caught"] and f["failure_ts"] is None),
            "failures": len(self._failures),
            "by_kind": {k: sum(1 for f in faults if f["kind"] == k) for k in sorted({f["kind"] for f in faults})},
        }
