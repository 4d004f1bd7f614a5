"""NAB scoring: the corpus raw score at a threshold, the best threshold in hindsight, and the 0-100 score.

At a threshold θ a row is a detection when its score is ≥ θ. A file's raw score is the sum of its windows'
best detection values (a missed window costs A_FN) and of all its false-positive rows. The corpus raw score
is the sum over files; it is normalized against the null detector (constant 0.5) and the perfect one.

The threshold sweep gives the corpus raw score at every distinct score (plus 1.1, detecting nothing) in one
pass: rows are sorted by score, highest first, and each row is given the change it makes to the total when
it becomes a detection. A false positive adds its own value. A row in a window adds how much it raises that
window's running best (a segmented running maximum), so only the best detection of a window counts. The
cumulative sum at the end of each group of tied scores is the raw score at that threshold: O(N log N).

>>> from edgeloop.bench.nab.corpus import Corpus, DataFile
>>> from edgeloop.bench.nab.profiles import Profile
>>> std = Profile("standard", tp_weight=1.0, fp_weight=0.11, fn_weight=1.0)
>>> f = DataFile.build("c/a.csv", np.zeros(40), windows=[(20, 29)], probation=6)
>>> corpus = Corpus(files=(f,), profiles={"standard": std})
>>> scores = {"c/a.csv": np.where(np.arange(40) == 20, 0.9, 0.1)}
>>> r = score_corpus(corpus, scores, std)
>>> r.threshold, r.raw, r.normalized, (r.tp, r.fp, r.fn)
(0.9, 1.0, 100.0, (1, 0, 9))
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from edgeloop.bench.nab.corpus import Corpus, FloatArray, IntArray
from edgeloop.bench.nab.profiles import Profile
from edgeloop.bench.nab.weights import Layout, corpus_layout, row_values

#: NAB starts its sweep above every score, where nothing is detected
START_THRESHOLD = 1.1
NULL_SCORE = 0.5

Scores = Mapping[str, FloatArray]


@dataclass(frozen=True, slots=True)
class ThresholdCurve:
    """The corpus raw score at each candidate threshold, thresholds from highest to lowest."""

    thresholds: FloatArray
    raw: FloatArray

    def best(self) -> tuple[float, float]:
        """The threshold with the highest raw score; on a tie the highest threshold, as NAB picks."""
        i = int(np.argmax(self.raw))
        return float(self.thresholds[i]), float(self.raw[i])


@dataclass(frozen=True, slots=True)
class ProfileResult:
    """One detector under one profile at one threshold.

    `tp`, `fp`, `fn`, `tn` are row counts over non-probationary rows, as NAB's `*_scores.csv` reports them
    (a detected row in a window is a TP row even if an earlier row of the window already counted).
    `detected_windows` and `missed_windows` count windows.
    """

    profile: str
    threshold: float
    raw: float
    normalized: float
    null_raw: float
    perfect: float
    per_file: dict[str, float]
    tp: int
    fp: int
    fn: int
    tn: int
    detected_windows: int
    missed_windows: int


def normalize(raw: float, null_raw: float, perfect: float) -> float:
    """NAB's 0-100 score: 100·(raw − null) / (perfect − null); NaN when the corpus has no window to find.

    >>> round(normalize(46.6345, -116.0, 116.0), 2)
    70.1
    """
    if perfect == null_raw:
        return float("nan")
    return 100.0 * (raw - null_raw) / (perfect - null_raw)


class _Ranked:
    """A detector's non-probationary scores with the layout and the descending order, shared by profiles."""

    def __init__(self, corpus: Corpus, scores: Scores, layout: Layout | None = None) -> None:
        self.corpus = corpus
        self.layout = corpus_layout(corpus) if layout is None else layout
        self.score = _kept_scores(corpus, scores)
        self.order: IntArray = np.argsort(-self.score, kind="stable")

    def curve(self, profile: Profile) -> ThresholdCurve:
        lay, missed = self.layout, -profile.fn_weight
        value = row_values(lay, profile)[self.order]
        window = lay.window[self.order]
        delta = np.where(window < 0, value, 0.0)
        pos = np.flatnonzero(window >= 0)
        pos = pos[np.argsort(window[pos], kind="stable")]  # by window, in score order within each
        if pos.size:
            wid = window[pos]
            best = np.maximum(segment_running_max(value[pos], wid), missed)
            # the window's best before this row became a detection: "missed" for its first row
            before = np.empty_like(best)
            before[0] = missed
            before[1:] = best[:-1]
            before[np.flatnonzero(np.diff(wid)) + 1] = missed
            delta[pos] = best - before
        total = missed * lay.n_scored + np.cumsum(delta)
        s = self.score[self.order]
        ends = np.r_[np.flatnonzero(np.diff(s) != 0), s.size - 1] if s.size else np.zeros(0, dtype=np.int64)
        return ThresholdCurve(thresholds=np.r_[START_THRESHOLD, s[ends]], raw=np.r_[missed * lay.n_scored, total[ends]])

    def at(self, profile: Profile, threshold: float, null_raw: float) -> ProfileResult:
        lay, missed = self.layout, -profile.fn_weight
        n_files, n_windows = len(self.corpus.files), lay.window_file.shape[0]
        value = row_values(lay, profile)
        hit = self.score >= threshold
        inside = lay.window >= 0
        fp_rows, tp_rows = hit & ~inside, hit & inside
        fp_sum = np.bincount(lay.file[fp_rows], weights=value[fp_rows], minlength=n_files)
        best = np.full(n_windows, missed)
        np.maximum.at(best, lay.window[tp_rows], value[tp_rows])
        found = np.bincount(lay.window[tp_rows], minlength=n_windows) > 0
        win_sum = np.bincount(lay.window_file[lay.scored], weights=best[lay.scored], minlength=n_files)
        per_file = fp_sum + win_sum
        raw = float(per_file.sum())
        perfect = profile.tp_weight * self.corpus.n_windows
        return ProfileResult(
            profile=profile.name,
            threshold=float(threshold),
            raw=raw,
            normalized=normalize(raw, null_raw, perfect),
            null_raw=null_raw,
            perfect=perfect,
            per_file={f.name: float(v) for f, v in zip(self.corpus.files, per_file, strict=True)},
            tp=int(tp_rows.sum()),
            fp=int(fp_rows.sum()),
            fn=int((~hit & inside).sum()),
            tn=int((~hit & ~inside).sum()),
            detected_windows=int((found & lay.scored).sum()),
            missed_windows=int((~found & lay.scored).sum()),
        )


def segment_running_max(values: FloatArray, segment: IntArray) -> FloatArray:
    """Running maximum of `values` restarting at each new value of `segment` (sorted ascending).

    Exact: ranks, not values, are combined with the segment number.

    >>> segment_running_max(np.array([0.2, 0.5, 0.1, 0.3, 0.9, 0.4]), np.array([0, 0, 0, 1, 1, 1])).tolist()
    [0.2, 0.5, 0.5, 0.3, 0.9, 0.9]
    """
    n = values.shape[0]
    by_value = np.argsort(values, kind="stable")
    rank = np.empty(n, dtype=np.int64)
    rank[by_value] = np.arange(n)
    key = segment.astype(np.int64) * n + rank
    top = np.maximum.accumulate(key) - segment.astype(np.int64) * n
    return np.asarray(values[by_value[top]], dtype=np.float64)


def _kept_scores(corpus: Corpus, scores: Scores) -> FloatArray:
    extra = sorted(set(scores) - set(corpus.names))
    if extra:
        raise ValueError(f"scores for files not in the corpus: {extra[:5]}")
    parts = []
    for f in corpus.files:
        if f.name not in scores:
            raise ValueError(f"no scores for {f.name}")
        s = np.asarray(scores[f.name], dtype=np.float64)
        if s.shape != (f.n_rows,):
            raise ValueError(f"{f.name}: {s.shape[0] if s.ndim == 1 else s.shape} scores for {f.n_rows} rows")
        # detectors promise [0, 1]; like NAB's scorer we take any finite score the start threshold is above
        # (NAB's published EXPoSE results reach -0.008 and 1.011)
        if not np.all(np.isfinite(s) & (s < START_THRESHOLD)):
            raise ValueError(f"{f.name}: scores must be finite and below {START_THRESHOLD}")
        parts.append(s[f.probation :])
    return np.concatenate(parts) if parts else np.zeros(0)


def _profile(corpus: Corpus, profile: Profile | str) -> Profile:
    if isinstance(profile, Profile):
        return profile
    if profile not in corpus.profiles:
        raise ValueError(f"unknown profile {profile!r}; the corpus has {sorted(corpus.profiles)}")
    return corpus.profiles[profile]


def null_raw_score(corpus: Corpus, profile: Profile | str, layout: Layout | None = None) -> float:
    """The raw score of NAB's null detector (constant 0.5), thresholds optimized: the 0 of the scale."""
    prof = _profile(corpus, profile)
    ranked = _Ranked(corpus, {f.name: np.full(f.n_rows, NULL_SCORE) for f in corpus.files}, layout)
    threshold, _ = ranked.curve(prof).best()
    return ranked.at(prof, threshold, 0.0).raw


def threshold_curve(corpus: Corpus, scores: Scores, profile: Profile | str) -> ThresholdCurve:
    """The corpus raw score at every threshold NAB's optimizer tries."""
    return _Ranked(corpus, scores).curve(_profile(corpus, profile))


def score_corpus(
    corpus: Corpus, scores: Scores, profile: Profile | str, threshold: float | None = None
) -> ProfileResult:
    """Score a detector under one profile: at `threshold`, or at the best threshold in hindsight if None."""
    prof = _profile(corpus, profile)
    return score_all_profiles(corpus, scores, {prof.name: threshold}, [prof])[prof.name]


def score_all_profiles(
    corpus: Corpus,
    scores: Scores,
    thresholds: Mapping[str, float | None] | None = None,
    profiles: Sequence[Profile | str] | None = None,
) -> dict[str, ProfileResult]:
    """Score a detector under every profile of the corpus (or `profiles`), sorting its scores once.

    A profile with a threshold in `thresholds` is scored at it; the others at their optimized threshold.
    """
    chosen = [_profile(corpus, p) for p in (profiles if profiles is not None else list(corpus.profiles.values()))]
    ranked = _Ranked(corpus, scores)
    results = {}
    for prof in chosen:
        fixed = (thresholds or {}).get(prof.name)
        threshold = ranked.curve(prof).best()[0] if fixed is None else fixed
        null_raw = null_raw_score(corpus, prof, ranked.layout)
        results[prof.name] = ranked.at(prof, threshold, null_raw)
    return results
