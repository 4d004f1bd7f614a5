"""What drives a building from outside: outdoor temperature, sun and people, as pure functions of time.

The weather of a day depends only on the seed and the day, never on what the building or an agent does, so a run
with an agent and one without see the same days.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

HOUR = 3600.0
DAY = 86_400.0
OCCUPIED_FROM_H, OCCUPIED_TO_H = 8.0, 18.0
PRESTART_H = 2.0  # the air handlers start this long before people arrive
RAMP_H = 1.0  # people arrive and leave over an hour
COOLEST_H, WARMEST_H = 5.0, 15.0


def hour_of_day(ts: float) -> float:
    return (ts % DAY) / HOUR


def is_weekday(ts: float) -> bool:
    """Monday to Friday (1970-01-01 was a Thursday).

    >>> is_weekday(0.0), is_weekday(2 * DAY)  # Thursday, Saturday
    (True, False)
    """
    return (int(ts // DAY) + 3) % 7 < 5


def occupancy(ts: float) -> float:
    """The fraction of the building's people in, 0..1: weekdays 8:00-18:00 with an hour's ramp either side.

    >>> occupancy(12 * HOUR), occupancy(3 * HOUR), occupancy(2 * DAY + 12 * HOUR)
    (1.0, 0.0, 0.0)
    """
    if not is_weekday(ts):
        return 0.0
    h = hour_of_day(ts)
    rise = (h - (OCCUPIED_FROM_H - RAMP_H)) / RAMP_H
    fall = (OCCUPIED_TO_H - h) / RAMP_H
    return float(min(1.0, max(0.0, min(rise, fall + 1.0))))


def hvac_occupied(ts: float) -> bool:
    """Whether the air handlers run in occupied mode (holding the setpoint): pre-start to the end of the day."""
    h = hour_of_day(ts)
    return is_weekday(ts) and OCCUPIED_FROM_H - PRESTART_H <= h < OCCUPIED_TO_H + RAMP_H


def solar(ts: float) -> float:
    """The sun's share of its noon peak, 0..1, between 6:00 and 18:00 (a clear-sky bell)."""
    h = hour_of_day(ts)
    return max(0.0, math.sin(math.pi * (h - 6.0) / 12.0)) if 6.0 < h < 18.0 else 0.0


@dataclass(slots=True)
class Weather:
    """Outdoor temperature: a daily swing around `mean_c` (coolest at 5:00, warmest at 15:00), a seeded offset per
    day and a slow seeded wobble within the day.

    >>> w = Weather(mean_c=26.0, swing_c=6.0, seed=1)
    >>> w.outdoor_c(15 * HOUR) > w.outdoor_c(5 * HOUR)
    True
    >>> w.outdoor_c(15 * HOUR) == Weather(26.0, 6.0, seed=1).outdoor_c(15 * HOUR)
    True
    """

    mean_c: float = 26.0
    swing_c: float = 6.0
    seed: int = 0
    day_sigma_c: float = 1.5
    _days: dict[int, tuple[float, float, float]] = field(default_factory=dict)

    def _day(self, day: int) -> tuple[float, float, float]:
        if day not in self._days:
            rng = np.random.default_rng([self.seed, 7, day])
            offset, amp, phase = rng.normal(0.0, self.day_sigma_c), rng.uniform(0.2, 0.6), rng.uniform(0, 2 * math.pi)
            self._days[day] = (float(offset), float(amp), float(phase))
            if len(self._days) > 64:
                del self._days[min(self._days)]
        return self._days[day]

    def outdoor_c(self, ts: float) -> float:
        offset, amp, phase = self._day(int(ts // DAY))
        h = hour_of_day(ts)
        if COOLEST_H <= h < WARMEST_H:
            daily = -math.cos(math.pi * (h - COOLEST_H) / (WARMEST_H - COOLEST_H))
        else:
            daily = math.cos(math.pi * ((h - WARMEST_H) % 24.0) / (24.0 - WARMEST_H + COOLEST_H))
        wobble = amp * math.sin(2 * math.pi * h / 3.0 + phase)
        return self.mean_c + offset + 0.5 * self.swing_c * daily + wobble
