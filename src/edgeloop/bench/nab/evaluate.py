"""`edgeloop bench nab`: every learner of the registry on the NAB corpus, scored with the exact scorer.

Each learner runs once over the whole corpus through its batch path: the 58 files are 58 keys of one learner,
and step i hands row i of every file that is long enough to one `score_learn` call. That run is timed (points
per second of the batch path) and its scores are scored. The same learner is then fed file by file, point by
point, from a fresh start, over the first `--check-rows` rows of each file, and both must agree.

A NAB step holds 16 points on average (most files are short), so that figure is mostly numpy's cost per call.
The agent scores micro-batches of thousands of series; `--wide N` also times N copies of every file side by
side (58 N keys per call, the first `--wide-rows` rows), the figure that matters there.

Thresholds are optimized in hindsight, per profile, over the whole corpus, as NAB does: the figures say how
well a detector *can* separate windows from the rest with one threshold, not how it does at a fixed one.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import orjson
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from edgeloop.bench.nab.corpus import DEFAULT_DIR, WINDOWS_FILE, Corpus, CorpusError, DataFile, FloatArray, load_corpus
from edgeloop.bench.nab.detectors import null_scores, random_scores, run_detector
from edgeloop.bench.nab.scoring import ProfileResult, score_all_profiles
from edgeloop.learn.base import IntArray, Learner
from edgeloop.learn.catalog import CATALOG, DEFAULT, LEARNERS

PROFILES = {"standard": "standard", "reward_low_FP_rate": "reward_low_FP", "reward_low_FN_rate": "reward_low_FN"}
DEFAULT_SERIES = (
    "realKnownCause/machine_temperature_system_failure.csv",
    "realKnownCause/nyc_taxi.csv",
    "realAWSCloudwatch/ec2_cpu_utilization_825cc2.csv",
    "realTweets/Twitter_volume_AAPL.csv",
)
#: NAB's README scoreboard (v1.0), standard / reward low FP / reward low FN, as `SOURCE.md` quotes it
PUBLISHED: tuple[tuple[str, float, float, float], ...] = (
    ("ARTime", 74.9, 65.1, 80.4),
    ("Numenta HTM (NuPIC 1.0, best seed)", 70.5, 62.6, 75.2),
    ("CAD OSE", 69.9, 67.0, 73.2),
    ("earthgecko Skyline", 58.2, 46.2, 63.9),
    ("KNN CAD", 58.0, 43.4, 64.8),
    ("Relative Entropy", 54.6, 47.6, 58.8),
    ("Numenta HTM, no likelihood", 53.62, 34.15, 61.89),
    ("Random Cut Forest (AWS)", 51.7, 38.4, 59.7),
    ("Twitter ADVec v1.0.0", 47.1, 33.6, 53.5),
    ("Windowed Gaussian", 39.6, 20.9, 47.4),
    ("Etsy Skyline", 35.7, 27.1, 44.5),
    ("Bayesian Changepoint", 17.7, 3.2, 32.2),
    ("EXPoSE", 16.4, 3.2, 26.9),
    ("Random (mean over seeds)", 11.0, 1.2, 19.5),
)
Tick = Callable[[int], None]


@dataclass(slots=True)
class DetectorRun:
    """One detector's scores on the corpus, its three profile results and, for a learner, its speed."""

    detector: str
    scores: dict[str, FloatArray]
    results: dict[str, ProfileResult] = field(default_factory=dict)
    points_per_s: float | None = None
    points_per_s_wide: float | None = None
    checked_rows: int = 0
    max_diff: float | None = None
    default: bool = False

    def row(self) -> dict[str, Any]:
        out: dict[str, Any] = {"detector": self.detector}
        out |= {short: self.results[name].normalized for name, short in PROFILES.items() if name in self.results}
        out |= {"points_per_s": self.points_per_s, "points_per_s_wide": self.points_per_s_wide, "default": self.default}
        out |= {f"threshold_{short}": self.results[name].threshold for name, short in PROFILES.items()
                if name in self.results}  # fmt: skip
        if self.max_diff is not None:
            out |= {"checked_rows": self.checked_rows, "batch_equals_pointwise": self.max_diff <= 1e-9}
        return out


def unix_seconds(f: DataFile) -> FloatArray:
    """A file's timestamps as float unix seconds (NAB's timestamps carry no zone: read as UTC)."""
    return np.asarray(f.timestamps.astype("datetime64[s]").astype(np.int64), dtype=np.float64)


class Interleaved:
    """The corpus as one stream: step i holds row i of every file with more than i rows, keyed by file index."""

    def __init__(self, corpus: Corpus) -> None:
        lengths = np.array([f.n_rows for f in corpus.files], dtype=np.int64)
        self.names = corpus.names
        self.steps = int(lengths.max()) if lengths.size else 0
        alive = np.arange(self.steps)[:, None] < lengths[None, :]  # (step, file)
        step, key = np.nonzero(alive)  # row-major: step by step, files in order
        self.keys: IntArray = key.astype(np.int64)
        self.rows: IntArray = step.astype(np.int64)
        self.values = np.concatenate([f.values for f in corpus.files])[_flat_index(lengths, key, step)]
        ts = np.concatenate([unix_seconds(f) for f in corpus.files])
        self.ts = ts[_flat_index(lengths, key, step)]
        self.bounds = np.searchsorted(step, np.arange(self.steps + 1))
        self.lengths = lengths

    @property
    def n_points(self) -> int:
        return int(self.keys.shape[0])

    def run(self, learner: Learner, tick: Tick | None = None) -> tuple[dict[str, FloatArray], float]:
        """Scores per file from one `score_learn` call per step, and the seconds those calls took."""
        out = np.empty(self.n_points)
        keys, values, ts, bounds = self.keys, self.values, self.ts, self.bounds.tolist()
        every = max(self.steps // 200, 1)
        elapsed = 0.0
        start = time.perf_counter()
        for i in range(self.steps):
            a, b = bounds[i], bounds[i + 1]
            out[a:b] = learner.score_learn(keys[a:b], values[a:b], ts[a:b])
            if tick is not None and (i + 1) % every == 0:
                elapsed += time.perf_counter() - start
                tick(every)
                start = time.perf_counter()
        elapsed += time.perf_counter() - start
        if tick is not None and self.steps % every:
            tick(self.steps % every)
        scores = {name: np.empty(int(n)) for name, n in zip(self.names, self.lengths, strict=True)}
        for k, name in enumerate(self.names):
            mine = self.keys == k
            scores[name][self.rows[mine]] = out[mine]
        return scores, elapsed


def wide_speed(
    corpus: Corpus, make: Callable[[], Learner], copies: int, rows: int, tick: Tick | None = None
) -> float | None:
    """Points per second of the batch path with `copies` copies of every file side by side, one key each, over
    the first `rows` rows (fewer if a file is shorter): one `score_learn` call of 58 x copies points per row."""
    rows = min([rows, *(f.n_rows for f in corpus.files)])
    if copies < 1 or rows < 1:
        return None
    values = np.tile(np.stack([f.values[:rows] for f in corpus.files]), (copies, 1)).T.copy()
    ts = np.tile(np.stack([unix_seconds(f)[:rows] for f in corpus.files]), (copies, 1)).T.copy()
    keys = np.arange(values.shape[1], dtype=np.int64)
    learner = make()
    start = time.perf_counter()
    for i in range(rows):
        learner.score_learn(keys, values[i], ts[i])
    elapsed = time.perf_counter() - start
    if tick is not None:
        tick(rows)
    return values.size / elapsed if elapsed > 0 else None


def _flat_index(lengths: IntArray, key: IntArray, step: IntArray) -> IntArray:
    offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    return np.asarray(offsets[key] + step, dtype=np.int64)


def run_pointwise(corpus: Corpus, make: Callable[[], Learner], rows: int, tick: Tick | None = None) -> dict[str, Any]:
    """The first `rows` scores of each file from a fresh learner fed one point per call (rows < 0: all)."""
    out: dict[str, FloatArray] = {}
    key = np.zeros(1, dtype=np.int64)
    for f in corpus.files:
        learner = make()
        n = f.n_rows if rows < 0 else min(rows, f.n_rows)
        ts = unix_seconds(f)
        scores = np.empty(n)
        for i in range(n):
            scores[i] = learner.score_learn(key, f.values[i : i + 1], ts[i : i + 1])[0]
        out[f.name] = scores
        if tick is not None:
            tick(n)
    return out


def compare(batch: dict[str, FloatArray], pointwise: dict[str, FloatArray]) -> tuple[int, float]:
    """Rows compared and the largest absolute difference between the two runs."""
    n, worst = 0, 0.0
    for name, scores in pointwise.items():
        n += scores.shape[0]
        if scores.shape[0]:
            worst = max(worst, float(np.max(np.abs(batch[name][: scores.shape[0]] - scores))))
    return n, worst


def hst_speed(corpus: Corpus, rows: int, tick: Tick | None = None) -> tuple[int, float] | None:
    """River's HalfSpaceTrees, point by point (score then learn) over the first `rows` rows of each file:
    points and points per second; None when River is not installed."""
    try:
        from river.anomaly import HalfSpaceTrees
    except ImportError:
        return None
    n, elapsed = 0, 0.0
    for f in corpus.files:
        model = HalfSpaceTrees(seed=42)
        lo, hi = float(f.values.min()), float(f.values.max())  # HST wants [0, 1]; scaling is not timed
        xs = [{"x": (v - lo) / (hi - lo or 1.0)} for v in f.values[:rows].tolist()]
        start = time.perf_counter()
        for x in xs:
            model.score_one(x)  # type: ignore[no-untyped-call]
            model.learn_one(x)  # type: ignore[no-untyped-call]
        elapsed += time.perf_counter() - start
        n += len(xs)
        if tick is not None:
            tick(len(xs))
    return n, n / elapsed if elapsed > 0 else float("inf")


def evaluate(
    corpus: Corpus,
    names: Sequence[str],
    check_rows: int,
    progress: Progress | None = None,
    wide: tuple[int, int] = (0, 0),
) -> list[DetectorRun]:
    """Null, random and each named learner: scores, the three profiles, batch speed and the batch check.
    `wide` = (copies, rows) also times the batch path on copies of the corpus side by side."""
    runs = [DetectorRun("null", run_detector(corpus, null_scores)),
            DetectorRun("random", run_detector(corpus, random_scores))]  # fmt: skip
    stream = Interleaved(corpus)
    for name in names:
        make = CATALOG[name]
        tick = _task(progress, f"{name}: batch", stream.steps)
        scores, seconds = stream.run(make(), tick)
        run = DetectorRun(name, scores, points_per_s=stream.n_points / seconds if seconds > 0 else None)
        run.default = name == DEFAULT
        if check_rows:
            total = sum(f.n_rows if check_rows < 0 else min(check_rows, f.n_rows) for f in corpus.files)
            pointwise = run_pointwise(corpus, make, check_rows, _task(progress, f"{name}: point by point", total))
            run.checked_rows, run.max_diff = compare(scores, pointwise)
        if wide[0] > 0:
            run.points_per_s_wide = wide_speed(corpus, make, *wide, _task(progress, f"{name}: wide", wide[1]))
        runs.append(run)
    for run in runs:
        run.results = score_all_profiles(corpus, run.scores)
    return runs


def _task(progress: Progress | None, description: str, total: int) -> Tick | None:
    if progress is None:
        return None
    task = progress.add_task(description, total=total)
    return lambda n: progress.advance(task, n)


def results_table(runs: Sequence[DetectorRun], hst: tuple[int, float] | None) -> Table:
    default = next((r for r in runs if r.default), None)
    table = Table(title="NAB v1.1, 58 files: normalized scores (threshold optimized per profile, in hindsight)")
    wide = any(r.points_per_s_wide is not None for r in runs)
    cols = ["detector", "standard", "reward_low_FP", "reward_low_FN", "points/s (NAB steps)"]
    cols += ["points/s (wide)"] * wide + ["batch = point (rows)"]
    for col in cols:
        table.add_column(col, justify="left" if col == "detector" else "right", no_wrap=col == "detector")
    for r in runs:
        check = "-" if r.max_diff is None else (f"yes ({r.checked_rows:,})" if r.max_diff <= 1e-9
                                                else f"NO (max diff {r.max_diff:.2g})")  # fmt: skip
        speeds = [r.points_per_s] + [r.points_per_s_wide] * wide
        label = f"{r.detector} (default)" if r.default else r.detector
        table.add_row(label, *(f"{r.results[p].normalized:.2f}" for p in PROFILES),
                      *("-" if v is None else f"{v:,.0f}" for v in speeds), check)  # fmt: skip
    if hst is not None:
        fast = [None] if default is None else [default.points_per_s, default.points_per_s_wide][: 1 + wide]
        ratios = [f"x{v / hst[1]:,.0f}" if v else "-" for v in fast]
        table.add_row("river HalfSpaceTrees", "-", "-", "-", f"{hst[1]:,.0f}", *["-"] * wide,
                      f"1 by 1 ({hst[0]:,})")  # fmt: skip
        table.add_row("  default's speed, times", "", "", "", *ratios, "")
    return table


def published_table() -> Table:
    table = Table(title="Published NAB scoreboard (NAB README, v1.0; for reference)")
    for col in ("detector", "standard", "reward_low_FP", "reward_low_FN"):
        table.add_column(col, justify="left" if col == "detector" else "right", no_wrap=col == "detector")
    for name, *figures in PUBLISHED:
        table.add_row(name, *(f"{v:.1f}" for v in figures))
    return table


def plot_series(corpus: Corpus, run: DetectorRun, names: Sequence[str], out_dir: Path) -> list[Path]:
    """One PNG per series: values with windows shaded, probation greyed, detections of `run` at its
    standard-profile threshold marked, and its score below."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir.mkdir(parents=True, exist_ok=True)
    threshold = run.results["standard"].threshold
    written = []
    for name in names:
        f = corpus.file(name)
        scores = run.scores[name]
        t = f.timestamps
        fig, (top, bottom) = plt.subplots(2, 1, figsize=(12, 5), sharex=True, height_ratios=(3, 1))
        top.plot(t, f.values, lw=0.6, color="#333")
        for a, b in f.windows.tolist():
            top.axvspan(t[a], t[b], color="#f4a261", alpha=0.3, lw=0)
        if f.probation:
            top.axvspan(t[0], t[f.probation - 1], color="#999", alpha=0.2, lw=0)
        hit = scores >= threshold
        hit[: f.probation] = False
        top.plot(t[hit], f.values[hit], "o", color="#d62828", ms=5, label=f"detections (score >= {threshold:.4g})")
        top.set_title(f"{name}: {run.detector}")
        top.legend(loc="upper left", fontsize=8)
        bottom.plot(t, scores, lw=0.6, color="#1d3557")
        bottom.axhline(threshold, color="#d62828", lw=0.6, ls="--")
        bottom.set_ylim(-0.02, 1.02)
        bottom.set_ylabel("score")
        fig.tight_layout()
        path = out_dir / f"{Path(name).stem}.png"
        fig.savefig(path, dpi=110)
        plt.close(fig)
        written.append(path)
    return written


def _resolve_series(corpus: Corpus, wanted: Sequence[str]) -> list[str]:
    by_stem = {f.stem: f.name for f in corpus.files} | {Path(f.stem).stem: f.name for f in corpus.files}
    out = []
    for w in wanted:
        name = w if w in corpus.names else by_stem.get(w)
        if name is None:
            raise CorpusError(f"no series {w!r} in the corpus", corpus.root)
        out.append(name)
    return out


def nab(
    data: Path = DEFAULT_DIR,
    windows: str = WINDOWS_FILE,
    learner: list[str] | None = None,
    check_rows: int = 2000,
    hst_rows: int = 500,
    wide: int = 64,
    wide_rows: int = 300,
    plot: Path | None = None,
    series: list[str] | None = None,
    json_out: bool = False,
) -> int:
    """Score the learners on the corpus and print the figures; the exit code: 0 done, 1 a learner's batch path
    differs from its point-by-point path, 2 bad input."""
    console = Console(stderr=True)
    names = list(learner) if learner else list(LEARNERS)
    unknown = sorted(set(names) - set(CATALOG))  # every learner by default; a variant when asked for
    try:
        if unknown:
            raise CorpusError(f"unknown learner(s) {unknown}; known: {sorted(CATALOG)}")
        corpus = load_corpus(data, windows)
        to_plot = _resolve_series(corpus, series or [s for s in DEFAULT_SERIES if s in corpus.names]) if plot else []
    except CorpusError as exc:
        console.print(f"[red]error:[/red] {exc}")
        return 2
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=json_out) as progress:
        runs = evaluate(corpus, names, check_rows, progress, (wide, wide_rows))
        total = sum(min(hst_rows, f.n_rows) for f in corpus.files)
        hst = hst_speed(corpus, hst_rows, _task(progress, "river HalfSpaceTrees", total)) if hst_rows else None
    if plot is not None:
        shown = next((r for r in runs if r.default), runs[-1])
        for path in plot_series(corpus, shown, to_plot, plot):
            console.print(f"wrote {path}")
    bad = [r.detector for r in runs if r.max_diff is not None and r.max_diff > 1e-9]
    if json_out:
        rows = [r.row() for r in runs]
        if hst is not None:
            none = dict.fromkeys(PROFILES.values())
            default = next((r for r in runs if r.default and r.points_per_s), None)
            speedup = None if default is None or default.points_per_s is None else default.points_per_s / hst[1]
            rows.append({"detector": "river_half_space_trees", **none, "points_per_s": hst[1], "default": False,
                         "points": hst[0], "default_speedup": speedup})  # fmt: skip
        sys.stdout.write(orjson.dumps(rows).decode() + "\n")
    else:
        out = Console(width=None if sys.stdout.isatty() else 132)
        out.print(results_table(runs, hst))
        out.print(published_table())
    if bad:
        console.print(f"[red]batch path differs from point by point for {bad}[/red]")
        return 1
    return 0
