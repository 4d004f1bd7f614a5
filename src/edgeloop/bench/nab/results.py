"""Detections in NAB's results layout, so NAB's own `run.py --optimize --score --normalize` can read them.

NAB reads `<results>/<detector>/<category>/<detector>_<name>.csv` with the header
`timestamp,value,anomaly_score,label`: the data file's rows in order, the detector's score per row, and 1 for
rows inside a window (NAB's scorer takes windows from the labels file, not from this column). Scores are
written with `repr`, the shortest text that reads back to the same float.

>>> import tempfile
>>> from edgeloop.bench.nab.corpus import Corpus, DataFile
>>> corpus = Corpus(files=(DataFile.build("cat/a.csv", [1.0, 2.0, 3.0], windows=[(1, 2)]),), profiles={})
>>> with tempfile.TemporaryDirectory() as tmp:
...     [path] = write_results(corpus, "mine", {"cat/a.csv": np.array([0.1, 0.25, 1 / 3])}, Path(tmp))
...     print(path.relative_to(tmp).as_posix()); print(path.read_text(), end="")
...     back = read_results(corpus, "mine", Path(tmp))["cat/a.csv"].tolist()
mine/cat/mine_a.csv
timestamp,value,anomaly_score,label
2015-01-01 00:00:00,1.0,0.1,0
2015-01-01 00:05:00,2.0,0.25,1
2015-01-01 00:10:00,3.0,0.3333333333333333,1
>>> back == [0.1, 0.25, 1 / 3]
True
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from edgeloop.bench.nab.corpus import Corpus, CorpusError, DataFile, FloatArray

HEADER = "timestamp,value,anomaly_score,label"
# NAB's normalize step splits result file names on "_" to find the detector
_DETECTOR_NAME = re.compile(r"^[A-Za-z0-9]+$")


def check_detector_name(detector: str) -> str:
    """NAB-safe detector name: letters and digits only (NAB splits file names on `_`)."""
    if not _DETECTOR_NAME.match(detector):
        raise ValueError(f"detector name {detector!r} must be letters and digits only, as NAB parses it")
    return detector


def results_path(results_dir: Path, detector: str, f: DataFile) -> Path:
    """Where NAB looks for a detector's results on one file."""
    return results_dir / detector / f.category / f"{detector}_{f.stem}"


def write_results(corpus: Corpus, detector: str, scores: Mapping[str, FloatArray], results_dir: Path) -> list[Path]:
    """Write one results CSV per corpus file; returns the paths written."""
    check_detector_name(detector)
    paths = []
    for f in corpus.files:
        s = np.asarray(scores[f.name], dtype=np.float64)
        if s.shape != (f.n_rows,):
            raise ValueError(f"{f.name}: {s.shape} scores for {f.n_rows} rows")
        stamps = np.char.replace(np.datetime_as_string(f.timestamps, unit="s"), "T", " ").tolist()
        labels = f.in_window().astype(np.int64).tolist()
        rows = [
            f"{t},{v!r},{a!r},{lab}" for t, v, a, lab in zip(stamps, f.values.tolist(), s.tolist(), labels, strict=True)
        ]
        path = results_path(results_dir, detector, f)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("\n".join([HEADER, *rows]) + "\n")
        paths.append(path)
    return paths


def read_results(corpus: Corpus, detector: str, results_dir: Path) -> dict[str, FloatArray]:
    """The `anomaly_score` column of a detector's results files (NAB's own published ones included)."""
    out: dict[str, FloatArray] = {}
    for f in corpus.files:
        path = results_path(results_dir, detector, f)
        try:
            header, *lines = path.read_text().splitlines()
        except OSError as exc:
            raise CorpusError(f"cannot read results: {exc.strerror}", path) from exc
        columns = header.split(",")
        if "anomaly_score" not in columns:
            raise CorpusError("no anomaly_score column", path)
        col = columns.index("anomaly_score")
        lines = [line for line in lines if line]
        if len(lines) != f.n_rows:
            raise CorpusError(f"{len(lines)} rows, the data file has {f.n_rows}", path)
        out[f.name] = np.array([line.split(",")[col] for line in lines], dtype=np.float64)
    return out
