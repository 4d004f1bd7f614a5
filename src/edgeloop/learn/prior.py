"""Warm starts from what other devices taught: the optional prior protocol of a learner.

A learner that supports it can `summarize` what it learnt for some series keys (per key: level, noise scale and
how many points it has seen) and can be `seed`ed with a `SeriesPrior` for keys it has not seen yet, so those
series score from their first points instead of after a warm-up. The fleet (`edgeloop.fleet.knowledge`) merges
summaries across sites into priors; this module knows nothing of sites, messages or clocks.

A prior carries the noise scale, not the level a device will run at: devices of one asset type run at levels
that differ by far more than their noise (a pump's rated current, a bearing's temperature rise), so a seeded
series takes its level from its own first point. The noise scale is either absolute (a temperature sensor's
+-0.3 degC) or relative to the level (a current transformer's 0.8%); `relative` says which one was the more
stable across the fleet's devices.

A calibrated learner (`edgeloop.learn.calibrated`) also shares its calibration, `TailPrior`: the tail of its
inner learner's raw surprise, which is in units of each series' own noise and so alike across devices of one
type. A series seeded with it scores calibrated tail probabilities from its first points, instead of scoring
nothing for the calibration's warm-up and then a tail fitted on a few excesses; its own excesses take over as
they come (the prior weighs as much as half the calibration's memory of excesses).

>>> prior = SeriesPrior(level=40.0, scale=0.3, rel_scale=0.008, relative=True, devices=12)
>>> round(prior.scale_at(50.0), 6)
0.4
>>> SeriesPrior(level=60.0, scale=0.3, rel_scale=0.005, relative=False, devices=12).scale_at(50.0)
0.3
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import NamedTuple, Protocol, runtime_checkable

from edgeloop.learn.base import FloatArray, IntArray


class TailPrior(NamedTuple):
    """A calibration to start a series from (`spot.SpotTail`'s state): the tracked quantile `t` of the raw
    surprise, the surprise's mean and mean absolute deviation, and the first two moments of its excesses over t.

    >>> TailPrior(1.2, 0.5, 0.4, 0.3, 0.2).is_usable(), TailPrior(1.2, 0.5, 0.4, 0.0, 0.2).is_usable()
    (True, False)
    """

    t: float
    mean: float
    mad: float
    m1: float
    m2: float

    def is_usable(self) -> bool:
        """Finite, non-negative, with excesses to fit a tail to (m1 > 0, m2 >= m1²) and within sane bounds."""
        if not all(math.isfinite(v) and 0.0 <= v <= TAIL_MAX for v in self):
            return False
        return self.m1 > 0 and self.m2 >= self.m1 * self.m1 * (1 - 1e-9)

    @classmethod
    def usable(cls, values: Iterable[float]) -> TailPrior | None:
        """The calibration of these five values if `is_usable`, else None.

        >>> TailPrior.usable([1.2, 0.5, 0.4, 0.3, 0.2]), TailPrior.usable([1.2, 0.5, 0.4, 0.0, 0.2])
        (TailPrior(t=1.2, mean=0.5, mad=0.4, m1=0.3, m2=0.2), None)
        """
        tail = cls(*(float(v) for v in values))
        return tail if tail.is_usable() else None


#: the largest value a shared calibration may hold: raw surprises of a calibrated learner are far below it
TAIL_MAX = 1e6


@dataclass(frozen=True, slots=True)
class SeriesPrior:
    """What a fleet knows about one metric of an asset type: its typical level and noise scale (sigma)."""

    level: float
    scale: float  # noise sigma, in the metric's unit
    rel_scale: float  # noise sigma / |level|
    relative: bool  # the noise grows with the level: use rel_scale x |level| rather than scale
    devices: int  # how many devices it was learnt from
    tail: TailPrior | None = None  # a calibrated learner's calibration, when the fleet's learner has one
    tail_of: str = ""  # the name of the learner whose raw scores `tail` calibrates: only that one may use it

    def scale_at(self, level: float) -> float:
        """The noise sigma to expect of a series running at `level`."""
        return self.rel_scale * abs(level) if self.relative else self.scale

    def is_usable(self, low: float = -math.inf, high: float = math.inf) -> bool:
        """Finite, positive and smaller than the metric's range `[low, high]`: a prior the agent may seed with.

        >>> SeriesPrior(4.0, 0.1, 0.02, False, 3).is_usable(0.0, 50.0)
        True
        >>> SeriesPrior(4.0, 1e9, 0.02, False, 3).is_usable(0.0, 50.0)
        False
        """
        values = (self.level, self.scale, self.rel_scale)
        if not all(math.isfinite(v) for v in values) or self.scale <= 0 or self.rel_scale <= 0:
            return False
        span = high - low
        return self.scale < span and self.rel_scale * max(abs(low), abs(high), 1e-12) < span


class SeriesStats(NamedTuple):
    """Per key, what a learner learnt: level, noise sigma and the number of points seen (`points`, 0: nothing);
    a calibrated learner adds each key's calibration, one `TailPrior` row per key (NaN: not calibrated yet)."""

    level: FloatArray
    scale: FloatArray
    points: IntArray
    tail: FloatArray | None = None


@runtime_checkable
class PriorLearner(Protocol):
    """A learner that can report what it learnt and start new series from a prior."""

    def summarize(self, keys: IntArray) -> SeriesStats:
        """Level, noise sigma and points seen for each key."""
        ...

    def seed(self, keys: IntArray, priors: Sequence[SeriesPrior]) -> None:
        """Start each key (not seen yet) from its prior; keys already learnt are left alone."""
        ...


class PriorSource(Protocol):
    """Where the agent gets priors from: per asset type, the prior of each metric (empty if none is known)."""

    def priors(self, asset_type: str) -> Mapping[str, SeriesPrior]: ...


def prior_part(learner: object) -> PriorLearner | None:
    """The learner itself if it takes priors, else the first of its parts that does (a combination such as
    `MaxOf` keeps its parts in `learners`); None if none does.

    >>> from edgeloop.learn.ewma import RobustEWMA
    >>> from edgeloop.learn.cusum import Cusum
    >>> class Both:
    ...     learners = [Cusum(), RobustEWMA()]
    >>> type(prior_part(Both())).__name__, prior_part(Cusum())
    ('RobustEWMA', None)
    """
    inner = getattr(learner, "inner", None)  # a wrapper (`Calibrated`) takes priors if what it wraps does
    if inner is not None and isinstance(learner, PriorLearner):
        return learner if prior_part(inner) is not None else None
    if isinstance(learner, PriorLearner):
        return learner
    for part in getattr(learner, "learners", ()):
        if isinstance(part, PriorLearner):
            return part
    return None
