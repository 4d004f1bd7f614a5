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

Bearing wear grows like e^(3t/T) (T: 1.5-13.5 h at full speed, log-uniform, slower with speed²) and fails at
wear 1, so vibration rises clearly for about the last half of T: the P-F interval an agent has to act in. A
`sudden_failure` breaks the device the moment it starts, with no sign before (the fault mix: `faults.py`).

With `upsets_per_device_day`, the process around a device slows it for some minutes now and then, with nothing
wrong with it (`upsets.py`): the nuisance alarms an operator's feedback is for.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from edgeloop.model import ArgSpec, CommandSpec, DeviceMeta, MetricSpec
from edgeloop.sim.device import Device, noise_rows
from edgeloop.sim.factory.faults import DEVELOPING, HOUR, FaultRecord, PlannedFault, plan_faults
from edgeloop.sim.factory.upsets import Upset, Upsets, plan_upsets
from edgeloop.sim.lifecycle import FAILED, RUNNING, Events, MaintainedPlant

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
STOPPED = 3  # besides the lifecycle's RUNNING, FAILED and MAINTENANCE
KW_PER_AMP = 0.4 * math.sqrt(3) * 0.85  # 400 V three-phase, power factor 0.85
DAY = 86_400.0


@dataclass(frozen=True, slots=True)
class StepResult:
    ts: float
    telemetry: list[tuple[str, dict[str, float]]]
    events: list[tuple[str, dict[str, Any]]]


@dataclass(slots=True)
class _Device(Device):
    """A pump or motor: the metrics it reports and the state of its sensor faults."""

    metrics: tuple[str, ...] = ()
    stuck: dict[str, float] = field(default_factory=dict)  # metric -> frozen reading
    spikes_left: int = 0


class FactoryPlant(MaintainedPlant[_Device]):
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

    developing_kinds = DEVELOPING

    def __init__(
        self,
        n_devices: int = 50,
        seed: int = 0,
        start_ts: float = 1_700_000_000.0,
        interval_s: float = 15.0,
        site: str = "factory",
        faults_per_device_day: float = 0.35,
        warmup_s: float = 4 * HOUR,
        upsets_per_device_day: float = 0.0,
    ) -> None:
        self.site = site
        self.seed = seed
        self.start_ts = start_ts
        self.interval_s = interval_s
        self.now = start_ts
        root = np.random.SeedSequence(seed)
        devices: list[_Device] = []
        params = np.zeros((n_devices, 7))
        upsets: list[list[Upset]] = []
        for i, child in enumerate(root.spawn(n_devices)):
            asset = "pump" if i % 2 == 0 else "motor"
            metrics = PUMP_METRICS if asset == "pump" else MOTOR_METRICS
            setup, faults, noise, events = (np.random.default_rng(s) for s in child.spawn(4))
            if upsets_per_device_day > 0:  # a stream of their own: the other draws stay as they were
                upset_rng = np.random.default_rng(child.spawn(1)[0])
                upsets.append(plan_upsets(upset_rng, start_ts, warmup_s, upsets_per_device_day))
            sensors = tuple(m for m in metrics if m != "speed")
            plan = plan_faults(faults, asset, sensors, start_ts, warmup_s, faults_per_device_day)
            devices.append(_Device(f"{asset}-{i + 1:03d}", asset, plan, noise, events, metrics=metrics))
            rated = setup.uniform(30, 60) if asset == "pump" else setup.uniform(15, 40)
            params[i] = (rated, setup.uniform(1.5, 3.0), setup.uniform(80, 150), setup.uniform(3, 6),
                         setup.uniform(20, 35), setup.uniform(1500, 2400), setup.uniform(-0.5, 0.5))  # fmt: skip
        self._init_lifecycle(devices)
        self._rated, self._vib0, self._flow0, self._p0, self._rise, self._tau, self._phase = params.T.copy()
        n = n_devices
        self._factor = np.ones(n)
        self._wear = np.zeros(n)
        self._wear_b = np.zeros(n)  # wear growth rate of an active bearing fault (0: none)
        self._cav = np.zeros(n)
        self._cav_ramp = np.zeros(n)
        self._cav_damage = np.zeros(n)
        self._sudden = np.zeros(n, dtype=bool)  # a sudden failure has started: the device breaks this step
        self._temp = self._ambient(start_ts) + self._rise * 0.6
        self._energy_kwh = np.zeros(n)  # today's, reported at the end of the day
        self._slowdown_h = np.zeros(n)
        self._total_energy_kwh = np.zeros(n)
        self._total_slowdown_h = np.zeros(n)
        self._day = int(start_ts // DAY)
        self._upsets = Upsets(upsets) if upsets else None

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
        events: Events = []
        if int(ts // DAY) != self._day:
            events += self.close_day()
            self._day = int(ts // DAY)
        self._transitions(ts, events)
        self._start_faults(ts)
        running = self._state == RUNNING
        demand = self._load(ts)
        if self._upsets is not None:
            demand = demand * self._upsets.depth(ts)
        speed = np.where(running, demand * self._factor, 0.0)
        self._progress_faults(speed, dt, ts, events)
        running = self._state == RUNNING
        speed = np.where(running, speed, 0.0)
        cav = self._cav
        current = self._rated * (0.35 + 0.65 * speed**2) * (1 + 0.05 * cav)
        target = self._ambient(ts) + self._rise * (current / self._rated) ** 2 + 30 * self._wear + 5 * cav
        self._temp += (target - self._temp) * (1 - np.exp(-dt / self._tau))
        self._energy_kwh += np.where(running, KW_PER_AMP * current * dt / HOUR, 0.0)
        self._slowdown_h += np.where(running, (1.0 - self._factor) * dt / HOUR, 0.0)
        self._book_downtime(dt)
        idx = np.flatnonzero(running)
        return StepResult(ts, self._readings(idx, speed[idx], current[idx]), events)

    def _readings(
        self,
        idx: np.ndarray[Any, np.dtype[np.int64]],
        speed: np.ndarray[Any, np.dtype[np.float64]],
        current: np.ndarray[Any, np.dtype[np.float64]],
    ) -> list[tuple[str, dict[str, float]]]:
        """Each running device's readings, vectorized over devices; sensor faults then bend a few of them."""
        z = noise_rows(self._devices, idx)
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

    def _can_start(self, d: _Device, planned: PlannedFault) -> bool:
        """One developing fault at a time; a sensor fault only on a sensor the device has."""
        busy = planned.kind in DEVELOPING and any(r.kind in DEVELOPING for r, _ in d.active)
        return not busy and (planned.metric is None or planned.metric in d.metrics)

    def _start_fault(self, i: int, d: _Device, record: FaultRecord, planned: PlannedFault) -> None:
        if planned.kind == "bearing_wear":
            self._wear_b[i] = 3.0 / (planned.hours_to_failure * HOUR)
        elif planned.kind == "cavitation":
            self._cav_ramp[i] = 1.0 / (0.5 * planned.hours_to_failure * HOUR)
        elif planned.kind == "spike":
            d.spikes_left = int(d.event_rng.integers(1, 4))
        elif planned.kind == "sudden_failure":
            self._sudden[i] = True

    def _progress_faults(
        self,
        speed: np.ndarray[Any, np.dtype[np.float64]],
        dt: float,
        ts: float,
        events: Events,
    ) -> None:
        s2 = speed**2
        b = self._wear_b
        self._wear += s2 * (b / (math.e**3 - 1) + b * self._wear) * dt
        self._cav = np.minimum(1.0, self._cav + self._cav_ramp * (speed > 0) * dt)
        self._cav_damage += self._cav**2 * s2 * self._cav_ramp * dt
        for i in np.flatnonzero((self._sudden & (speed > 0)) | (self._wear >= 1.0) | (self._cav_damage >= 1.0)):
            kind = "sudden_failure" if self._sudden[i] else "bearing_wear" if self._wear[i] >= 1.0 else "cavitation"
            self._fail(int(i), kind, ts, events)

    def _clear_developing(self, i: int) -> None:
        self._wear[i] = self._wear_b[i] = self._cav[i] = self._cav_ramp[i] = self._cav_damage[i] = 0.0
        self._sudden[i] = False
        self._factor[i] = 1.0

    def _clear_all(self, i: int) -> None:
        d = self._devices[i]
        d.stuck, d.spikes_left = {}, 0
        self._clear_developing(i)

    # -- commands ---------------------------------------------------------------------------------------------

    def command(self, device: str, name: str, args: Mapping[str, float]) -> tuple[str, str]:
        status, detail = self._apply(device, name, args)
        self._log_action(device, name, args, status)
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
            return self._schedule_maintenance(i, float(args["within_h"]))
        if name == "stop":
            self._state[i] = STOPPED
            return "done", "stopped"
        if self._state[i] != STOPPED:
            return "rejected", "device is not stopped"
        self._state[i] = RUNNING
        return "done", "started"

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
        upsets = [] if self._upsets is None else self._upsets.truth(self.devices, self.now)
        truth = self._truth(self._total_energy_kwh + self._energy_kwh)
        return {**truth, "summary": self._fault_summary(), "upsets": upsets}
