"""Every learner the benchmarks know, by name, and the default detector.

`LEARNERS` maps a name to a factory of a fresh learner with its tuned defaults; the conformance test and
`edgeloop bench nab` run every entry. `default_learner()` is the detector the project recommends.

>>> sorted(LEARNERS)  # doctest: +NORMALIZE_WHITESPACE
['cusum', 'device_mahalanobis', 'ewma_noise', 'noise_ratio', 'novelty_ensemble', 'range_novelty',
 'robust_ewma', 'seasonal']
>>> default_learner().n_series
0
"""

from __future__ import annotations

from collections.abc import Callable

from edgeloop.learn.base import Learner
from edgeloop.learn.combine import MaxOf
from edgeloop.learn.cusum import Cusum
from edgeloop.learn.ensemble import NoveltyEnsemble
from edgeloop.learn.ewma import RobustEWMA
from edgeloop.learn.mahalanobis import DeviceMahalanobis
from edgeloop.learn.noise import NoiseRatio
from edgeloop.learn.novelty import RangeNovelty
from edgeloop.learn.seasonal import SeasonalProfile

LEARNERS: dict[str, Callable[[], Learner]] = {
    "robust_ewma": lambda: RobustEWMA(),
    "range_novelty": lambda: RangeNovelty(),
    "seasonal": lambda: SeasonalProfile(),
    "cusum": lambda: Cusum(),
    "device_mahalanobis": lambda: DeviceMahalanobis(),
    "novelty_ensemble": lambda: NoveltyEnsemble(),
    "noise_ratio": lambda: NoiseRatio(),
    "ewma_noise": lambda: MaxOf([RobustEWMA(), NoiseRatio()]),
}

#: the name, in `LEARNERS`, of the default detector
DEFAULT = "novelty_ensemble"


def default_learner() -> Learner:
    """A fresh instance of the default detector."""
    return LEARNERS[DEFAULT]()
