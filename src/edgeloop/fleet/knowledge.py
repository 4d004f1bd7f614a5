"""Fleet knowledge: one site's summary of what it learnt per asset type, and the robust merge of many sites'.

A summary holds, per metric of an asset type, statistics over the site's warm series (never raw telemetry):
how many devices, the median level, the median noise sigma in the metric's unit (`scale`) and relative to the
level (`rel_scale`), and how much each of those two varies between the site's devices (`spread_abs`,
`spread_rel`: the MAD of the logarithm). The spreads decide whether a new device's noise should be expected
in absolute terms or in proportion to its level. A site whose learner is calibrated adds the median
calibration of its warm series (`tail`, `edgeloop.learn.prior.TailPrior`), merged field by field with the same
capped weighted median when all the sites that send one run the same learner (a calibration is of one
learner's scores).

The merge assumes an honest majority and bounds what any one site can do:
- a summary that fails the schema (wrong version, non-finite or negative numbers, absurd device counts) is
  rejected with a reason before it is merged (`KnowledgeSummary.from_json`);
- per metric, a site whose log scale, log relative scale or level lies more than `k` robust deviations (MAD of
  the sites, with a floor) from the median of the sites is an outlier and left out, with a reason;
- the rest are combined by a median weighted by device counts, each site's weight capped at twice the median
  count, so a site cannot win the merge by claiming a huge fleet. With an honest majority (by capped weight),
  the merged value lies between honest sites' values whatever the others send.

>>> a = MetricSummary(devices=20, level=40.0, scale=0.32, rel_scale=0.008, spread_abs=0.3, spread_rel=0.05)
>>> b = MetricSummary(devices=30, level=42.0, scale=0.34, rel_scale=0.008, spread_abs=0.3, spread_rel=0.05)
>>> bad = MetricSummary(devices=10**6, level=1e9, scale=1e9, rel_scale=5.0, spread_abs=0.0, spread_rel=0.0)
>>> sites = [KnowledgeSummary(site, "pump", 0.0, {"current": m})
...          for site, m in [("s1", a), ("s2", b), ("s3", a), ("evil", bad)]]
>>> merged = merge(sites)
>>> prior = merged.priors["current"]
>>> prior.scale, prior.relative, prior.devices
(0.32, True, 70)
>>> merged.rejected
[('evil', 'current', 'scale is 218.3 robust deviations from the fleet median')]
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from edgeloop.learn.prior import SeriesPrior, SeriesStats, TailPrior
from edgeloop.model import is_valid_id

SCHEMA = "edgeloop.knowledge/1"
MAX_DEVICES = 1_000_000
MAX_METRICS = 64
#: a site further than this many robust deviations from the other sites' median is an outlier
OUTLIER_K = 4.0
#: the smallest robust deviation assumed between honest sites: 10% in the log statistics, 5% of the level
LOG_FLOOR = 0.1
LEVEL_FLOOR = 0.05
METRIC_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}")


class KnowledgeError(ValueError):
    """A knowledge message that cannot be used; `reason` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class MetricSummary:
    devices: int
    level: float
    scale: float
    rel_scale: float
    spread_abs: float
    spread_rel: float
    tail: TailPrior | None = None

    def to_json(self) -> dict[str, Any]:
        doc = {"devices": self.devices, "level": self.level, "scale": self.scale, "rel_scale": self.rel_scale,
               "spread_abs": self.spread_abs, "spread_rel": self.spread_rel}  # fmt: skip
        return doc if self.tail is None else {**doc, "tail": self.tail._asdict()}

    @classmethod
    def from_json(cls, doc: Any, where: str) -> MetricSummary:
        if not isinstance(doc, dict):
            raise KnowledgeError(f"{where}: expected an object")
        devices = doc.get("devices")
        if not isinstance(devices, int) or isinstance(devices, bool) or not 1 <= devices <= MAX_DEVICES:
            raise KnowledgeError(f"{where}: 'devices' must be an integer in [1, {MAX_DEVICES}]")
        values = {}
        for name in ("level", "scale", "rel_scale", "spread_abs", "spread_rel"):
            v = doc.get(name)
            if not isinstance(v, int | float) or isinstance(v, bool) or not math.isfinite(v):
                raise KnowledgeError(f"{where}: {name!r} must be a finite number")
            values[name] = float(v)
        if values["scale"] <= 0 or values["rel_scale"] <= 0:
            raise KnowledgeError(f"{where}: 'scale' and 'rel_scale' must be > 0")
        if values["spread_abs"] < 0 or values["spread_rel"] < 0:
            raise KnowledgeError(f"{where}: spreads must be >= 0")
        return cls(devices, **values, tail=_tail(doc.get("tail"), where))


def _tail(doc: Any, where: str) -> TailPrior | None:
    """A summary's optional calibration, checked (`TailPrior.is_usable`)."""
    if doc is None:
        return None
    fields = TailPrior._fields
    if not isinstance(doc, dict) or set(doc) != set(fields):
        raise KnowledgeError(f"{where}: 'tail' must be an object of {', '.join(fields)}")
    values = [doc[name] for name in fields]
    if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
        raise KnowledgeError(f"{where}: 'tail' holds numbers only")
    tail = TailPrior(*(float(v) for v in values))
    if not tail.is_usable():
        raise KnowledgeError(f"{where}: 'tail' is not a calibration (finite, >= 0, m1 > 0, m2 >= m1²)")
    return tail


@dataclass(frozen=True, slots=True)
class KnowledgeSummary:
    """One site's knowledge of one asset type, at data time `ts`."""

    site: str
    asset_type: str
    ts: float
    metrics: Mapping[str, MetricSummary]
    learner: str = "robust_ewma"

    def to_json(self) -> dict[str, Any]:
        metrics = {m: s.to_json() for m, s in sorted(self.metrics.items())}
        return {"schema": SCHEMA, "site": self.site, "asset_type": self.asset_type, "ts": self.ts,
                "learner": self.learner, "metrics": metrics}  # fmt: skip

    @classmethod
    def from_json(cls, doc: Any) -> KnowledgeSummary:
        """Parse and check a summary; raises KnowledgeError naming the first problem."""
        if not isinstance(doc, dict):
            raise KnowledgeError("a summary must be a JSON object")
        if doc.get("schema") != SCHEMA:
            raise KnowledgeError(f"schema {str(doc.get('schema'))[:40]!r} is not {SCHEMA!r}")
        site, asset_type, ts, learner = doc.get("site"), doc.get("asset_type"), doc.get("ts"), doc.get("learner")
        if not isinstance(site, str) or not is_valid_id(site):
            raise KnowledgeError("'site' must be a site id")
        if not isinstance(asset_type, str) or not is_valid_id(asset_type):
            raise KnowledgeError("'asset_type' must be an id")
        if not isinstance(ts, int | float) or isinstance(ts, bool) or not math.isfinite(ts):
            raise KnowledgeError("'ts' must be a finite number")
        if not isinstance(learner, str) or not learner or len(learner) > 64:
            raise KnowledgeError("'learner' must be a learner name")
        metrics = doc.get("metrics")
        if not isinstance(metrics, dict) or not 1 <= len(metrics) <= MAX_METRICS:
            raise KnowledgeError(f"'metrics' must be an object of 1 to {MAX_METRICS} metrics")
        parsed = {}
        for name, body in metrics.items():
            if not METRIC_NAME.fullmatch(name):
                raise KnowledgeError(f"bad metric name {name[:40]!r}")
            parsed[name] = MetricSummary.from_json(body, f"metric {name!r}")
        return cls(site, asset_type, float(ts), parsed, learner)


def log_mad(values: np.ndarray[Any, np.dtype[np.float64]]) -> float:
    """The MAD of log(values): how much they vary between devices, as a ratio (0.1: about 10%)."""
    logs = np.log(values)
    return float(np.median(np.abs(logs - np.median(logs))))


def summarize_metric(stats: SeriesStats, min_points: int) -> MetricSummary | None:
    """A metric's summary from its series' stats (one per device), over those that have seen `min_points`."""
    warm = (stats.points >= min_points) & np.isfinite(stats.level) & (stats.scale > 0) & (stats.level != 0)
    if not warm.any():
        return None
    level, scale = stats.level[warm], stats.scale[warm]
    rel = scale / np.abs(level)
    tail = None
    if stats.tail is not None:
        rows = stats.tail[warm]
        rows = rows[np.isfinite(rows).all(axis=1)]
        tail = TailPrior.usable(np.median(rows, axis=0).tolist()) if rows.shape[0] else None
    return MetricSummary(int(warm.sum()), float(np.median(level)), float(np.median(scale)), float(np.median(rel)),
                         log_mad(scale), log_mad(rel), tail)  # fmt: skip


@dataclass(frozen=True, slots=True)
class MergedKnowledge:
    """The fleet's priors for one asset type, and which sites went into each and which were left out, why."""

    priors: dict[str, SeriesPrior]
    used: dict[str, list[str]] = field(default_factory=dict)  # metric -> sites merged
    rejected: list[tuple[str, str, str]] = field(default_factory=list)  # (site, metric, reason)


def weighted_median(values: Sequence[float], weights: Sequence[float]) -> float:
    """The lower weighted median.

    >>> weighted_median([1.0, 2.0, 100.0], [1, 1, 1]), weighted_median([1.0, 2.0, 100.0], [1, 1, 5])
    (2.0, 100.0)
    """
    order = np.argsort(values, kind="stable")
    v, w = np.asarray(values, dtype=np.float64)[order], np.asarray(weights, dtype=np.float64)[order]
    cum = np.cumsum(w)
    return float(v[int(np.searchsorted(cum, 0.5 * cum[-1]))])


def _outliers(values: np.ndarray[Any, np.dtype[np.float64]], floor: float, k: float) -> np.ndarray[Any, Any]:
    """Robust deviations of each value from the median (in MADs, floored)."""
    med = float(np.median(values))
    spread = max(1.4826 * float(np.median(np.abs(values - med))), floor)
    return np.abs(values - med) / spread


def _valid(m: MetricSummary) -> bool:
    values = (m.level, m.scale, m.rel_scale, m.spread_abs, m.spread_rel)
    return all(math.isfinite(v) for v in values) and m.scale > 0 and m.rel_scale > 0 and m.devices >= 1


def merge(summaries: Sequence[KnowledgeSummary], k: float = OUTLIER_K) -> MergedKnowledge:
    """Merge sites' summaries of one asset type into a prior per metric (see the module's rules)."""
    latest: dict[str, KnowledgeSummary] = {}
    for s in summaries:  # one summary per site: its latest
        if s.site not in latest or s.ts >= latest[s.site].ts:
            latest[s.site] = s
    names = sorted({m for s in latest.values() for m in s.metrics})
    priors: dict[str, SeriesPrior] = {}
    used: dict[str, list[str]] = {}
    rejected: list[tuple[str, str, str]] = []
    for metric in names:
        sites = []
        for site, s in sorted(latest.items()):
            m = s.metrics.get(metric)
            if m is not None and not _valid(m):  # from_json rejects these; a summary built in code may not be checked
                rejected.append((site, metric, "non-finite or non-positive statistics"))
            elif m is not None:
                sites.append((site, m))
        keep = np.ones(len(sites), dtype=bool)
        if len(sites) >= 3:  # with fewer, nobody is an outlier to anyone
            level = np.array([m.level for _, m in sites])
            checks = {
                "scale": _outliers(np.log([m.scale for _, m in sites]), LOG_FLOOR, k),
                "relative scale": _outliers(np.log([m.rel_scale for _, m in sites]), LOG_FLOOR, k),
                "level": _outliers(level, LEVEL_FLOOR * abs(float(np.median(level))) + 1e-12, k),
            }
            for i, (site, _) in enumerate(sites):
                for what, dev in checks.items():
                    if dev[i] > k:
                        keep[i] = False
                        why = f"{what} is {dev[i]:.1f} robust deviations from the fleet median"
                        rejected.append((site, metric, why))
                        break
        chosen = [m for (_, m), ok in zip(sites, keep.tolist(), strict=True) if ok]
        if not chosen:
            continue
        cap = 2.0 * float(np.median([m.devices for m in chosen]))
        w = [min(float(m.devices), cap) for m in chosen]
        spread_abs = weighted_median([m.spread_abs for m in chosen], w)
        spread_rel = weighted_median([m.spread_rel for m in chosen], w)
        tails = [(m.tail, wi) for m, wi in zip(chosen, w, strict=True) if m.tail is not None]
        learners = {latest[site].learner for (site, m), ok in zip(sites, keep.tolist(), strict=True)
                    if ok and m.tail is not None}  # fmt: skip
        tail = None
        if tails and len(learners) == 1:  # calibrations of different learners' scores do not mix
            fields = zip(*(t for t, _ in tails), strict=True)
            tail = TailPrior.usable(weighted_median(list(v), [wi for _, wi in tails]) for v in fields)
        priors[metric] = SeriesPrior(
            level=weighted_median([m.level for m in chosen], w),
            scale=weighted_median([m.scale for m in chosen], w),
            rel_scale=weighted_median([m.rel_scale for m in chosen], w),
            relative=spread_rel < spread_abs,
            devices=sum(m.devices for m in chosen),
            tail=tail,
            tail_of=learners.pop() if tail is not None else "",  # no learner is named for a tail it cannot use
        )
        used[metric] = [site for (site, _), ok in zip(sites, keep.tolist(), strict=True) if ok]
    return MergedKnowledge(priors, used, rejected)
