"""Online learners: per-series anomaly scorers with a batched fast path. Pure: no I/O, no wall clock."""

from edgeloop.learn.base import Learner, occurrence_rank
from edgeloop.learn.ewma import RobustEWMA

__all__ = ["Learner", "RobustEWMA", "occurrence_rank"]
