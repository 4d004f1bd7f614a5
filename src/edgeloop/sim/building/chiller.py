"""The building's chiller: when it runs, how cold its water is, what it draws, and how short cycling wears it."""

from __future__ import annotations

import math
from dataclasses import dataclass

MIN_RUN_S = 600.0  # a healthy chiller runs and rests at least this long
CHW_WARM_C = 14.0  # where the chilled water drifts when the chiller is off
CHW_TAU_S = 300.0
START_KWH = 0.3  # a compressor start's inrush and pull-down
AUX_SHARE = 0.02  # pumps and controls while running, as a share of capacity (kW per kW)


def chiller_cop(nominal: float, part_load: float, outdoor_c: float, chw_setpoint_c: float) -> float:
    """A chiller's coefficient of performance: worse at low part load, on hot days and with colder water.

    >>> chiller_cop(5.0, 1.0, 25.0, 7.0)
    5.0
    >>> chiller_cop(5.0, 0.3, 35.0, 7.0) < chiller_cop(5.0, 1.0, 25.0, 9.0)
    True
    """
    plr = min(1.0, max(0.05, part_load))
    cop = nominal * (1.0 - 0.35 * (1.0 - plr) ** 2) * (1.0 - 0.02 * (outdoor_c - 25.0))
    return float(max(1.5, cop * (1.0 + 0.03 * (chw_setpoint_c - 7.0))))


@dataclass(slots=True)
class Chiller:
    """One chiller. It starts when the coils call for cooling and stops when they stop, each after `MIN_RUN_S`;
    while `cycle_s` is set (the short-cycling fault) it trips every `cycle_s / 2` and restarts as soon as it may.

    >>> chiller = Chiller(capacity_kw=300.0, cop_nominal=5.0)
    >>> chiller.switch(ts=0.0, demand_kw=120.0)
    True
    >>> round(chiller.settle(dt_s=15.0, demand_kw=120.0, load_kw=120.0, outdoor_c=25.0), 1)  # kW electric
    33.5
    """

    capacity_kw: float
    cop_nominal: float
    setpoint_c: float = 7.0
    chw_c: float = 7.0
    on: bool = False
    switched_at: float = -math.inf
    cycle_s: float = 0.0
    wear: float = 0.0  # short-cycling damage; the compressor fails at 1
    wear_per_start: float = 0.0
    starts: int = 0
    load_kw: float = 0.0
    power_kw: float = 0.0

    def switch(self, ts: float, demand_kw: float) -> bool:
        """Start or stop for this step; True when it started (a start costs `START_KWH` and wear)."""
        since = ts - self.switched_at
        rest = self.cycle_s / 2 if self.cycle_s else MIN_RUN_S
        if self.on and (since >= rest if self.cycle_s else (demand_kw <= 0 and since >= MIN_RUN_S)):
            self.on, self.switched_at = False, ts
        elif not self.on and demand_kw > 0 and since >= rest:
            self.on, self.switched_at = True, ts
            self.starts += 1
            self.wear += self.wear_per_start
            return True
        return False

    def capacity_factor(self) -> float:
        """What share of their rated cooling the coils get from water this cold (0 when it is off)."""
        return min(1.3, max(0.0, (18.0 - self.chw_c) / 11.0)) if self.on else 0.0

    def cop(self, outdoor_c: float) -> float:
        return chiller_cop(self.cop_nominal, self.load_kw / self.capacity_kw, outdoor_c, self.setpoint_c)

    def settle(self, dt_s: float, demand_kw: float, load_kw: float, outdoor_c: float) -> float:
        """Take this step's load: the water temperature moves, and the electric power (kW) is returned."""
        overload = max(0.0, demand_kw / self.capacity_kw - 1.0)
        target = self.setpoint_c + 4.0 * overload if self.on else CHW_WARM_C
        self.chw_c += (target - self.chw_c) * (1.0 - math.exp(-dt_s / CHW_TAU_S))
        self.load_kw = load_kw if self.on else 0.0
        self.power_kw = self.load_kw / self.cop(outdoor_c) + AUX_SHARE * self.capacity_kw if self.on else 0.0
        return self.power_kw

    def start_cycling(self, cycle_s: float, hours_to_failure: float) -> None:
        self.cycle_s = cycle_s
        self.wear_per_start = cycle_s / (hours_to_failure * 3600.0)

    def repaired(self) -> None:
        self.cycle_s = self.wear = self.wear_per_start = 0.0
        self.on = False
