"""Online learners: per-series anomaly scorers with a batched fast path. Pure: no I/O, no wall clock."""

from edgeloop.learn.base import Learner, occurrence_rank
from edgeloop.learn.calibrate import RecordTail, likelihood, log10_normal_tail
from edgeloop.learn.catalog import DEFAULT, LEARNERS, default_learner
from edgeloop.learn.cusum import Cusum
from edgeloop.learn.ensemble import NoveltyEnsemble
from edgeloop.learn.ewma import RobustEWMA
from edgeloop.learn.mahalanobis import DeviceMahalanobis
from edgeloop.learn.novelty import RangeNovelty
from edgeloop.learn.seasonal import SeasonalProfile
from edgeloop.learn.stepwise import StepwiseLearner

__all__ = [
    "DEFAULT",
    "LEARNERS",
    "Cusum",
    "DeviceMahalanobis",
    "Learner",
    "NoveltyEnsemble",
    "RangeNovelty",
    "RecordTail",
    "RobustEWMA",
    "SeasonalProfile",
    "StepwiseLearner",
    "default_learner",
    "likelihood",
    "log10_normal_tail",
    "occurrence_rank",
]
