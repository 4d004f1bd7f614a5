"""An office building: zones with air handlers, one chiller, weather, people, faults, and commands that act on it.

The plant has the FactoryPlant shape (`devices`, `metas()`, `step()`, `command()`, `close_day()`,
`ground_truth()`, `active_faults()`), so `PlantRunner`, the back-test and the site agent drive it unchanged.

Devices: `ahu-01` .. `ahu-NN` (asset type `air_handler`, one per zone) and `chiller-01` (asset type `chiller`),
each reporting `power_kw`. See `edgeloop.sim.building.thermal` for the zone model and docs/simulators.md for the
metrics, commands and faults.

Its load-flexibility interface (power, setpoint shifts and their estimate, comfort) is described in
docs/simulators.md ("Load flexibility").
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Any

import numpy as np

from edgeloop.model import DeviceMeta
from edgeloop.sim.building.chiller import AUX_SHARE, START_KWH, Chiller
from edgeloop.sim.building.devices import AHU_COMMANDS, AHU_METRICS, CHILLER_COMMANDS, CHILLER_METRICS, SPEC
from edgeloop.sim.building.faults import DEVELOPING, HOUR, KINDS, FaultRecord, PlannedFault, plan_faults
from edgeloop.sim.building.flex import Fans, ShiftEstimate, shift_estimate
from edgeloop.sim.building.sensors import ZoneState, ahu_readings, chiller_readings
from edgeloop.sim.building.thermal import zone_step
from edgeloop.sim.building.weather import DAY, Weather, hvac_occupied, occupancy, solar
from edgeloop.sim.device import Device, noise_rows
from edgeloop.sim.factory.plant import StepResult
from edgeloop.sim.lifecycle import FAILED, RUNNING, Events, MaintainedPlant

SETBACK_COOL_C, SETBACK_HEAT_C, DEADBAND_K = 28.0, 15.0, 2.0
HEAT_COP = 3.0  # the air handlers heat with a heat pump
LEAK_WASTE_KW = 25.0  # chilled water a fully passing valve wastes
MAX_DRIFT_K = 4.0


class BuildingPlant(MaintainedPlant[Device]):
    """
    >>> plant = BuildingPlant(n_zones=2, seed=1, start_ts=0.0)
    >>> plant.devices
    ['ahu-01', 'ahu-02', 'chiller-01']
    >>> step = plant.step()
    >>> sorted(step.telemetry[0][1])
    ['damper_pos', 'fan_speed', 'power_kw', 'return_temp', 'supply_temp', 'valve_pos', 'zone_temp']
    >>> plant.command("ahu-01", "set_setpoint", {"setpoint": 35.0})
    ('rejected', 'setpoint=35.0 outside [18.0, 28.0]')
    >>> round(plant.power_kw(), 1), plant.setpoints()["ahu-01"]
    (0.0, 23.0)
    """

    comfort_band = (20.0, 26.0)  # degC, while people are in
    developing_kinds = DEVELOPING

    def __init__(
        self,
        n_zones: int = 8,
        seed: int = 0,
        start_ts: float = 1_700_000_000.0,
        interval_s: float = 15.0,
        site: str = "building",
        faults_per_device_day: float = 0.15,
        warmup_s: float = 6 * HOUR,
        outdoor_mean_c: float = 26.0,
        outdoor_swing_c: float = 8.0,
    ) -> None:
        if n_zones < 1:
            raise ValueError(f"a building needs at least one zone, not {n_zones}")
        self.site, self.seed, self.start_ts, self.interval_s = site, seed, start_ts, interval_s
        self.now = start_ts
        self.weather = Weather(outdoor_mean_c, outdoor_swing_c, seed)
        n = n_zones
        devices: list[Device] = []
        params = np.zeros((n, 7))
        children = np.random.SeedSequence(seed).spawn(n + 1)
        for i, child in enumerate(children):
            asset = "air_handler" if i < n else "chiller"
            setup, faults, noise, events = (np.random.default_rng(s) for s in child.spawn(4))
            plan = plan_faults(faults, asset, start_ts, warmup_s, faults_per_device_day)
            name = f"ahu-{i + 1:02d}" if i < n else "chiller-01"
            devices.append(Device(name, asset, plan, noise, events))
            if i < n:  # envelope R (K/kW), capacity (kWh/K), people, equipment, sun, coil (kW), outdoor air (kW/K)
                low, high = np.array([[1.5, 8, 8, 3, 4, 45, 2], [2.5, 14, 14, 6, 10, 55, 4]], dtype=float)
                params[i] = setup.uniform(low, high)
            else:
                cop_nominal = float(setup.uniform(4.5, 5.5))
        self._init_lifecycle(devices)
        self.n_zones = n
        self._r, self._c, self._people, self._equip, self._sun, self._coil, self._oa = params.T.copy()
        self.zone_capacity_kwh_per_k = {self.devices[i]: float(self._c[i]) for i in range(n)}
        self.chiller = Chiller(0.85 * float(self._coil.sum()), cop_nominal)
        # zone state
        self._temp = np.full(n, 24.0)
        self._offset = np.zeros(n)  # sensor drift, K
        self._drift = np.zeros(n)  # K per second of an active sensor_drift
        self._setpoint = np.full(n, 23.0)
        self._fan_cap = np.ones(n)
        self._economizer = np.ones(n, dtype=bool)
        self._stuck = np.full(n, np.nan)
        self._leak = np.zeros(n)
        self._leak_rate = np.zeros(n)
        self._q = np.zeros(n)
        self._fan = np.zeros(n)
        self._damper = np.zeros(n)
        self._in_excursion = np.zeros(n, dtype=bool)
        self._demand = 0.0  # the coils' call for cooling, kW
        # every device
        self._power = np.zeros(n + 1)
        self._energy_kwh = np.zeros(n + 1)
        self._total_energy_kwh = np.zeros(n + 1)
        self._comfort_dh = np.zeros(n)
        self._total_comfort_dh = np.zeros(n)
        self._day = int(start_ts // DAY)

    # -- description ------------------------------------------------------------------------------------------

    def metas(self) -> list[DeviceMeta]:
        out = []
        for i, d in enumerate(self._devices):
            metrics, commands = (AHU_METRICS, AHU_COMMANDS) if i < self.n_zones else (CHILLER_METRICS, CHILLER_COMMANDS)
            extra = {"simulated": True, **({"zone": f"zone-{i + 1:02d}"} if i < self.n_zones else {})}
            out.append(DeviceMeta(d.id, d.asset_type, tuple(SPEC[m] for m in metrics), commands, extra))
        return out

    # -- time -------------------------------------------------------------------------------------------------

    def step(self) -> StepResult:
        dt = self.interval_s
        self.now += dt
        ts, n = self.now, self.n_zones
        events: Events = []
        if int(ts // DAY) != self._day:
            events += self.close_day()
            self._day = int(ts // DAY)
        self._transitions(ts, events)
        self._start_faults(ts)
        outdoor, occ, occupied = self.weather.outdoor_c(ts), occupancy(ts), hvac_occupied(ts)
        self._offset = np.clip(self._offset + self._drift * dt, -MAX_DRIFT_K, MAX_DRIFT_K)
        up = self._state[:n] == RUNNING
        self._run_chiller(ts, events)
        # the air handlers: fan and damper follow the last step's demand
        demand = up & (occupied | (self._q != 0))
        self._fan = np.where(demand, np.clip(0.3 + 0.7 * np.abs(self._q) / self._coil, 0.3, self._fan_cap), 0.0)
        free_cooling = self._economizer & (self._q > 0) & (outdoor < self._temp - 1.0)
        damper = np.where(free_cooling, 1.0, 0.2 if occupied else 0.0)
        self._damper = np.where(up, np.where(np.isnan(self._stuck), damper, self._stuck), 0.0)
        conductance = 1.0 / self._r + self._oa * self._damper * self._fan
        gains = self._equip * (0.4 + 0.6 * occ) + self._people * occ + self._sun * solar(ts)
        sp_cool = np.full(n, SETBACK_COOL_C) if not occupied else self._setpoint
        sp_heat = np.full(n, SETBACK_HEAT_C) if not occupied else self._setpoint - DEADBAND_K
        cool_max = self._cool_capacity()
        heat_max = 0.6 * self._coil * self._fan_cap
        args = (outdoor, gains, conductance, self._c, sp_cool, sp_heat, up)
        _, wanted = zone_step(self._temp, self._offset, *args, self._coil * self._fan_cap, heat_max, dt)
        waste = LEAK_WASTE_KW * self._leak * up
        self._demand = float(np.maximum(wanted, 0.0).sum())  # a leak wastes chilled water but calls for none
        cooling = float(np.minimum(np.maximum(wanted, 0.0), cool_max).sum() + waste.sum() * self.chiller.on)
        if cooling > self.chiller.capacity_kw:  # the chiller is short: every coil gets its share of what it has
            cool_max = np.minimum(cool_max, np.maximum(wanted, 0.0) * self.chiller.capacity_kw / cooling)
        self._temp, self._q = zone_step(self._temp, self._offset, *args, cool_max, heat_max, dt)
        load = float(np.maximum(self._q, 0.0).sum() + waste.sum() * self.chiller.on)
        self._power[n] = self.chiller.settle(dt, self._demand, load, outdoor)
        self._power[:n] = np.where(up, self._fan_kw() * self._fan**3 + np.maximum(-self._q, 0.0) / HEAT_COP, 0.0)
        self._energy_kwh += self._power * dt / HOUR
        self._progress_leaks(up & self.chiller.on, dt, ts, events)  # a passing valve wears while chilled water flows
        self._comfort(occ, dt, events)
        self._book_downtime(dt)
        return StepResult(ts, self._readings(outdoor), events)

    def _fan_kw(self) -> np.ndarray[Any, np.dtype[np.float64]]:
        return self._coil / 10.0  # a fan's rated power is about a tenth of its coil's cooling

    def _cool_capacity(self) -> np.ndarray[Any, np.dtype[np.float64]]:
        return self._coil * self._fan_cap * (1.0 - 0.6 * self._leak) * self.chiller.capacity_factor()

    def _run_chiller(self, ts: float, events: Events) -> None:
        c = self.n_zones
        if self._state[c] != RUNNING:
            self.chiller.on = False
        elif self.chiller.switch(ts, self._demand):
            self._energy_kwh[c] += START_KWH
            if self.chiller.wear >= 1.0:
                self._fail(c, "short_cycling", ts, events)

    def _comfort(self, occ: float, dt: float, events: Events) -> None:
        low, high = self.comfort_band
        outside = np.maximum(self._temp - high, 0.0) + np.maximum(low - self._temp, 0.0)
        self._comfort_dh += outside * occ * dt / HOUR
        started = (outside > 1.0) & (occ > 0) & ~self._in_excursion
        for i in np.flatnonzero(started):
            events.append((self.devices[i], {"kind": "comfort_violation", "zone_temp": round(float(self._temp[i]), 2),
                                             "band": list(self.comfort_band)}))  # fmt: skip
        self._in_excursion = np.where(outside > 1.0, True, np.where(outside == 0.0, False, self._in_excursion))

    def _readings(self, outdoor: float) -> list[tuple[str, dict[str, float]]]:
        n = self.n_zones
        idx = np.flatnonzero(self._state[:n] == RUNNING)
        zone = ZoneState(self._temp[idx], self._offset[idx], self._q[idx], self._fan[idx], self._damper[idx],
                         self._coil[idx], self._fan_cap[idx], self._leak[idx], self._power[idx])  # fmt: skip
        columns = ahu_readings(zone, outdoor, noise_rows(self._devices, idx))
        out = [(self.devices[i], {m: columns[m][j] for m in AHU_METRICS}) for j, i in enumerate(idx.tolist())]
        if self._state[n] == RUNNING:
            z1 = noise_rows(self._devices, np.array([n]))[0]
            out.append((self.devices[n], chiller_readings(self.chiller, float(self._power[n]), z1)))
        return out

    # -- faults -----------------------------------------------------------------------------------------------

    def _can_start(self, d: Device, planned: PlannedFault) -> bool:
        return not any(r.kind == planned.kind for r, _ in d.active)

    def _start_fault(self, i: int, d: Device, record: FaultRecord, planned: PlannedFault) -> None:
        if planned.kind == "stuck_damper":
            self._stuck[i] = planned.magnitude
            record.detail["position"] = planned.magnitude
        elif planned.kind == "sensor_drift":
            self._drift[i] = planned.magnitude / HOUR
            record.metric = "zone_temp"
            record.detail["k_per_h"] = planned.magnitude
        elif planned.kind == "leaking_valve":
            self._leak_rate[i] = 1.0 / (planned.hours_to_failure * HOUR)
        elif planned.kind == "short_cycling":
            self.chiller.start_cycling(planned.magnitude, planned.hours_to_failure)
            record.detail["cycle_s"] = planned.magnitude

    def inject_fault(
        self, device: str, kind: str, magnitude: float | None = None, hours_to_failure: float = 12.0
    ) -> None:
        """Start a fault at the next step, on top of the planned ones (for tests and demonstrations). `magnitude`:
        a stuck damper's position (default 1.0), a drift in K/h (default 0.1), a short cycle in s (default 300)."""
        i = self._index.get(device)
        if i is None:
            raise ValueError(f"unknown device {device!r}")
        d = self._devices[i]
        if kind not in KINDS[d.asset_type]:
            raise ValueError(
                f"{d.asset_type} {device} cannot have a {kind!r} fault (it can: {', '.join(KINDS[d.asset_type])})"
            )
        default = {"stuck_damper": 1.0, "sensor_drift": 0.1, "short_cycling": 300.0}.get(kind, 0.0)
        planned = PlannedFault(self.now, kind, hours_to_failure, default if magnitude is None else magnitude)
        d.plan.insert(d.next_fault, planned)

    def _progress_leaks(self, up: np.ndarray[Any, np.dtype[np.bool_]], dt: float, ts: float, events: Events) -> None:
        self._leak = np.minimum(1.0, self._leak + self._leak_rate * up * dt)
        for i in np.flatnonzero(self._leak >= 1.0):
            self._fail(int(i), "leaking_valve", ts, events)

    def _clear_developing(self, i: int) -> None:
        if i < self.n_zones:
            self._leak[i] = self._leak_rate[i] = 0.0
            self._q[i] = self._fan[i] = 0.0
        else:
            self.chiller.repaired()

    def _clear_all(self, i: int) -> None:
        self._clear_developing(i)
        if i < self.n_zones:
            self._stuck[i] = np.nan
            self._offset[i] = self._drift[i] = 0.0

    # -- commands ---------------------------------------------------------------------------------------------

    def command(self, device: str, name: str, args: Mapping[str, float]) -> tuple[str, str]:
        status, detail = self._apply(device, name, args)
        self._log_action(device, name, args, status)
        if status == "done" and name == "schedule_maintenance":
            for record, _ in self._devices[self._index[device]].active:
                record.caught = True
        return status, detail

    def _apply(self, device: str, name: str, args: Mapping[str, float]) -> tuple[str, str]:
        i = self._index.get(device)
        if i is None:
            return "rejected", f"unknown device {device!r}"
        commands = AHU_COMMANDS if i < self.n_zones else CHILLER_COMMANDS
        spec = next((c for c in commands if c.name == name), None)
        if spec is None:
            return "rejected", f"unknown command {name!r} for a {self._devices[i].asset_type}"
        broken = spec.check_args(args)
        if broken is not None:
            return "rejected", broken
        if self._state[i] == FAILED:
            return "rejected", "device has failed and is under repair"
        if name == "schedule_maintenance":
            return self._schedule_maintenance(i, float(args["within_h"]))
        if name == "set_setpoint":
            self._setpoint[i] = float(args["setpoint"])
            return "done", f"setpoint {self._setpoint[i]:.1f} degC"
        if name == "set_fan_speed":
            self._fan_cap[i] = float(args["fraction"])
            return "done", f"fan speed at most {self._fan_cap[i]:.2f}"
        if name == "set_economizer":
            if args["on"] not in (0, 1):
                return "rejected", f"on={args['on']} must be 0 or 1"
            self._economizer[i] = bool(args["on"])
            return "done", f"economizer {'on' if self._economizer[i] else 'off'}"
        self.chiller.setpoint_c = float(args["setpoint"])  # set_chw_setpoint, the chiller's only other command
        return "done", f"chilled water at {self.chiller.setpoint_c:.1f} degC"

    # -- load flexibility -------------------------------------------------------------------------------------

    def power_kw(self) -> float:
        """The building's electric power over the last step, kW."""
        return float(self._power.sum())

    def device_power_kw(self) -> dict[str, float]:
        return {d: float(p) for d, p in zip(self.devices, self._power, strict=True)}

    def _zones(self, devices: Iterable[str] | None) -> np.ndarray[Any, np.dtype[np.int64]]:
        if devices is None:
            return np.arange(self.n_zones)
        idx = [self._index.get(d, -1) for d in devices]
        bad = [d for d, i in zip(devices, idx, strict=True) if not 0 <= i < self.n_zones]
        if bad:
            raise ValueError(f"not air handlers of this building: {', '.join(map(str, bad))}")
        return np.array(idx, dtype=np.int64)

    def setpoint_shift(self, delta_c: float, devices: Iterable[str] | None = None) -> ShiftEstimate:
        """What moving the zones' setpoints by `delta_c` now would do to the electric power: at once, for how long,
        the energy of the move and the steady change (see `edgeloop.sim.building.flex`). Zones not being
        conditioned (out of hours, within the deadband) are not affected."""
        idx = self._zones(None if devices is None else list(devices))
        conductance = 1.0 / self._r[idx] + self._oa[idx] * self._damper[idx] * self._fan[idx]
        heat_max = 0.6 * self._coil[idx] * self._fan_cap[idx]
        cop = self.chiller.cop(self.weather.outdoor_c(self.now)) if self.chiller.on else self.chiller.cop_nominal
        cool_max = self._cool_capacity()[idx]
        fans = Fans(self._fan_kw()[idx], self._coil[idx], self._fan_cap[idx])
        estimate = shift_estimate(
            self._q[idx], conductance, self._c[idx], cool_max, heat_max, fans, delta_c, cop, HEAT_COP
        )
        others = np.ones(self.n_zones, dtype=bool)
        others[idx] = False
        if (
            delta_c > 0 and self.chiller.on and not (self._q[others] > 0).any()
        ):  # every coil pauses: so does the chiller
            return replace(estimate, immediate_kw=estimate.immediate_kw - AUX_SHARE * self.chiller.capacity_kw)
        return estimate

    def setpoint_shift_kw(self, delta_c: float, devices: Iterable[str] | None = None) -> float:
        """The steady change of electric power (kW) once the zones sit at setpoints moved by `delta_c`."""
        return self.setpoint_shift(delta_c, devices).steady_kw

    def shift_setpoints(self, delta_c: float, devices: Iterable[str] | None = None) -> dict[str, tuple[str, str]]:
        """Move the zones' setpoints by `delta_c` (degC) through `set_setpoint`: each zone's status and detail."""
        idx = self._zones(None if devices is None else list(devices))
        return {
            self.devices[i]: self.command(
                self.devices[i], "set_setpoint", {"setpoint": float(self._setpoint[i] + delta_c)}
            )
            for i in idx.tolist()
        }

    def setpoints(self) -> dict[str, float]:
        return {self.devices[i]: float(self._setpoint[i]) for i in range(self.n_zones)}

    def zone_temps(self) -> dict[str, float]:
        """The zones' true temperatures (a drifting sensor reads otherwise)."""
        return {self.devices[i]: float(self._temp[i]) for i in range(self.n_zones)}

    def comfort_degree_hours(self) -> dict[str, float]:
        """Per air handler, degree-hours outside `comfort_band` while people were in, since the start."""
        total = self._total_comfort_dh + self._comfort_dh
        return {self.devices[i]: float(total[i]) for i in range(self.n_zones)}

    # -- accounting -------------------------------------------------------------------------------------------

    def close_day(self) -> list[tuple[str, dict[str, Any]]]:
        """The `usage` events of the day so far (called when a day ends, and by whoever ends a run)."""
        events = []
        for i, d in enumerate(self._devices):
            energy = round(float(self._energy_kwh[i]), 3)
            usage: dict[str, Any] = {"kind": "usage", "day": self._day, "energy_kwh": energy, "slowdown_h": 0.0}
            if i < self.n_zones:
                usage["comfort_degree_h"] = round(float(self._comfort_dh[i]), 4)
            events.append((d.id, usage))
        self._total_energy_kwh += self._energy_kwh
        self._total_comfort_dh += self._comfort_dh
        self._energy_kwh[:] = 0.0
        self._comfort_dh[:] = 0.0
        return events

    def ground_truth(self) -> dict[str, Any]:
        energy = self._total_energy_kwh + self._energy_kwh
        comfort = self.comfort_degree_hours()
        return {
            **self._truth(energy),
            "comfort_degree_h": comfort,
            "chiller_starts": self.chiller.starts,
            "summary": {
                **self._fault_summary(),
                "energy_kwh": round(float(energy.sum()), 3),
                "comfort_degree_h": round(sum(comfort.values()), 3),
            },
        }
