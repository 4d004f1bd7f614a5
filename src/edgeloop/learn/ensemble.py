"""The default detector: several views of each series, one record-tail calibration, a short hold after alarms.

Per point, each *view* gives one statistic (all computed by the other learners of this package):

| view | statistic | memory |
|---|---|---|
| `value` | the value x | long |
| `mean5`, `mean10`, `mean20` | exponentially weighted means of x over about 5, 10, 20 points | long |
| `mean10_recent` | the 10-point mean | short |
| `hour_of_day`, `half_hour_of_day`, `hour_of_week` | `SeasonalProfile` deviation z for those slots | long |
| `cusum` | `Cusum` sums S+ (up) and S- (down) | long |
| `device` | `DeviceMahalanobis` distance of the device's metrics (normal deviate) | long |

Every statistic goes through one `RecordTail` (long memory: `blocks * block` points, short: `blocks *
short_block`), which gives its excess past the recent record high and below the record low, in units of the
record range. Each view weighs its two excesses, and the surprise of the point is the largest:

    u = max over views of max(w_up * excess_up, w_down * excess_down)

so u = 1 is the detection level. The weights were tuned on NAB (`edgeloop bench nab`, docs/learners.md); a view
with weight 0 is not computed (the `cusum` view is one: on NAB it added nothing to the short-mean records).

After an alarm (u >= `hold_level`, a tenth of the detection level, so even a modest record counts) a series
holds for `hold` points: a later point alarms only if its surprise is at least `hold_ratio` times the alarm's,
else its surprise is scaled by `hold_factor`: one event, one alarm, as an operator wants it, while a clearly
larger event still gets through. The score is `likelihood(u)`, 0.9 at the detection level, and 0 during the
first `warmup` points of a series.

For devices with several metrics, `set_groups` (or `groups`) tells the `device` view which keys belong together
(see `DeviceMahalanobis`); points of one device are then taken in order.

>>> import numpy as np
>>> rng = np.random.default_rng(5)
>>> ts = 1_420_070_400.0 + 300.0 * np.arange(3000)
>>> x = 20 + 5 * np.sin(2 * np.pi * ts / 86400) + rng.normal(0, 0.5, 3000)
>>> x[2500:2510] += 12                                      # ten points far above anything seen
>>> s = NoveltyEnsemble().score_learn(np.zeros(3000, dtype=np.int64), x, ts)
>>> bool(s[2500] > 0.9), int(np.count_nonzero(s[2500:2510] > 0.9))   # one event, one alarm
(True, 1)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from numpy.typing import ArrayLike

from edgeloop.learn.base import FloatArray, IntArray
from edgeloop.learn.calibrate import RecordTail, likelihood
from edgeloop.learn.cusum import Cusum
from edgeloop.learn.mahalanobis import DeviceMahalanobis
from edgeloop.learn.seasonal import SlotProfiles
from edgeloop.learn.stepwise import StepwiseLearner, grow, grow_rows

#: every view, in the order of the statistics
VIEWS = (
    "value",
    "mean5",
    "mean10",
    "mean20",
    "mean10_recent",
    "hour_of_day",
    "half_hour_of_day",
    "hour_of_week",
    "cusum",
    "device",
)
MEANS = {"mean5": 0.2, "mean10": 0.1, "mean20": 0.05, "mean10_recent": 0.1}
SEASONS = {"hour_of_day": (86400, 3600), "half_hour_of_day": (86400, 1800), "hour_of_week": (604800, 3600)}

#: weights (up, down) per view, tuned on NAB with `edgeloop bench nab`
NAB_WEIGHTS: dict[str, tuple[float, float]] = {
    "value": (40.39, 147.7),
    "mean5": (13.12, 17.19),
    "mean10": (18.37, 0.0),
    "mean20": (6.209, 0.0),
    "mean10_recent": (2.643, 5.09),
    "hour_of_day": (2.765, 0.0),
    "half_hour_of_day": (10.3, 0.0),
    "hour_of_week": (12.42, 0.0),
    "device": (2.235, 0.0),
}


class NoveltyEnsemble(StepwiseLearner):
    """Record-tail ensemble of level, short-mean, seasonal, change-point and device views, with a hold."""

    name = "novelty_ensemble"

    def __init__(
        self,
        weights: Mapping[str, tuple[float, float]] | None = None,
        warmup: int = 150,
        block: int = 1000,
        short_block: int = 150,
        blocks: int = 8,
        hold: int = 60,
        hold_level: float = 0.1,
        hold_ratio: float = 3.0,
        hold_factor: float = 0.0,
        groups: Sequence[int] | None = None,
    ) -> None:
        chosen = dict(NAB_WEIGHTS if weights is None else weights)
        unknown = sorted(set(chosen) - set(VIEWS))
        if unknown:
            raise ValueError(f"unknown views {unknown}; known: {list(VIEWS)}")
        self.weights = chosen
        self.warmup = warmup
        self.block = block
        self.short_block = short_block
        self.blocks = blocks
        self.hold = hold
        self.hold_level = hold_level
        self.hold_ratio = hold_ratio
        self.hold_factor = hold_factor
        self.groups = None if groups is None else [int(g) for g in groups]
        self._views = [v for v in VIEWS if any(w != 0.0 for w in chosen.get(v, (0.0, 0.0)))]
        self._w = np.array([chosen[v] for v in self._views], dtype=np.float64).reshape(-1, 2)
        self._mean_cols = [i for i, v in enumerate(self._views) if v in MEANS]
        self._mean_rates = np.array([MEANS[self._views[i]] for i in self._mean_cols], dtype=np.float64)
        self._col = {v: i for i, v in enumerate(self._views)}
        self._season_cols = [i for i, v in enumerate(self._views) if v in SEASONS]
        self._seasons = SlotProfiles([SEASONS[self._views[i]] for i in self._season_cols], 0.3, 3, 0.1)
        self._cusum = Cusum() if "cusum" in self._views else None
        self._device = DeviceMahalanobis(groups=self.groups) if "device" in self._views else None
        memory = [short_block if v == "mean10_recent" else block for v in self._views]
        self._tail = RecordTail(memory, blocks)
        self._means = np.zeros((0, len(self._mean_cols)), dtype=np.float64)
        self._count = np.zeros(0, dtype=np.int64)
        self._alarm_at = np.zeros(0, dtype=np.int64)
        self._alarm_u = np.zeros(0, dtype=np.float64)

    def set_groups(self, key_to_group: ArrayLike) -> None:
        """Declare the metrics of each device for the `device` view (see `DeviceMahalanobis.set_groups`)."""
        if self._device is not None:
            self._device.set_groups(key_to_group)
            self.groups = self._device.groups
        else:
            self.groups = [int(g) for g in np.asarray(key_to_group, dtype=np.int64).ravel()]

    @property
    def views(self) -> list[str]:
        """The views computed: those with a non-zero weight."""
        return list(self._views)

    @property
    def n_series(self) -> int:
        return int(np.count_nonzero(self._count))

    def _ensure(self, size: int) -> None:
        self._means = grow_rows(self._means, size, 0.0)
        self._count = grow(self._count, size, 0)
        self._alarm_at = grow(self._alarm_at, size, -(2**62))
        self._alarm_u = grow(self._alarm_u, size, 0.0)
        self._tail.ensure(size)
        self._seasons.ensure(size)
        if self._cusum is not None:
            self._cusum._ensure(size)
        if self._device is not None:
            self._device._ensure(size)

    def _rank_on(self, keys: IntArray) -> IntArray:
        return keys if self._device is None else self._device._rank_on(keys)

    def excesses(self, k: IntArray, x: FloatArray, t: FloatArray) -> tuple[FloatArray, FloatArray]:
        """Each view's excess above and below its record, shape (points, views), unweighted; then learn."""
        n, count = k.shape[0], self._count[k]
        stats = np.zeros((n, len(self._views)), dtype=np.float64)
        ok = np.ones((n, len(self._views)), dtype=bool)
        if self._mean_cols:
            means, rates, cols = self._means[k], self._mean_rates, self._mean_cols
            new = np.where((count == 0)[:, None], x[:, None], means + rates * (x[:, None] - means))
            self._means[k] = new
            stats[:, cols] = new
            ok[:, cols] = count[:, None] * rates >= 1.0
        if self._season_cols:
            stats[:, self._season_cols], ok[:, self._season_cols] = self._seasons.deviation(k, x, t)
        if self._cusum is not None:
            up, down, warm = self._cusum.sums(k, x, t)
            stats[:, self._col["cusum"]] = np.where(up >= down, up, -down)
            ok[:, self._col["cusum"]] = warm
        if self._device is not None:
            stats[:, self._col["device"]], ok[:, self._col["device"]] = self._device.deviate(k, x, t)
        if "value" in self._col:
            stats[:, self._col["value"]] = x
        self._count[k] = count + 1
        return self._tail.excess(k, stats, ok)

    def _step(self, k: IntArray, x: FloatArray, t: FloatArray) -> FloatArray:
        count = self._count[k]
        up, down = self.excesses(k, x, t)
        u = np.maximum(up * self._w[:, 0], down * self._w[:, 1]).max(axis=1, initial=0.0)
        u = np.where(count >= self.warmup, u, 0.0)
        held = (count - self._alarm_at[k] <= self.hold) & (u < self.hold_ratio * self._alarm_u[k])
        u = np.where(held, u * self.hold_factor, u)
        alarm = (u >= self.hold_level) & ~held
        self._alarm_at[k] = np.where(alarm, count, self._alarm_at[k])
        self._alarm_u[k] = np.where(alarm, u, self._alarm_u[k])
        return likelihood(u)
