"""What moving the zones' setpoints does to the building's electric power: the estimate a power-cap coordinator
plans with (pre-cooling before a peak, raising setpoints during it). Pure functions over the zones' arrays.

Moving a conditioned zone's setpoint by `delta` (K) has two effects:
- *at once*, its coil pauses (a cooled zone whose setpoint rises, a heated zone whose setpoint falls) or runs
  flat out (the other way) until the zone's temperature has moved by `delta`: that takes `C |delta| / rate` hours,
  `C` the zone's thermal capacity (kWh/K) and `rate` the coil's output (pause) or headroom (flat out), in kW;
- *once there*, the coil's steady output changes by `-a delta`, `a` the zone's conductance to outdoors (kW/K).
Cooling costs electric power through the chiller's COP, heating through the heat pump's; the fans follow the coils
(speed `0.3 + 0.7 |coil| / rated`, power as speed cubed). A zone in its deadband or out of hours counts as not
conditioned: a move that would wake its coil up is not in the estimate.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

Array = np.ndarray[Any, np.dtype[np.float64]]


@dataclass(frozen=True, slots=True)
class ShiftEstimate:
    """The electric effect of a setpoint move (kW and kWh; negative: less power, energy saved)."""

    immediate_kw: float  # change of power right after the move, while the zones move to their new setpoints
    duration_h: float  # how long that lasts (the slowest zone; inf: a coil without headroom never gets there)
    transient_kwh: float  # energy the move itself saves or costs: the heat stored in or taken out of the zones
    steady_kw: float  # change of power once the zones sit at their new setpoints


@dataclass(frozen=True, slots=True)
class Fans:
    """The zones' fans: rated power (kW), the coils' rated output (kW) and the highest speed allowed."""

    rated_kw: Array
    coil_kw: Array
    cap: Array

    def power(self, coil_out: Array) -> Array:
        speed = np.clip(0.3 + 0.7 * np.abs(coil_out) / self.coil_kw, 0.3, self.cap)
        return np.asarray(self.rated_kw * speed**3, dtype=np.float64)


def shift_estimate(
    coil_kw: Array,
    conductance: Array,
    capacity_kwh: Array,
    cool_max_kw: Array,
    heat_max_kw: Array,
    fans: Fans,
    delta_c: float,
    cop: float,
    heat_cop: float,
) -> ShiftEstimate:
    """`coil_kw`: each zone's coil output now (cooling > 0, heating < 0, 0: not conditioned, so not affected).

    >>> one = np.ones(1)
    >>> fans = Fans(0 * one, 40 * one, one)  # fans that draw nothing, to keep the figures round
    >>> e = shift_estimate(20 * one, one, 10 * one, 40 * one, 20 * one, fans, delta_c=2.0, cop=4.0, heat_cop=3.0)
    >>> e.immediate_kw, e.duration_h, e.transient_kwh, e.steady_kw  # a cooled zone, setpoint up 2 K
    (-5.0, 1.0, -5.0, -0.5)
    >>> shift_estimate(20 * one, one, 10 * one, 40 * one, 20 * one, fans, -2.0, 4.0, 3.0).immediate_kw  # pre-cooling
    5.0
    """
    cooling, heating = coil_kw > 0, coil_kw < 0
    moved = coil_kw - conductance * delta_c
    cooled = np.clip(moved, 0.0, np.maximum(cool_max_kw, coil_kw)) - coil_kw
    heated = np.clip(moved, -heat_max_kw, 0.0) - coil_kw
    steady_coil = coil_kw + np.where(cooling, cooled, np.where(heating, heated, 0.0))
    now_fans = fans.power(coil_kw)
    steady_fans = float(((fans.power(steady_coil) - now_fans) * (cooling | heating)).sum())
    steady = float((cooled * cooling).sum() / cop - (heated * heating).sum() / heat_cop) + steady_fans
    stored = capacity_kwh * delta_c  # thermal kWh the zones gain (a rise) or lose
    transient = float(-(stored * cooling).sum() / cop + (stored * heating).sum() / heat_cop)
    rising = delta_c > 0
    # the coil's change of output while the zone moves: it pauses, or runs to its limit
    jump_cool = np.where(rising, -coil_kw, np.maximum(cool_max_kw - coil_kw, 0.0))
    jump_heat = np.where(rising, np.maximum(heat_max_kw + coil_kw, 0.0), coil_kw)  # heat output = -coil_kw
    moving_coil = coil_kw + np.where(cooling, jump_cool, np.where(heating, -jump_heat, 0.0))
    moving_fans = float(((fans.power(moving_coil) - now_fans) * (cooling | heating)).sum())
    immediate = float((jump_cool * cooling).sum() / cop + (jump_heat * heating).sum() / heat_cop) + moving_fans
    rate = np.abs(np.where(cooling, jump_cool, np.where(heating, jump_heat, 0.0)))
    conditioned = cooling | heating
    if delta_c == 0 or not conditioned.any():
        return ShiftEstimate(0.0, 0.0, 0.0, 0.0)
    with np.errstate(divide="ignore"):
        hours = np.where(rate > 0, capacity_kwh * abs(delta_c) / rate, math.inf)
    return ShiftEstimate(immediate, float(hours[conditioned].max()), transient, steady)
