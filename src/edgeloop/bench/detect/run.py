"""`edgeloop bench detect`: every chosen learner on a labelled corpus, at the agent's operating point and in
hindsight.

Protocol, per run and learner: a fresh learner (`set_groups` told that the run's metrics are one device), fed
the run's rows in time order, score then learn; the warm-up rows are learnt and not scored. The operating
point is the agent's: for a calibrated learner (a name ending in `_spot`, or any name followed by `@spot`,
which wraps it in `Calibrated` with its gate) the false-alarm budget's threshold for the run's metrics and
sampling period, and a sustain of 2 (`learn/alarm/budget.py`); for any other learner the agent's default
threshold and sustain. "Hindsight" is the best point-wise F1 over single thresholds, picked with the labels.

On Tennessee Eastman it also prints the per-fault detection rate (the fraction of the fault's rows flagged,
sustain 1) at a 1 % false-alarm rate per row (the 99 % limits of the published PCA results): for a calibrated
learner, τ = 1 - 0.01 / metrics, a union bound set without looking at any test data; beside them, PCA T² + Q
(`pca_reference.py`).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import orjson
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from edgeloop.bench.detect.corpus import (
    TEP_DEFAULT_DIR,
    Corpus,
    CorpusError,
    Run,
    read_batadal,
    read_csv_dir,
    read_nab,
    read_tep,
)
from edgeloop.bench.detect.pca_reference import PcaReference
from edgeloop.bench.detect.score import Figures, RunScores, alarms, best_in_hindsight, figures
from edgeloop.learn.alarm.budget import BUDGET_SUSTAIN, budget_threshold
from edgeloop.learn.base import Learner
from edgeloop.learn.calibrate import likelihood
from edgeloop.learn.catalog import CALIBRATED_SUFFIX, CATALOG, calibrated, commissioned_parts, rebase_after
from edgeloop.settings import AgentSettings

SPOT = "@spot"
#: the per-row false-alarm rate of the published PCA limits (99 %)
PUBLISHED_FAR = 0.01
#: a fault counts as detected when at least this fraction of its rows is flagged
DETECTED_RATE = 0.5
DEFAULT_LEARNERS = ("ewma_noise", "ewma_noise_spot", "device_mahalanobis@spot", "novelty_ensemble")


def make_learner(name: str, rebase_after_h: float | None = None) -> Learner:
    """A catalog name, or a catalog name followed by `@spot`: that learner calibrated and gated; its gated parts
    re-based after `rebase_after_h` hours on hold, as the agent's `agent.rebase_after_h` does."""
    base = name.removesuffix(SPOT)
    if base not in CATALOG:
        raise CorpusError(f"unknown learner {name!r}; known: {', '.join(sorted(CATALOG))}, each also with {SPOT}")
    learner = CATALOG[base]()
    return rebase_after(calibrated(learner) if name.endswith(SPOT) else learner, rebase_after_h)


def is_calibrated(name: str) -> bool:
    return name.endswith(SPOT) or name.endswith(CALIBRATED_SUFFIX)


def score_run(learner: Learner, run: Run) -> RunScores:
    """The run's rows through a fresh learner told that its metrics are one device; a commissioned learner
    learns the warm-up rows (a training run) as its normal model."""
    m = run.values.shape[1]
    for part in (learner, getattr(learner, "inner", None)):
        if part is not None and hasattr(part, "set_groups"):
            part.set_groups(np.zeros(m, dtype=np.int64))
    if run.warmup >= 2:
        for trained in commissioned_parts(learner):
            trained.commission(run.warmup)
    keys = np.tile(np.arange(m, dtype=np.int64), run.n_rows)
    ts = np.repeat(run.ts, m)
    scores = learner.score_learn(keys, run.values.ravel(), ts).reshape(run.n_rows, m)
    return RunScores(scores, run.label, run.warmup, run.sample_s)


@dataclass(slots=True)
class LearnerResult:
    learner: str
    at_budget: Figures
    hindsight: Figures
    scored: list[RunScores] = field(repr=False)
    tep_rates: dict[str, float] | None = None
    #: the same rates at the threshold that flags as many rows of the normal test run as PCA T² + Q does
    tep_matched: dict[str, float] | None = None

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"learner": self.learner, "operating_point": self.at_budget.as_dict(),
                               "hindsight": self.hindsight.as_dict()}  # fmt: skip
        if self.tep_rates is not None:
            out["tep_detection_rate_at_1pct"] = self.tep_rates
        if self.tep_matched is not None:
            out["tep_detection_rate_at_pca_false_alarm_rate"] = self.tep_matched
        return out


def operating_point(name: str, runs: Sequence[Run], budget: float) -> tuple[list[float], int]:
    if is_calibrated(name):
        return [budget_threshold(budget, r.sample_s, r.values.shape[1]) for r in runs], BUDGET_SUSTAIN
    agent = AgentSettings()
    return [agent.threshold] * len(runs), agent.sustain


def law_threshold(learner: Learner, tail: float) -> float:
    """The raw score of a learner whose scores come from its statistic's law (`likelihood` of the surprise,
    -log10 of the tail over `level`) at that tail probability: PCA T² and Q limits at 1 - `tail`."""
    levels = [part.level for part in commissioned_parts(learner)]
    level = levels[0] if levels else 6.0
    return float(likelihood(np.array(-np.log10(tail) / level)))


def tep_rates(runs: Sequence[Run], scored: Sequence[RunScores], threshold: float) -> dict[str, float]:
    """Per run: the fraction of its fault rows flagged (or, for the normal run, of its rows) at sustain 1."""
    out = {}
    for run, s in zip(runs, scored, strict=True):
        hit = alarms(s.device, threshold, 1)[run.warmup :]
        lab = run.label[run.warmup :]
        out[run.name] = float(hit[lab].mean()) if lab.any() else float(hit.mean())
    return out


def matched_rates(runs: Sequence[Run], scored: Sequence[RunScores], false_alarms: float) -> dict[str, float]:
    """`tep_rates` at the threshold that flags the fraction `false_alarms` of the normal test run's rows: the
    comparison at an equal measured false-alarm rate (the threshold is set on d00_te, so that run's rate is
    matched by construction and the faults' rates are the figures)."""
    normal = next(s for run, s in zip(runs, scored, strict=True) if not run.label.any())
    rows = normal.device[normal.warmup :]
    threshold = float(np.quantile(rows, 1.0 - false_alarms, method="inverted_cdf"))
    return tep_rates(runs, scored, threshold)


def pca_rates(corpus: Corpus) -> dict[str, float]:
    train = corpus.runs[0].values[: corpus.runs[0].warmup]
    ref = PcaReference.fit(train)
    out = {}
    for run in corpus.runs:
        flags = ref.flags(run.values[run.warmup :])
        lab = run.label[run.warmup :]
        out[run.name] = float(flags[lab].mean()) if lab.any() else float(flags.mean())
    return out


def load(corpus: str, labels: Sequence[str], ts_column: str, warmup: int, runs: int | None) -> Corpus:
    if corpus == "tep":
        loaded = read_tep(TEP_DEFAULT_DIR)
    elif corpus == "nab":
        loaded = read_nab(Path("../shared/benchmarks/nab"))
    elif corpus.startswith("nab:"):
        loaded = read_nab(Path(corpus[4:]))
    elif corpus.startswith("batadal:"):
        loaded = read_batadal(Path(corpus[8:]), warmup)
    else:
        if not labels:
            raise CorpusError("a CSV folder needs --label (the label column, repeatable)")
        loaded = read_csv_dir(Path(corpus), labels, ts_column, warmup)
    if runs is not None:
        loaded = Corpus(loaded.name, loaded.runs[:runs], loaded.source)
    return loaded


def evaluate(
    corpus: Corpus,
    names: Sequence[str],
    budget: float,
    tick: Callable[[str], None] | None = None,
    rebase_after_h: float | None = None,
) -> list[LearnerResult]:
    results = []
    for name in names:
        scored = []
        for run in corpus.runs:
            scored.append(score_run(make_learner(name, rebase_after_h), run))
            if tick is not None:
                tick(name)
        thresholds, sustain = operating_point(name, corpus.runs, budget)
        result = LearnerResult(name, figures(scored, thresholds, sustain), best_in_hindsight(scored), scored)
        if corpus.name == "tep" and is_calibrated(name):
            result.tep_rates = tep_rates(corpus.runs, scored, 1.0 - PUBLISHED_FAR / corpus.runs[0].values.shape[1])
        elif corpus.name == "tep" and commissioned_parts(make_learner(name)):
            result.tep_rates = tep_rates(corpus.runs, scored, law_threshold(make_learner(name), PUBLISHED_FAR))
        results.append(result)
    return results


def _fmt(x: float | None, digits: int = 3) -> str:
    return "-" if x is None or not np.isfinite(x) else f"{x:.{digits}f}"


def table(corpus: Corpus, results: Sequence[LearnerResult], budget: float) -> Table:
    t = Table(title=f"{corpus.name}: {len(corpus.runs)} runs; operating point: budget {budget:g} false alarms per "
              f"device-day (calibrated learners), else the agent's threshold and sustain")  # fmt: skip
    for col in ("learner", "τ", "sustain", "P", "R", "F1", "events", "delay s", "FA/dev-day", "early FA",
                "exc .9", "exc .99", "exc .999", "F1 hindsight"):  # fmt: skip
        t.add_column(col, justify="left" if col == "learner" else "right")
    for r in results:
        f, h = r.at_budget, r.hindsight
        exc = [f.exceedance[str(tau)] / (1 - tau) for tau in (0.9, 0.99, 0.999)]
        t.add_row(r.learner, _fmt(f.threshold, 6), str(f.sustain), _fmt(f.precision), _fmt(f.recall), _fmt(f.f1),
                  f"{f.events_found}/{f.events}", _fmt(f.delay_s, 0), _fmt(f.false_alarms_per_device_day, 2),
                  str(f.onsets_before_fault), *(f"{e:.2f}x" for e in exc), _fmt(h.f1))  # fmt: skip
    return t


def tep_table(results: Sequence[LearnerResult], pca: dict[str, float]) -> Table:
    shown = [r for r in results if r.tep_rates is not None]
    t = Table(title=f"Tennessee Eastman: fraction of each fault's rows flagged at a {PUBLISHED_FAR:.0%} false-alarm "
              f"rate per row (d00_te: the rate measured on the normal run)")  # fmt: skip
    t.add_column("run")
    t.add_column("PCA T²+Q (re-implemented)", justify="right")
    for r in shown:
        t.add_column(r.learner, justify="right")
    for name in pca:
        t.add_row(name, _fmt(pca[name]), *(_fmt(r.tep_rates[name]) for r in shown if r.tep_rates is not None))
    faults = [n for n in pca if n != "d00_te"]
    count = [sum(1 for n in faults if rates[n] >= DETECTED_RATE) for rates in
             [pca, *(r.tep_rates for r in shown if r.tep_rates is not None)]]  # fmt: skip
    t.add_row(f"faults with rate >= {DETECTED_RATE}", *(str(c) for c in count))
    matched = [sum(1 for n in faults if rates[n] >= DETECTED_RATE) for rates in
               [pca, *(r.tep_matched for r in shown if r.tep_matched is not None)]]  # fmt: skip
    t.add_row("the same, at PCA's rate on d00_te", *(str(c) for c in matched))
    return t


TEP_SOURCE = ("Published PCA results on these files: Russell, Chiang, Braatz, Chemometrics and Intelligent "
              "Laboratory Systems 51:81-93 (2000), and Chiang, Russell, Braatz, Fault Detection and Diagnosis "
              "in Industrial Systems, Springer 2001 (tables of T² and Q missed-detection rates, 99 % limits). "
              "The column above is this project's re-implementation of that method on the same files, not "
              "the published table.")  # fmt: skip


def plot_runs(corpus: Corpus, result: LearnerResult, budget: float, out_dir: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir.mkdir(parents=True, exist_ok=True)
    thresholds, sustain = operating_point(result.learner, corpus.runs, budget)
    written = []
    for run, s, thr in zip(corpus.runs, result.scored, thresholds, strict=True):
        fig, (top, bottom) = plt.subplots(2, 1, figsize=(12, 5), sharex=True)
        t = (run.ts - run.ts[0]) / 3600.0
        sd = np.nanstd(run.values[: max(run.warmup, 2)], axis=0)
        z = (run.values - np.nanmean(run.values[: max(run.warmup, 2)], axis=0)) / np.where(sd > 0, sd, 1.0)
        top.plot(t, np.clip(z, -10, 10), lw=0.4, alpha=0.5)
        hit = alarms(s.device, thr, sustain)
        hit[: run.warmup] = False
        for ax in (top, bottom):
            for a, b in run.events():
                ax.axvspan(t[a], t[b], color="#f4a261", alpha=0.3, lw=0)
            if run.warmup:
                ax.axvspan(t[0], t[run.warmup - 1], color="#999", alpha=0.15, lw=0)
        top.plot(t[hit], np.full(int(hit.sum()), 9.5), "|", color="#d62828", ms=8, label="alarm")
        top.set_ylabel("value (z, warm-up scale)")
        top.set_title(f"{run.name}: {result.learner}")
        bottom.plot(t, s.device, lw=0.6, color="#1d3557")
        bottom.axhline(thr, color="#d62828", lw=0.6, ls="--")
        bottom.set_ylim(-0.02, 1.02)
        bottom.set_ylabel("device score")
        bottom.set_xlabel("hours")
        fig.tight_layout()
        path = out_dir / f"{Path(run.name).stem}.png"
        fig.savefig(path, dpi=100)
        plt.close(fig)
        written.append(path)
    return written


def detect(
    corpus_name: str = "tep",
    learners: Sequence[str] | None = None,
    budget: float = 1.0,
    labels: Sequence[str] = (),
    ts_column: str = "timestamp",
    warmup: int = 0,
    runs: int | None = None,
    plot: Path | None = None,
    json_out: bool = False,
    rebase_after_h: float | None = None,
) -> int:
    """Score the learners on a corpus and print the figures; exit code 0 done, 2 bad input."""
    console = Console(stderr=True)
    names = list(learners or DEFAULT_LEARNERS)
    try:
        for name in names:
            make_learner(name)
        corpus = load(corpus_name, labels, ts_column, warmup, runs)
    except (CorpusError, OSError) as exc:
        console.print(f"[red]error:[/red] {exc}")
        return 2
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=json_out) as progress:
        task = progress.add_task(f"{corpus.name}", total=len(names) * len(corpus.runs))

        def tick(name: str) -> None:
            progress.update(task, advance=1, description=f"{corpus.name}: {name}")

        results = evaluate(corpus, names, budget, tick, rebase_after_h)
    pca = pca_rates(corpus) if corpus.name == "tep" else None
    if pca is not None:
        for result in results:
            if result.tep_rates is not None:
                result.tep_matched = matched_rates(corpus.runs, result.scored, pca["d00_te"])
    if plot is not None:
        for result in results:
            for path in plot_runs(corpus, result, budget, plot / result.learner.replace("@", "_")):
                console.print(f"wrote {path}")
    if json_out:
        doc: dict[str, Any] = {"corpus": corpus.name, "source": corpus.source, "budget": budget,
                               "runs": len(corpus.runs), "learners": [r.as_dict() for r in results]}  # fmt: skip
        if rebase_after_h is not None:
            doc["rebase_after_h"] = rebase_after_h
        if pca is not None:
            doc["tep_pca_reference"] = pca
            doc["tep_published_source"] = TEP_SOURCE
        sys.stdout.write(orjson.dumps(doc).decode() + "\n")
        return 0
    out = Console(width=None if sys.stdout.isatty() else 160)
    out.print(table(corpus, results, budget))
    out.print("exc .9 / .99 / .999: the fraction of metric scores >= τ on normal rows, over 1 - τ (1.00x: calibrated)")
    if pca is not None:
        out.print(tep_table(results, pca))
        out.print(TEP_SOURCE)
    return 0
