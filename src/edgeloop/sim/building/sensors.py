"""What the building's sensors read: the zones' and the chiller's true state, a sensor's drift and noise,
clipped to each metric's declared range (`devices.SPEC`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from edgeloop.sim.building.chiller import Chiller
from edgeloop.sim.building.devices import SPEC

Array = np.ndarray[Any, np.dtype[np.float64]]


@dataclass(frozen=True, slots=True)
class ZoneState:
    """The running air handlers' zones, one entry each."""

    temp: Array  # true zone temperature, degC
    offset: Array  # sensor drift, K
    q: Array  # coil output, kW (positive: cooling)
    fan: Array  # fan speed, 0..1
    damper: Array  # outdoor-air damper, 0..1
    coil: Array  # rated coil output, kW
    fan_cap: Array  # the fan's capacity left (a failing fan is below 1)
    leak: Array  # a passing valve's leak, 0..1
    power: Array  # electric power, kW


def ahu_readings(zone: ZoneState, outdoor: float, z: Array) -> dict[str, list[float]]:
    """Each air-handler metric's readings, in zone order; `z`: standard normal noise, a row per zone."""
    fan = zone.fan
    mixed = zone.temp + zone.damper * (outdoor - zone.temp) * (fan > 0)
    capacity = np.maximum(zone.coil * zone.fan_cap * (1.0 - 0.6 * zone.leak), 1e-6)
    values = {
        "zone_temp": zone.temp + zone.offset + 0.05 * z[:, 0],
        "return_temp": zone.temp + 0.4 + 0.1 * z[:, 1],
        "supply_temp": mixed - zone.q / np.maximum(zone.coil / 12.0 * fan, 1e-6) * (fan > 0) + 0.2 * z[:, 2],
        "fan_speed": fan * (1 + 0.005 * z[:, 3]),
        "damper_pos": zone.damper + 0.005 * z[:, 4],
        "valve_pos": np.maximum(zone.q, 0.0) / capacity + 0.005 * z[:, 5],
        "power_kw": zone.power * (1 + 0.01 * z[:, 3]),
    }
    return {m: np.round(np.clip(v, SPEC[m].low, SPEC[m].high), 4).tolist() for m, v in values.items()}


def chiller_readings(chiller: Chiller, power: float, z: Array) -> dict[str, float]:
    """The chiller's readings; `z`: its row of standard normal noise."""
    values = {
        "chw_supply_temp": chiller.chw_c + 0.05 * z[0],
        "load_kw": chiller.load_kw * (1 + 0.01 * z[1]),
        "power_kw": power * (1 + 0.01 * z[2]),
        "cop": chiller.load_kw / power if power > 0 else 0.0,
        "running": float(chiller.on),
    }
    return {m: round(float(np.clip(v, SPEC[m].low, SPEC[m].high)), 4) for m, v in values.items()}
