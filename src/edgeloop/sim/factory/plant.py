"""A factory of pumps and motors: correlated physics, daily load, noise, faults, and commands that act on it.

Physics, vectorized over devices (one numpy expression per metric per step):
- speed follows the daily demand (a slow daily swing between about 82% and 94%, plus a small 6-hour ripple)
  times the commanded factor;
- motor current ~ rated x (0.35 + 0.65 speed²); pump flow ~ speed; pump pressure ~ speed²;
- vibration grows with speed and steeply with bearing wear (x(1 + 6 wear²)) and gets broadband noise from
  cavitation;
- bearing temperature lags (first order, ~30 min) toward ambient (an indoor room: 22 ± 2 °C over the day) +
  I²R heating + friction.

Each device reports its day's energy (kWh, from its current at 400 V three-phase, power factor 0.85) and the
production it lost to a commanded lower speed (`slowdown_h`, full-speed-equivalent hours) in a `usage` event when
the UTC day ends: the meter readings an ROI ledger books.

Bearing wear grows like e^(3t/T) (T: 4-10 h at full speed, slower with speed²) and fails at wear 1, so
vibration rises clearly 1-3 h before the failure: the P-F interval an agent has to act in.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from edgeloop.model import ArgSpec, CommandSpec, DeviceMeta, MetricSpec
from edgeloop.sim.factory.faults import DEVELOPING, HOUR, FaultRecord, PlannedFault, plan_faults

PUMP_METRICS = ("speed", "current", "vibration", "bearing_temp", "flow", "pressure")
MOTOR_METRICS = PUMP_METRICS[:4]
SPEC = {
    "speed": MetricSpec("speed", "fraction", 0.0, 1.2),
    "current": MetricSpec("current", "A", 0.0, 200.0),
    "vibration": MetricSpec("vibration", "mm/s", 0.0, 50.0),
    "bearing_temp": MetricSpec("bearing_temp", "degC", -20.0, 150.0),
    "flow": MetricSpec("flow", "m3/h", 0.0, 300.0),
    "pressure": MetricSpec("pressure", "bar", 0.0, 16.0),
}
COMMANDS = (
    CommandSpec("reduce_speed", (ArgSpec("factor", 0.3, 1.0),), "run slower: less wear, less output"),
    CommandSpec(
        "schedule_maintenance", (ArgSpec("within_h", 0.0, 24.0, "h"),), "maintenance within the delay; clears faults"
    ),
    CommandSpec("stop", (), "stop the device"),
    CommandSpec("start", (), "start a stopped device"),
)
RUNNING, FAILED, MAINTENANCE, STOPPED = 0, 1, 2, 3
MAINTENANCE_H = 1.0
KW_PER_AMP = 0.4 * math.sqrt(3) * 0.85  # 400 V three-phase, power factor 0.85
DAY = 86_400.0
NOISE_BLOCK = 512


@dataclass(frozen=True, slots=True)
class StepResult:
    ts: float
    telemetry: list[tuple[str, dict[str, float]]]
    events: list[tuple[str, dict[str, Any]]]


@dataclass(slots=True)
class _Device:
    """Per-device state that is not vectorized: its fault plan, active faults and random streams."""

    id: str
    asset_type: str
    metrics: tuple[str, ...]
    plan: list[PlannedFault]
    noise_rng: np.random.Generator
    event_rng: np.random.Generator
    noise: np.ndarray[Any, np.dtype[np.float64]] = field(default_factory=lambda: np.zeros((0, 6)))
    noise_at: int = 0
    next_fault: int = 0
    active: list[tuple[FaultRecord, PlannedFault]] = field(default_factory=list)
    stuck: dict[str, float] = field(default_factory=dict)  # metric -> frozen reading
    spikes_left: int = 0
    found: str | None = None  # what the running maintenance found


class FactoryPlant:
    """
    >>> plant = FactoryPlant(n_devices=4, seed=1, start_ts=0.0)
    >>> plant.devices
    ['pump-001', 'motor-002', 'pump-003', 'motor-004']
    >>> step = plant.step()
    >>> sorted(step.telemetry[0][1])
    ['bearing_temp', 'current', 'flow', 'pressure', 'speed', 'vibration']
    >>> plant.command("pump-001", "reduce_speed", {"factor": 2.0})
    ('rejected', 'factor=2.0 outside [0.3, 1.0]')
    """

    def __init__(
        self,
        n_devices: int = 50,
        seed: int = 0,
        start_ts: float = 1_700_000_000.0,
        interval_s: float = 15.0,
        site: str = "factory",
        faults_per_device_day: float = 0.35,
        warmup_s: float = 4 * HOUR,
    ) -> None:
        self.site = site
        self.seed = seed
        self.start_ts = start_ts
        self.interval_s = interval_s
        self.now = start_ts
        root = np.random.SeedSequence(seed)
        self._devices: list[_Device] = []
        params = np.zeros((n_devices, 7))
        for i, child in enumerate(root.spawn(n_devices)):
            asset = "pump" if i % 2 == 0 else "motor"
            metrics = PUMP_METRICS if asset == "pump" else MOTOR_METRICS
            setup, faults, noise, events = (np.random.default_rng(s) for s in child.spawn(4))
            sensors = tuple(m for m in metrics if m != "speed")
            plan = plan_faults(faults, asset, sensors, start_ts, warmup_s, faults_per_device_day)
            self._devices.append(_Device(f"{asset}-{i + 1:03d}", asset, metrics, plan, noise, events))
            rated = setup.uniform(30, 60) if asset == "pump" else setup.uniform(15, 40)
            params[i] = (rated, setup.uniform(1.5, 3.0), setup.uniform(80, 150), setup.uniform(3, 6),
                         setup.uniform(20, 35), setup.uniform(1500, 2400), setup.uniform(-0.5, 0.5))  # fmt: skip
        self.devices = [d.id for d in self._devices]
        self._index = {d.id: i for i, d in enumerate(self._devices)}
        self._rated, self._vib0, self._flow0, self._p0, self._rise, self._tau, self._phase = params.T.copy()
        n = n_devices
        self._factor = np.ones(n)
        self._wear = np.zeros(n)
        self._wear_b = np.zeros(n)  # wear growth rate of an active bearing fault (0: none)
        self._cav = np.zeros(n)
        self._cav_ramp = np.zeros(n)
        self._cav_damage = np.zeros(n)
        self._state = np.full(n, RUNNING)
        self._down_until = np.full(n, np.inf)
        self._maint_at = np.full(n, np.inf)
        self._temp = self._ambient(start_ts) + self._rise * 0.6
        self._faults: list[FaultRecord] = []
        self._failures: list[dict[str, Any]] = []
        self._actions: list[dict[str, Any]] = []
        self._downtime = np.zeros(n)
        self._planned_downtime = np.zeros(n)
        self._energy_kwh = np.zeros(n)  # today's, reported at the end of the day
        self._slowdown_h = np.zeros(n)
        self._total_energy_kwh = np.zeros(n)
        self._total_slowdown_h = np.zeros(n)
        self._day = int(start_ts // DAY)

    # -- description ------------------------------------------------------------------------------------------

    def metas(self) -> list[DeviceMeta]:
        return [
            DeviceMeta(d.id, d.asset_type, tuple(SPEC[m] for m in d.metrics), COMMANDS, {"simulated": True})
            for d in self._devices
        ]

    # -- time -------------------------------------------------------------------------------------------------

    def _ambient(self, ts: float) -> float:
        hour = (ts % 86_400) / HOUR
        return 22.0 + 2.0 * math.sin(2 * math.pi * (hour - 9.0) / 24.0)  # an indoor pump room

    def _load(self, ts: float) -> np.ndarray[Any, np.dtype[np.float64]]:
        hour = ((ts % 86_400) / HOUR + self._phase) % 24.0
        return 0.88 + 0.05 * np.sin(2 * np.pi * (hour - 10.0) / 24.0) + 0.01 * np.sin(2 * np.pi * hour / 6.0)

    def step(self) -> StepResult:
        dt = self.interval_s
        self.now += dt
        ts = self.now
        events: list[tuple[str, dict[str, Any]]] = []
        if int(ts // DAY) != self._day:
            events += self.close_day()
            self._day = int(ts // DAY)
        self._transitions(ts, events)
        self._start_faults(ts)
        running = self._state == RUNNING
        speed = np.where(running, self._load(ts) * self._factor, 0.0)
        self._progress_faults(speed, dt, ts, events)
        running = self._state == RUNNING
        speed = np.where(running, speed, 0.0)
        cav = self._cav
        current = self._rated * (0.35 + 0.65 * speed**2) * (1 + 0.05 * cav)
        target = self._ambient(ts) + self._rise * (current / self._rated) ** 2 + 30 * self._wear + 5 * cav
        self._temp += (target - self._temp) * (1 - np.exp(-dt / self._tau))
        self._downtime += np.where(self._state == FAILED, dt, 0.0)
        self._energy_kwh += np.where(running, KW_PER_AMP * current * dt / HOUR, 0.0)
        self._slowdown_h += np.where(running, (1.0 - self._factor) * dt / HOUR, 0.0)
        self._planned_downtime += np.where(self._state == MAINTENANCE, dt, 0.0)
        idx = np.flatnonzero(running)
        return StepResult(ts, self._readings(idx, speed[idx], current[idx]), events)

    def _noise(self, idx: np.ndarray[Any, np.dtype[np.int64]]) -> np.ndarray[Any, np.dtype[np.float64]]:
        """One row of standard normals per device in `idx`, from each device's own stream, in blocks."""
        z = np.empty((len(idx), 6))
        for j, i in enumerate(idx.tolist()):
            d = self._devices[i]
            if d.noise_at >= d.noise.shape[0]:
                d.noise, d.noise_at = d.noise_rng.standard_normal((NOISE_BLOCK, 6)), 0
            z[j] = d.noise[d.noise_at]
            d.noise_at += 1
        return z

    def _readings(
        self,
        idx: np.ndarray[Any, np.dtype[np.int64]],
        speed: np.ndarray[Any, np.dtype[np.float64]],
        current: np.ndarray[Any, np.dtype[np.float64]],
    ) -> list[tuple[str, dict[str, float]]]:
        """Each running device's readings, vectorized over devices; sensor faults then bend a few of them."""
        z = self._noise(idx)
        wear, cav, vib0 = self._wear[idx], self._cav[idx], self._vib0[idx]
        values = {
            "speed": speed * (1 + 0.002 * z[:, 0]),
            "current": current * (1 + 0.008 * z[:, 1]),
            "vibration": vib0 * (0.5 + 0.5 * speed) * (1 + 6 * wear**2) * (1 + 0.04 * z[:, 2])
            + 1.5 * cav * speed**2 * np.abs(z[:, 3]),
            "bearing_temp": self._temp[idx] + 0.3 * z[:, 4],
            "flow": self._flow0[idx] * speed * (1 - 0.2 * cav) * (1 + 0.015 * z[:, 5]),
            "pressure": self._p0[idx] * speed**2 * (1 - 0.1 * cav) * (1 + 0.02 * (1 + 4 * cav) * z[:, 3]),
        }
        for j, i in enumerate(idx.tolist()):
            d = self._devices[i]
            if d.active:
                self._sensor_faults(d, values, j)
        columns = {m: np.round(np.clip(v, SPEC[m].low, SPEC[m].high), 4).tolist() for m, v in values.items()}
        out = []
        for j, i in enumerate(idx.tolist()):
            d = self._devices[i]
            out.append((d.id, {m: columns[m][j] for m in d.metrics}))
        return out

    def _sensor_faults(self, d: _Device, values: dict[str, np.ndarray[Any, np.dtype[np.float64]]], j: int) -> None:
        for record, planned in d.active:
            metric = record.metric
            if metric is None or metric not in d.metrics:
                continue
            column = values[metric]
            if record.kind == "stuck":
                column[j] = d.stuck.setdefault(metric, float(column[j]))
            elif record.kind == "drift":
                span = SPEC[metric].high - SPEC[metric].low
                column[j] += planned.magnitude * span * (self.now - record.start_ts) / HOUR
            elif record.kind == "spike" and d.spikes_left > 0 and d.event_rng.random() < 0.3:
                column[j] *= 1 + planned.magnitude * 0.1
                d.spikes_left -= 1
                if d.spikes_left == 0:
                    record.cleared_ts = self.now  # a transient fault is over once its spikes are
        d.active = [(r, p) for r, p in d.active if r.active]

    # -- faults -----------------------------------------------------------------------------------------------

    def _start_faults(self, ts: float) -> None:
        for i, d in enumerate(self._devices):
            while d.next_fault < len(d.plan) and d.plan[d.next_fault].start_ts <= ts:
                if self._state[i] in (FAILED, MAINTENANCE):
                    break  # a fault due while the device is being worked on starts when it runs again
                planned = d.plan[d.next_fault]
                d.next_fault += 1
                busy = planned.kind in DEVELOPING and any(r.kind in DEVELOPING for r, _ in d.active)
                if busy or (planned.metric is not None and planned.metric not in d.metrics):
                    continue
                record = FaultRecord(f"{d.id}-f{d.next_fault}", d.id, planned.kind, planned.metric, ts)
                self._faults.append(record)
                d.active.append((record, planned))
                if planned.kind == "bearing_wear":
                    self._wear_b[i] = 3.0 / (planned.hours_to_failure * HOUR)
                elif planned.kind == "cavitation":
                    self._cav_ramp[i] = 1.0 / (0.5 * planned.hours_to_failure * HOUR)
                elif planned.kind == "spike":
                    d.spikes_left = int(d.event_rng.integers(1, 4))

    def _progress_faults(
        self,
        speed: np.ndarray[Any, np.dtype[np.float64]],
        dt: float,
        ts: float,
        events: list[tuple[str, dict[str, Any]]],
    ) -> None:
        s2 = speed**2
        b = self._wear_b
        self._wear += s2 * (b / (math.e**3 - 1) + b * self._wear) * dt
        self._cav = np.minimum(1.0, self._cav + self._cav_ramp * (speed > 0) * dt)
        self._cav_damage += self._cav**2 * s2 * self._cav_ramp * dt
        for i in np.flatnonzero((self._wear >= 1.0) | (self._cav_damage >= 1.0)):
            self._fail(int(i), ts, events)

    def _fail(self, i: int, ts: float, events: list[tuple[str, dict[str, Any]]]) -> None:
        d = self._devices[i]
        kind = "bearing_wear" if self._wear[i] >= 1.0 else "cavitation"
        repair_s = float(d.event_rng.uniform(8, 24)) * HOUR
        for record, _ in d.active:
            if record.kind == kind:
                record.failure_ts = ts
        d.active = [(r, p) for r, p in d.active if r.active]
        self._reset_developing(i)
        self._state[i], self._down_until[i], self._maint_at[i] = FAILED, ts + repair_s, np.inf
        self._failures.append({"device": d.id, "ts": ts, "downtime_s": repair_s, "fault": kind})
        events.append((d.id, {"kind": "failure", "fault": kind, "downtime_s": repair_s}))

    def _reset_developing(self, i: int) -> None:
        self._wear[i] = self._wear_b[i] = self._cav[i] = self._cav_ramp[i] = self._cav_damage[i] = 0.0
        self._factor[i] = 1.0

    def _transitions(self, ts: float, events: list[tuple[str, dict[str, Any]]]) -> None:
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
            developing = [r.kind for r in cleared if r.kind in DEVELOPING]
            found = developing[0] if developing else (cleared[0].kind if cleared else None)
            d.active, d.stuck, d.spikes_left = [], {}, 0
            d.found = found
            self._reset_developing(int(i))
            self._state[i], self._maint_at[i], self._down_until[i] = MAINTENANCE, np.inf, ts + MAINTENANCE_H * HOUR
            events.append((d.id, {"kind": "maintenance_started", "found": found}))

    # -- commands ---------------------------------------------------------------------------------------------

    def command(self, device: str, name: str, args: Mapping[str, float]) -> tuple[str, str]:
        status, detail = self._apply(device, name, args)
        self._actions.append({"device": device, "ts": self.now, "name": name, "args": dict(args), "status": status})
        if status == "done":
            d = self._devices[self._index[device]]
            for record, _ in d.active:
                record.caught = True
        return status, detail

    def _apply(self, device: str, name: str, args: Mapping[str, float]) -> tuple[str, str]:
        i = self._index.get(device)
        if i is None:
            return "rejected", f"unknown device {device!r}"
        spec = next((c for c in COMMANDS if c.name == name), None)
        if spec is None:
            return "rejected", f"unknown command {name!r}"
        broken = spec.check_args(args)
        if broken is not None:
            return "rejected", broken
        if self._state[i] == FAILED:
            return "rejected", "device has failed and is under repair"
        if name == "reduce_speed":
            self._factor[i] = float(args["factor"])
            return "done", f"speed factor {self._factor[i]:.2f}"
        if name == "schedule_maintenance":
            self._maint_at[i] = min(self._maint_at[i], self.now + float(args["within_h"]) * HOUR)
            return "done", f"maintenance in {float(args['within_h']):g} h"
        if name == "stop":
            self._state[i] = STOPPED
            return "done", "stopped"
        if self._state[i] != STOPPED:
            return "rejected", "device is not stopped"
        self._state[i] = RUNNING
        return "done", "started"

    def active_faults(self, device: str) -> list[str]:
        """The kinds of the faults active on a device now (ground truth, for simulated operators)."""
        return [record.kind for record, _ in self._devices[self._index[device]].active if record.active]

    def close_day(self) -> list[tuple[str, dict[str, Any]]]:
        """The `usage` events of the day so far (called when a day ends, and by whoever ends a run)."""
        events = [
            (d.id, {"kind": "usage", "day": self._day, "energy_kwh": round(float(self._energy_kwh[i]), 3),
                    "slowdown_h": round(float(self._slowdown_h[i]), 4)})
            for i, d in enumerate(self._devices)
        ]  # fmt: skip
        self._total_energy_kwh += self._energy_kwh
        self._total_slowdown_h += self._slowdown_h
        self._energy_kwh[:] = 0.0
        self._slowdown_h[:] = 0.0
        return events

    # -- ground truth -----------------------------------------------------------------------------------------

    def ground_truth(self) -> dict[str, Any]:
        faults = [f.to_json() for f in self._faults]
        developing = [f for f in faults if f["developing"]]
        return {
            "site": self.site,
            "seed": self.seed,
            "start_ts": self.start_ts,
            "interval_s": self.interval_s,
            "devices": {d.id: d.asset_type for d in self._devices},
            "faults": faults,
            "failures": self._failures,
            "actions": self._actions,
            "downtime_s": {d.id: float(self._downtime[i]) for i, d in enumerate(self._devices)},
            "planned_downtime_s": {d.id: float(self._planned_downtime[i]) for i, d in enumerate(self._devices)},
            "energy_kwh": {
                d.id: float(self._total_energy_kwh[i] + self._energy_kwh[i]) for i, d in enumerate(self._devices)
            },
            "summary": {
                "faults": len(faults),
                "developing_faults": len(developing),
                "developing_caught_before_failure": sum(
                    1 for f in developing if f["caught"] and f["failure_ts"] is None
                ),
                "failures": len(self._failures),
                "by_kind": {k: sum(1 for f in faults if f["kind"] == k) for k in sorted({f["kind"] for f in faults})},
            },
        }
