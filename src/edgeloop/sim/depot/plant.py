"""An EV depot: buses come back in the evening, charge overnight and must leave charged in the morning.

Each charger has one bay and one bus (a bus or delivery-van fleet parks at its own bay). Per day and bay, a seeded
schedule draws the arrival (17:00-21:00 UTC), the departure next morning (05:00-07:30), the battery (200-350
kWh), the state of charge on arrival (20-50%) and the target (90%). A connected bus takes what its charger gives,
up to the charger's rating, at 95% efficiency.

Chargers accept `set_power` (kW, within [0, max_kw]): a power limit that holds for `hold_s` (the meta's
`failsafe_s`) and then falls back to `failsafe_kw` until the next command (the fail-safe of EEBus LPC or an OCPP
charging profile's `validTo`). A charger never commanded charges at full power: the depot with no agent.

At the departure a `departure` event says whether the bus left at its target; a bus that left short is also a
`failure` (fault `missed_deadline`, `downtime_s` the time its charger would still have needed at full power),
which the ROI ledger books under the charger's economics. Every charger reports its day's energy in a `usage`
event when the UTC day ends.

>>> plant = DepotPlant(n_chargers=3, seed=1, start_ts=0.0)
>>> plant.devices
['charger-01', 'charger-02', 'charger-03']
>>> step = plant.step()
>>> sorted(step.telemetry[0][1])
['connected', 'deadline_in_h', 'energy_needed_kwh', 'power_kw', 'soc']
>>> plant.command("charger-01", "set_power", {"kw": 500.0})
('rejected', 'kw=500.0 outside [0.0, 50.0]')
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from edgeloop.model import ArgSpec, CommandSpec, DeviceMeta, MetricSpec
from edgeloop.sim.factory.plant import StepResult

HOUR = 3600.0
DAY = 86_400.0
EFFICIENCY = 0.95
SPEC = (
    MetricSpec("power_kw", "kW", 0.0, 400.0),
    MetricSpec("soc", "fraction", 0.0, 1.0),
    MetricSpec("connected", "bool", 0.0, 1.0),
    MetricSpec("energy_needed_kwh", "kWh", 0.0, 1000.0),
    MetricSpec("deadline_in_h", "h", 0.0, 48.0),
)


@dataclass(frozen=True, slots=True)
class Session:
    """A connected bus as its charger sees it: what it still needs, by when, and how fast it can get it."""

    charger: str
    energy_needed_kwh: float
    deadline_ts: float
    max_kw: float


class DepotPlant:
    def __init__(
        self,
        n_chargers: int = 12,
        seed: int = 0,
        start_ts: float = 1_700_000_000.0,
        interval_s: float = 15.0,
        site: str = "depot",
        max_kw: float = 50.0,
        failsafe_kw: float = 6.0,
        hold_s: float = 60.0,
    ) -> None:
        if n_chargers < 1 or max_kw <= 0 or not 0 <= failsafe_kw <= max_kw:
            raise ValueError("need n_chargers >= 1, max_kw > 0 and 0 <= failsafe_kw <= max_kw")
        self.site = site
        self.seed = seed
        self.start_ts = start_ts
        self.interval_s = interval_s
        self.now = start_ts
        self.max_kw = max_kw
        self.failsafe_kw = failsafe_kw
        self.hold_s = hold_s
        self.devices = [f"charger-{i + 1:02d}" for i in range(n_chargers)]
        self._index = {d: i for i, d in enumerate(self.devices)}
        n = n_chargers
        self._limit = np.full(n, max_kw)
        self._limit_until = np.full(n, np.inf)  # never commanded: no fail-safe, full power
        self._connected = np.zeros(n, dtype=bool)
        self._capacity = np.zeros(n)
        self._soc = np.zeros(n)
        self._target = np.zeros(n)
        self._arrive = np.full(n, np.inf)
        self._depart = np.full(n, np.inf)
        self._power = np.zeros(n)
        self._energy_kwh = np.zeros(n)
        self._total_energy_kwh = np.zeros(n)
        self._departures: list[dict[str, Any]] = []
        self._actions: list[dict[str, Any]] = []
        self._day = int(start_ts // DAY)
        for i in range(n):
            self._next_bus(i, self._day - 1, charged=True)

    def metas(self) -> list[DeviceMeta]:
        commands = (CommandSpec("set_power", (ArgSpec("kw", 0.0, self.max_kw, "kW"),), "limit the charging power"),)
        extra = {"simulated": True, "max_kw": self.max_kw, "failsafe_kw": self.failsafe_kw, "failsafe_s": self.hold_s}
        return [DeviceMeta(d, "charger", SPEC, commands, extra) for d in self.devices]

    # -- schedule ---------------------------------------------------------------------------------------------

    def _next_bus(self, i: int, day: int, charged: bool = False) -> None:
        """Draw bay `i`'s bus of day `day` (arriving that evening); `charged`: one already there at the start."""
        rng = np.random.default_rng([self.seed, i, day + 1_000_000])
        arrive, depart = rng.uniform(17, 21), rng.uniform(5, 7.5)
        capacity, soc = rng.uniform(200, 350), rng.uniform(0.2, 0.5)
        self._arrive[i] = day * DAY + arrive * HOUR
        self._depart[i] = (day + 1) * DAY + depart * HOUR
        self._capacity[i] = capacity
        self._soc[i] = 0.9 if charged else soc
        self._target[i] = 0.9

    # -- time -------------------------------------------------------------------------------------------------

    def step(self) -> StepResult:
        dt = self.interval_s
        self.now += dt
        ts = self.now
        events: list[tuple[str, dict[str, Any]]] = []
        if int(ts // DAY) != self._day:
            events += self.close_day()
            self._day = int(ts // DAY)
        arrived = ~self._connected & (self._arrive <= ts)
        self._connected |= arrived
        self._arrive = np.where(arrived, np.inf, self._arrive)
        self._depart_due(ts, events)
        limit = np.where(self._limit_until > ts - dt, self._limit, self.failsafe_kw)
        room = np.maximum(0.0, self._target - self._soc) * self._capacity / EFFICIENCY / (dt / HOUR)
        self._power = np.where(self._connected, np.minimum(limit, room), 0.0)
        self._soc += self._power * EFFICIENCY * dt / HOUR / np.maximum(self._capacity, 1.0)
        self._energy_kwh += self._power * dt / HOUR
        return StepResult(ts, self._readings(ts), events)

    def _depart_due(self, ts: float, events: list[tuple[str, dict[str, Any]]]) -> None:
        for i in np.flatnonzero(self._connected & (self._depart <= ts)).tolist():
            short_kwh = max(0.0, float(self._target[i] - self._soc[i]) * float(self._capacity[i]))
            missed = short_kwh > 0.5
            device = self.devices[i]
            record = {"kind": "departure", "soc": round(float(self._soc[i]), 4), "target_soc": float(self._target[i]),
                      "missed": missed, "shortfall_kwh": round(short_kwh, 2)}  # fmt: skip
            events.append((device, record))
            self._departures.append({"device": device, "ts": ts, **record})
            if missed:
                downtime_s = short_kwh / EFFICIENCY / self.max_kw * HOUR
                events.append((device, {"kind": "failure", "fault": "missed_deadline", "downtime_s": downtime_s}))
            self._connected[i] = False
            self._next_bus(i, int(ts // DAY))

    def _readings(self, ts: float) -> list[tuple[str, dict[str, float]]]:
        needed = np.where(self._connected, np.maximum(0.0, self._target - self._soc) * self._capacity, 0.0)
        left = np.where(self._connected, np.maximum(0.0, self._depart - ts) / HOUR, 0.0)
        return [
            (d, {"power_kw": round(float(self._power[i]), 3), "soc": round(float(self._soc[i]), 4),
                 "connected": float(self._connected[i]), "energy_needed_kwh": round(float(needed[i]), 3),
                 "deadline_in_h": round(float(left[i]), 4)})
            for i, d in enumerate(self.devices)
        ]  # fmt: skip

    def power_kw(self) -> float:
        """The depot's draw over the last step, kW."""
        return float(self._power.sum())

    def sessions(self) -> list[Session]:
        """The connected buses that still need energy (grid side, kWh), for a charging scheduler."""
        need = np.maximum(0.0, self._target - self._soc) * self._capacity / EFFICIENCY
        return [
            Session(self.devices[i], float(need[i]), float(self._depart[i]), self.max_kw)
            for i in np.flatnonzero(self._connected & (need > 1e-6)).tolist()
        ]

    # -- commands ---------------------------------------------------------------------------------------------

    def command(self, device: str, name: str, args: Mapping[str, float]) -> tuple[str, str]:
        status, detail = self._apply(device, name, args)
        self._actions.append({"device": device, "ts": self.now, "name": name, "args": dict(args), "status": status})
        return status, detail

    def _apply(self, device: str, name: str, args: Mapping[str, float]) -> tuple[str, str]:
        i = self._index.get(device)
        if i is None:
            return "rejected", f"unknown device {device!r}"
        spec = self.metas()[0].commands[0]
        if name != spec.name:
            return "rejected", f"unknown command {name!r}"
        broken = spec.check_args(args)
        if broken is not None:
            return "rejected", broken
        self._limit[i] = float(args["kw"])
        self._limit_until[i] = self.now + self.hold_s
        return "done", f"limit {self._limit[i]:g} kW for {self.hold_s:g} s"

    def close_day(self) -> list[tuple[str, dict[str, Any]]]:
        """The `usage` events of the day so far (called when a day ends, and by whoever ends a run)."""
        events = [
            (d, {"kind": "usage", "day": self._day, "energy_kwh": round(float(self._energy_kwh[i]), 3)})
            for i, d in enumerate(self.devices)
        ]
        self._total_energy_kwh += self._energy_kwh
        self._energy_kwh[:] = 0.0
        return events

    # -- ground truth -----------------------------------------------------------------------------------------

    def ground_truth(self) -> dict[str, Any]:
        missed = [d for d in self._departures if d["missed"]]
        return {
            "site": self.site,
            "seed": self.seed,
            "start_ts": self.start_ts,
            "interval_s": self.interval_s,
            "devices": dict.fromkeys(self.devices, "charger"),
            "departures": self._departures,
            "actions": self._actions,
            "energy_kwh": dict(zip(self.devices, (self._total_energy_kwh + self._energy_kwh).tolist(), strict=True)),
            "summary": {
                "departures": len(self._departures),
                "missed_deadlines": len(missed),
                "shortfall_kwh": round(sum(d["shortfall_kwh"] for d in missed), 2),
            },
        }
