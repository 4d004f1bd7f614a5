"""Run NAB's own scorer on our detections and set its figures beside ours.

NAB's code is never imported or copied: given a NAB checkout and a Python that can run it (pandas and
simplejson installed), its `run.py --optimize --score --normalize` runs as a subprocess on results written
by `results.write_results`, with its thresholds file kept in the work folder so the checkout is not changed.
NAB's normalize step needs the null detector's results, so `null` is always scored too.
"""

from __future__ import annotations

import csv
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import orjson

from edgeloop.bench.nab.corpus import Corpus, FloatArray
from edgeloop.bench.nab.detectors import null_scores, run_detector
from edgeloop.bench.nab.results import check_detector_name, write_results
from edgeloop.bench.nab.scoring import ProfileResult, score_all_profiles


class NabRunError(RuntimeError):
    """NAB's scorer failed; `returncode` and the tail of its output are kept."""

    def __init__(self, returncode: int, output: str) -> None:
        self.returncode, self.output = returncode, output
        super().__init__(f"NAB's run.py exited with {returncode}:\n{output}")


@dataclass(frozen=True, slots=True)
class NabFigures:
    """What NAB wrote for one detector and profile: thresholds file, `*_scores.csv` and `final_results.json`."""

    detector: str
    profile: str
    threshold: float
    optimizer_raw: float
    raw: float
    normalized: float
    tp: int
    tn: int
    fp: int
    fn: int
    per_file: dict[str, float]


@dataclass(frozen=True, slots=True)
class ParityRow:
    """Our result and NAB's for one detector and profile."""

    detector: str
    profile: str
    ours: ProfileResult
    nab: NabFigures

    @property
    def normalized_diff(self) -> float:
        return self.ours.normalized - self.nab.normalized

    @property
    def raw_diff(self) -> float:
        return self.ours.raw - self.nab.raw

    @property
    def per_file_max_diff(self) -> float:
        return max((abs(v - self.nab.per_file[k]) for k, v in self.ours.per_file.items()), default=0.0)

    @property
    def same_counts(self) -> bool:
        o, n = self.ours, self.nab
        return (o.tp, o.tn, o.fp, o.fn) == (n.tp, n.tn, n.fp, n.fn)


def run_nab_scorer(
    nab_dir: Path,
    python: Path | str,
    work_dir: Path,
    detectors: Sequence[str],
    corpus_dir: Path,
    timeout: float | None = 3600.0,
) -> dict[tuple[str, str], NabFigures]:
    """Run NAB's optimize, score and normalize steps on `work_dir/results`; figures by (detector, profile)."""
    if not (nab_dir / "run.py").is_file():
        raise FileNotFoundError(f"{nab_dir}: not a NAB checkout (no run.py)")
    results, thresholds = work_dir / "results", work_dir / "thresholds.json"
    names = [check_detector_name(d) for d in detectors]
    command = [
        str(python), "run.py", "--optimize", "--score", "--normalize", "--skipConfirmation",
        "-d", ",".join(names),
        "--dataDir", str(corpus_dir / "data"),
        "--windowsFile", str(corpus_dir / "labels" / "combined_windows.json"),
        "--resultsDir", str(results),
        "-p", str(corpus_dir / "config" / "profiles.json"),
        "-t", str(thresholds),
    ]  # fmt: skip
    done = subprocess.run(command, cwd=nab_dir, capture_output=True, text=True, timeout=timeout, check=False)
    if done.returncode != 0:
        raise NabRunError(done.returncode, (done.stdout + done.stderr)[-4000:])
    return read_nab_figures(work_dir, names)


def read_nab_figures(work_dir: Path, detectors: Sequence[str]) -> dict[tuple[str, str], NabFigures]:
    """The figures a NAB run left in `work_dir` (`thresholds.json`, `results/`), by (detector, profile)."""
    results = work_dir / "results"
    chosen = orjson.loads((work_dir / "thresholds.json").read_bytes())
    final = orjson.loads((results / "final_results.json").read_bytes())
    figures = {}
    for detector in detectors:
        for profile, best in chosen[detector].items():
            with (results / detector / f"{detector}_{profile}_scores.csv").open(newline="") as fh:
                rows = list(csv.DictReader(fh))
            total = rows[-1]
            figures[detector, profile] = NabFigures(
                detector=detector,
                profile=profile,
                threshold=float(best["threshold"]),
                optimizer_raw=float(best["score"]),
                raw=float(total["Score"]),
                normalized=float(final[detector][profile]),
                tp=int(total["TP"]),
                tn=int(total["TN"]),
                fp=int(total["FP"]),
                fn=int(total["FN"]),
                per_file={r["File"]: float(r["Score"]) for r in rows[:-1]},
            )
    return figures


def check_parity(
    corpus: Corpus,
    detectors: Mapping[str, Mapping[str, FloatArray]],
    nab_dir: Path,
    python: Path | str,
    work_dir: Path,
) -> list[ParityRow]:
    """Score each detector's scores with our scorer and with NAB's; one row per detector and profile."""
    if corpus.root is None:
        raise ValueError("the corpus must come from a folder NAB can read (load_corpus)")
    all_scores = dict(detectors)
    all_scores.setdefault("null", run_detector(corpus, null_scores))
    for name, scores in all_scores.items():
        write_results(corpus, name, scores, work_dir / "results")
    nab = run_nab_scorer(nab_dir, python, work_dir, list(all_scores), corpus.root)
    rows = []
    for name, scores in all_scores.items():
        for profile, ours in score_all_profiles(corpus, scores).items():
            rows.append(ParityRow(name, profile, ours, nab[name, profile]))
    return rows
