"""A false-alarm budget an operator understands, turned into the alarm stage's threshold and sustain.

`agent.false_alarms_per_device_day` = B. On calibrated scores (`edgeloop.learn.calibrated`), a metric of a
device behaving normally scores >= τ in a fraction 1 - τ of its samples. A device sample is anomalous when any
of its M metrics is, so at most M (1 - τ) of the device's samples are, N = 86,400 / `sample_s` a day. Every
alarm begins with an anomalous sample, so the device raises at most N · M · (1 - τ) false alarms a day, and

    τ = 1 - B · sample_s / (86,400 · M)

keeps it within the budget whatever the scores' correlation in time and between metrics. The sustain is 2:
one sample alone never alarms (a glitch), and the bound still holds. Where anomalous samples come in runs, as
they do on autocorrelated metrics, the realized rate is below B by about the mean run length; `edgeloop bench
detect` prints the realized rate next to the budget.

>>> round(budget_threshold(1.0, 15.0, 4), 6)
0.999957
>>> BUDGET_SUSTAIN
2
"""

from __future__ import annotations

DAY_S = 86_400.0
#: consecutive anomalous samples before an alarm under a budget
BUDGET_SUSTAIN = 2
#: thresholds stay within the range a calibration with a few thousand points can place (a tail of 1e-7)
HIGHEST = 1.0 - 1e-7


def budget_threshold(per_device_day: float, sample_s: float, metrics: int) -> float:
    """The calibrated threshold that keeps a device of `metrics` metrics sampled every `sample_s` within
    `per_device_day` false alarms a day."""
    if per_device_day <= 0 or sample_s <= 0:
        raise ValueError("the budget and the sampling period are positive")
    tail = per_device_day * sample_s / (DAY_S * max(metrics, 1))
    return min(max(1.0 - tail, 0.5), HIGHEST)
