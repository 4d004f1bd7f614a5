"""Every learner edgeloop can run, each under one name, and the names the agent reads.

`CATALOG` maps a name to a factory of a fresh learner. It has two parts:

- `LEARNERS`: the learners at their per-point defaults, as `edgeloop bench nab` runs them (all of them by
  default) and the fleet's knowledge commands build them;
- `VARIANTS`: the agent's tunings of them, under names of their own: the robust EWMA with its memory set in
  time for devices sampled every few seconds (`robust_ewma_timed`), that beside the noise ratio
  (`ewma_noise_timed`, the agent's default), the NAB ensemble without its hold, `ewma_noise` calibrated and
  gated (`Calibrated`: `ewma_noise_spot`, per point, and `ewma_noise_timed_spot`, the agent's), and the device
  PCA learnt over a commissioning period and then held (`device_pca_trained`).

The agent reads a learner's name in `agent.learner`, `agent.challengers` and selection files. There, since
before the variants had names of their own, `robust_ewma` and `ewma_noise` mean the agent's timed variants
(`AGENT_ALIASES`), so a site's configuration keeps its meaning; `agent_learner` builds what such a name means.
`default_learner()` is the detector the project recommends on NAB-like data.

>>> sorted(VARIANTS)  # doctest: +NORMALIZE_WHITESPACE
['device_pca_trained', 'ewma_noise_spot', 'ewma_noise_timed', 'ewma_noise_timed_spot', 'novelty_ensemble_nohold',
 'robust_ewma_timed']
>>> make("robust_ewma").half_life_s is None, agent_learner("robust_ewma").half_life_s
(True, 255.0)
>>> agent_learner("novelty_ensemble_nohold").hold
0
>>> default_learner().n_series
0
"""

from __future__ import annotations

from collections.abc import Callable

from edgeloop.learn.base import Learner
from edgeloop.learn.calibrated import GATE_AT, Calibrated
from edgeloop.learn.combine import MaxOf
from edgeloop.learn.cusum import Cusum
from edgeloop.learn.ensemble import NoveltyEnsemble
from edgeloop.learn.ewma import RobustEWMA
from edgeloop.learn.mahalanobis import DeviceMahalanobis
from edgeloop.learn.noise import NoiseRatio
from edgeloop.learn.novelty import RangeNovelty
from edgeloop.learn.pca import DevicePCA
from edgeloop.learn.routed import PerAssetType
from edgeloop.learn.seasonal import SeasonalProfile

#: the memory of the agent's EWMA: alpha 0.04 per point at the factory's 15 s sampling, set in time instead
HALF_LIFE_S = 255.0
REANCHOR_S = 3600.0  # an hour beyond the baseline is a new level, not an anomaly to repeat
NOISE_POINT_S = 15.0  # the noise ratio's half-lives (10 and 1,000 points) in time, at the factory's sampling
#: a successive difference counts at most this many times the usual roughness in the agent's noise view: a lone
#: sensor spike no longer makes a series look rough for the quarter of an hour after it (docs/learners.md)
NOISE_STEP_CLIP = 6.0
#: an outlier still moves the baseline at half the rate: at a quarter, the baseline fell behind the steepest part
#: of the factory's daily speed swing and alarmed on it (measured: 18 -> 12 false alarms, 60 devices, 4 days)
OUTLIER_RATE = 0.5
BETA = 0.0  # a learnt trend also follows a developing fault's ramp: measured, it caught far fewer


def robust_ewma_timed() -> RobustEWMA:
    """The robust EWMA with the agent's memory in time."""
    return RobustEWMA(half_life_s=HALF_LIFE_S, beta=BETA, reanchor_s=REANCHOR_S, outlier_rate=OUTLIER_RATE)


def ewma_noise_timed() -> MaxOf:
    """The level and, beside it, the roughness of each series, both with memory in time."""
    return MaxOf([robust_ewma_timed(), NoiseRatio(point_s=NOISE_POINT_S, step_clip=NOISE_STEP_CLIP)])


def calibrated(learner: Learner, gate: bool = True) -> Calibrated:
    """The learner's score as a SPOT tail probability; with `gate`, learning held while a series alarms."""
    return Calibrated(learner, gate_at=GATE_AT if gate else None)


#: whole rows a commissioned device learns before its model is held fixed (a day of a device reporting every
#: 15 s is 5,760)
COMMISSION_ROWS = 5_760

LEARNERS: dict[str, Callable[[], Learner]] = {
    "robust_ewma": lambda: RobustEWMA(),
    "range_novelty": lambda: RangeNovelty(),
    "seasonal": lambda: SeasonalProfile(),
    "cusum": lambda: Cusum(),
    "device_mahalanobis": lambda: DeviceMahalanobis(),
    "device_pca": lambda: DevicePCA(),
    "novelty_ensemble": lambda: NoveltyEnsemble(),
    "noise_ratio": lambda: NoiseRatio(),
    "ewma_noise": lambda: MaxOf([RobustEWMA(), NoiseRatio()]),
}

VARIANTS: dict[str, Callable[[], Learner]] = {
    "robust_ewma_timed": robust_ewma_timed,
    "ewma_noise_timed": ewma_noise_timed,
    #: the NAB-tuned ensemble without its hold: one alarm per event suits NAB's scoring; the agent's sustain and
    #: cooldown already make one decision of a run of alarms
    "novelty_ensemble_nohold": lambda: NoveltyEnsemble(hold=0),
    #: calibrated (a score of τ is exceeded with probability 1 - τ on normal data) and gated (a series that
    #: alarms stops learning until it recovers or is re-based): docs/learners.md, "Calibration and gating"
    "ewma_noise_spot": lambda: calibrated(MaxOf([RobustEWMA(), NoiseRatio()])),
    "ewma_noise_timed_spot": lambda: calibrated(ewma_noise_timed()),
    #: PCA monitoring as plants commission it: each device's first rows (`COMMISSION_ROWS`, or a training run a
    #: bench names) are its normal model, held fixed afterwards; whole rows only, T² and Q by their laws
    "device_pca_trained": lambda: DevicePCA(forget=0.0, learn_rows=COMMISSION_ROWS, whole_only=True),
}

CATALOG: dict[str, Callable[[], Learner]] = {**LEARNERS, **VARIANTS}

#: names that mean another learner where the agent reads them (settings, selection files)
AGENT_ALIASES: dict[str, str] = {"robust_ewma": "robust_ewma_timed", "ewma_noise": "ewma_noise_timed"}

#: every name the agent accepts, sorted
AGENT_NAMES: tuple[str, ...] = tuple(sorted(CATALOG))

#: the names of calibrated learners end so (a threshold on them is a false-alarm rate: `learn/alarm/budget.py`)
CALIBRATED_SUFFIX = "_spot"

#: the name, in `LEARNERS`, of the default detector
DEFAULT = "novelty_ensemble"


def make(name: str) -> Learner:
    """A fresh learner of that name in the catalog."""
    if name not in CATALOG:
        raise ValueError(f"unknown learner {name!r}; known: {', '.join(sorted(CATALOG))}")
    return CATALOG[name]()


def agent_learner(name: str) -> Learner:
    """A fresh learner of that name as the agent reads it (`robust_ewma`, `ewma_noise`: the timed variants)."""
    return make(AGENT_ALIASES.get(name, name))


def _parts(learner: Learner) -> list[Learner]:
    """The learners a learner is made of: a `MaxOf`'s, a per-asset-type router's, a calibration's inner one."""
    if isinstance(learner, PerAssetType):
        return [*learner.parts.values(), *([learner.default] if learner.default is not None else [])]
    if isinstance(learner, Calibrated):
        return [learner.inner]
    return list(getattr(learner, "learners", []))


def gated_parts(learner: Learner) -> list[Calibrated]:
    """The gated learners inside a learner (itself, the parts of a `MaxOf` or of a per-asset-type router)."""
    if isinstance(learner, Calibrated):
        return [learner] if learner.gate_at is not None else []
    return [g for part in _parts(learner) for g in gated_parts(part)]


def rebase_after(learner: Learner, hours: float | None) -> Learner:
    """The learner with its gated parts re-based after `hours` on hold (`agent.rebase_after_h`; None: never)."""
    if hours is not None:
        for gated in gated_parts(learner):
            gated.rebase_after_s = hours * 3600.0
    return learner


def commissioned_parts(learner: Learner) -> list[DevicePCA]:
    """The learners inside a learner that hold a commissioned model (`DevicePCA` with `learn_rows`): a re-base
    makes them learn afresh (`DevicePCA.restart`)."""
    if isinstance(learner, DevicePCA):
        return [learner] if learner.learn_rows is not None else []
    return [c for part in _parts(learner) for c in commissioned_parts(part)]


def default_learner() -> Learner:
    """A fresh instance of the default detector."""
    return LEARNERS[DEFAULT]()
