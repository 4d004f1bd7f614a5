"""The zones' heat balance and their air handlers' control, vectorized over zones (pure functions, no state).

Each zone is a first-order RC model: `C dT/dt = a (T_out - T) + G - Q`, where `C` is the zone's thermal capacity
(kWh/K), `a` its conductance to outdoors (1/R of the envelope plus the outdoor air the damper lets in, kW/K), `G`
the gains of people, equipment and sun (kW) and `Q` the coil's cooling (kW, negative: heating). The coil is held
by a proportional controller on the *measured* temperature with gain `K`: cooling above the cooling setpoint,
heating below the heating setpoint, nothing in between, within the coil's capacity. Within a step the linear
equation is solved exactly (an exponential), so the model is stable at any sampling interval.
"""

from __future__ import annotations

from typing import Any

import numpy as np

Array = np.ndarray[Any, np.dtype[np.float64]]
Mask = np.ndarray[Any, np.dtype[np.bool_]]
GAIN_KW_PER_K = 150.0  # the controller's gain: a 0.2 K offset at a 30 kW load


def zone_step(
    temp: Array,
    sensor_offset: Array,
    outdoor_c: float,
    gains_kw: Array,
    conductance: Array,
    capacity_kwh: Array,
    sp_cool: Array,
    sp_heat: Array,
    active: Mask,
    cool_max_kw: Array,
    heat_max_kw: Array,
    dt_s: float,
) -> tuple[Array, Array]:
    """The zones' temperatures after `dt_s` and the coils' mean cooling over the step (kW, negative: heating).

    >>> one = np.ones(1)
    >>> t, q = zone_step(26 * one, 0 * one, 30.0, 10 * one, one, 10 * one, 23 * one, 21 * one,
    ...                  np.ones(1, dtype=bool), 40 * one, 20 * one, 3600.0)
    >>> round(float(t[0]), 2), round(float(q[0]), 1)  # pulled down from 26 to near 23 degC at full capacity
    (23.11, 40.0)
    """
    measured = temp + sensor_offset
    cooling = active & (measured > sp_cool)
    heating = active & (measured < sp_heat)
    sp = np.where(cooling, sp_cool, sp_heat)
    hours = dt_s / 3600.0
    # the controller holding the setpoint, solved exactly
    k = GAIN_KW_PER_K
    eq = (conductance * outdoor_c + gains_kw + k * (sp - sensor_offset)) / (conductance + k)
    held = eq + (temp - eq) * np.exp(-hours * (conductance + k) / capacity_kwh)
    q_start, q_end = k * (measured - sp), k * (held + sensor_offset - sp)
    low = np.where(cooling, 0.0, -heat_max_kw)
    high = np.where(cooling, cool_max_kw, 0.0)
    within = (cooling | heating) & (q_end <= high) & (q_end >= low)
    # otherwise the coil gives a fixed output (saturated, or off) and the zone drifts toward its own balance
    q_fixed = np.where(cooling | heating, np.clip(q_start, low, high), 0.0)
    free_eq = outdoor_c + (gains_kw - q_fixed) / conductance
    drifted = free_eq + (temp - free_eq) * np.exp(-hours * conductance / capacity_kwh)
    new_temp = np.where(within, held, drifted)
    # the mean output over the step, from the zone's heat balance (exact for a short step)
    balance = conductance * (outdoor_c - 0.5 * (temp + held)) + gains_kw - capacity_kwh * (held - temp) / hours
    q = np.where(within, np.clip(balance, low, high), q_fixed)
    return new_temp, q
