"""Labelled runs of one device for `edgeloop bench detect`, and the readers that make them.

A `Run` is one device's rows: a timestamp, one value per metric, a label per row (True: inside a labelled
fault) and `warmup` leading rows that the learners learn but that are not scored (a training run prepended, or
NAB's probationary period). Readers:

- `read_csv_dir`: the generic input, one CSV per run: a timestamp column (unix seconds or ISO 8601), one column
  per metric, and label column(s) whose non-zero values mark fault rows;
- `read_nab`: the NAB corpus (one metric per run, the anomaly windows as labels, the probation as warm-up);
- `read_tep`: the Tennessee Eastman process data of Braatz et al. (52 metrics every 3 min; the normal
  training run d00.dat as every run's warm-up, then a test run whose fault starts at row 160);
- `read_batadal`: BATADAL's water distribution SCADA data (43 metrics every hour, attacks labelled in
  `ATT_FLAG`), its normal year as the warm-up where it is given.

>>> run = Run.build("r1", np.arange(6.0) * 60, np.zeros((6, 2)), ["a", "b"], [0, 0, 0, 1, 1, 0], warmup=2)
>>> run.n_rows, run.events(), run.sample_s
(6, [(3, 4)], 60.0)
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from numpy.typing import ArrayLike, NDArray

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]

#: Tennessee Eastman: 3 minutes a sample, the fault introduced after 8 hours (row 160 of a test run)
TEP_SAMPLE_S = 180.0
TEP_FAULT_ROW = 160
TEP_DEFAULT_DIR = Path("benchmarks/tep")
TEP_METRICS = [f"xmeas_{i}" for i in range(1, 42)] + [f"xmv_{i}" for i in range(1, 12)]


class CorpusError(ValueError):
    """A corpus that cannot be read; the message names the file."""


@dataclass(frozen=True, slots=True)
class Run:
    """One device's labelled rows. `values` is (rows, metrics); rows before `warmup` are learnt, not scored."""

    name: str
    ts: FloatArray
    values: FloatArray
    metrics: tuple[str, ...]
    label: BoolArray
    warmup: int = 0

    @classmethod
    def build(
        cls, name: str, ts: ArrayLike, values: ArrayLike, metrics: Sequence[str], label: ArrayLike, warmup: int = 0
    ) -> Run:
        v = np.asarray(values, dtype=np.float64)
        if v.ndim == 1:
            v = v[:, None]
        t, lab = np.asarray(ts, dtype=np.float64), np.asarray(label).astype(bool)
        if not (t.shape[0] == v.shape[0] == lab.shape[0]) or v.shape[1] != len(metrics):
            raise CorpusError(f"{name}: {t.shape[0]} timestamps, {v.shape} values, {lab.shape[0]} labels")
        return cls(name, t, v, tuple(metrics), lab, int(warmup))

    @property
    def n_rows(self) -> int:
        return int(self.ts.shape[0])

    @property
    def sample_s(self) -> float:
        """The usual sampling period (median step), in seconds."""
        steps = np.diff(self.ts)
        return float(np.median(steps[steps > 0])) if np.any(steps > 0) else 1.0

    def events(self) -> list[tuple[int, int]]:
        """The labelled faults of the scored rows, as inclusive (first row, last row) pairs."""
        lab = self.label.copy()
        lab[: self.warmup] = False
        edges = np.diff(np.r_[0, lab.astype(np.int8), 0])
        return list(zip(np.flatnonzero(edges == 1).tolist(), (np.flatnonzero(edges == -1) - 1).tolist(), strict=True))


@dataclass(frozen=True, slots=True)
class Corpus:
    name: str
    runs: tuple[Run, ...]
    source: str = ""


def _parse_ts(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        return datetime.fromisoformat(text.strip().replace(" ", "T")).timestamp()


def read_csv_dir(
    folder: Path, labels: Sequence[str], ts_column: str = "timestamp", warmup: int = 0, sep: str = ","
) -> Corpus:
    """Every `*.csv` of `folder` is a run: `ts_column`, the `labels` columns (any non-zero value is a fault row),
    every other column a metric."""
    files = sorted(folder.glob("*.csv"))
    if not files:
        raise CorpusError(f"{folder}: no *.csv files")
    runs = []
    for path in files:
        try:
            with path.open(newline="") as fh:
                rows = list(csv.reader(fh, delimiter=sep))
        except (UnicodeDecodeError, csv.Error) as exc:
            raise CorpusError(f"{path}: not a CSV file ({exc})") from None
        if not rows:
            raise CorpusError(f"{path}: empty file, not even a header")
        header, body = [h.strip() for h in rows[0]], [(n, r) for n, r in enumerate(rows[1:], start=2) if r]
        missing = [c for c in (ts_column, *labels) if c not in header]
        if missing:
            raise CorpusError(f"{path}: no column(s) {missing}; columns: {header}")
        ti, li = header.index(ts_column), [header.index(c) for c in labels]
        mi = [i for i, h in enumerate(header) if i != ti and i not in li]
        ts, lab, vals = [], [], []
        for line, r in body:
            try:
                ts.append(_parse_ts(r[ti]))
                lab.append(any(float(r[i] or 0) != 0 for i in li))
                vals.append([float(r[i]) if r[i] not in ("", "nan") else np.nan for i in mi])
            except IndexError:
                raise CorpusError(f"{path}, line {line}: {len(r)} fields, the header has {len(header)}") from None
            except ValueError as exc:
                raise CorpusError(f"{path}, line {line}: not a number or a time ({exc})") from None
        runs.append(Run.build(path.stem, np.array(ts), np.array(vals), [header[i] for i in mi], np.array(lab),
                              min(warmup, len(body))))  # fmt: skip
    return Corpus(folder.name, tuple(runs))


def read_nab(folder: Path) -> Corpus:
    """The NAB corpus as runs of one metric: labels are the anomaly windows, the warm-up is the probation."""
    from edgeloop.bench.nab.corpus import load_corpus  # the NAB reader and its row mapping of windows

    try:
        nab = load_corpus(folder)
    except ValueError as exc:
        raise CorpusError(str(exc)) from exc
    runs = []
    for f in nab.files:
        ts = f.timestamps.astype("datetime64[s]").astype(np.int64).astype(np.float64)
        runs.append(Run.build(f.name, ts, f.values, ["value"], f.in_window(), f.probation))
    return Corpus("nab", tuple(runs), "Numenta Anomaly Benchmark v1.1 (../shared/benchmarks/nab/SOURCE.md)")


BATADAL_TRAIN, BATADAL_TEST = "BATADAL_dataset03.csv", "BATADAL_dataset04.csv"


def _read_batadal_csv(path: Path) -> tuple[FloatArray, FloatArray, list[str], BoolArray]:
    """One of BATADAL's CSV files: `DATETIME` as dd/mm/yy HH (UTC), `ATT_FLAG` 1 in an attack (-999 or 0
    otherwise), every other column a metric."""
    with path.open(newline="") as fh:
        rows = [r for r in csv.reader(fh) if r]
    header = [h.strip() for h in rows[0]]
    if "DATETIME" not in header:
        raise CorpusError(f"{path}: no DATETIME column; is it one of BATADAL's files?")
    ti = header.index("DATETIME")
    li = header.index("ATT_FLAG") if "ATT_FLAG" in header else None
    mi = [i for i in range(len(header)) if i not in (ti, li)]
    try:
        when = [datetime.strptime(r[ti].strip(), "%d/%m/%y %H").replace(tzinfo=UTC).timestamp() for r in rows[1:]]
        values = np.array([[float(r[i]) for i in mi] for r in rows[1:]], dtype=np.float64)
        label = np.array([li is not None and float(r[li]) == 1.0 for r in rows[1:]], dtype=bool)
    except (ValueError, IndexError) as exc:
        raise CorpusError(f"{path}: a row that is not BATADAL's format ({exc})") from None
    return np.array(when), values, [header[i] for i in mi], label


def read_batadal(path: Path, warmup: int = 0) -> Corpus:
    """BATADAL (Taormina et al., J. Water Resour. Plann. Manage. 144(8), 2018): `path` is training dataset 2
    (`BATADAL_dataset04.csv`, attacks labelled) with its first `warmup` rows as the warm-up, or a folder holding
    it, where the normal year `BATADAL_dataset03.csv`, if present, is the warm-up instead (TE's protocol: a
    model of the normal run only). Its labels are partial by design (some attacks of dataset 2 were left
    unlabelled for the competition), so false alarms on its "normal" rows are an upper bound."""
    test_path = path / BATADAL_TEST if path.is_dir() else path
    if not test_path.exists():
        raise CorpusError(f"{test_path}: missing (docs/learners.md says where BATADAL comes from)")
    ts, values, metrics, label = _read_batadal_csv(test_path)
    train_path = test_path.parent / BATADAL_TRAIN
    if path.is_dir() and train_path.exists():
        t0, v0, m0, _ = _read_batadal_csv(train_path)
        if m0 != metrics:
            raise CorpusError(f"{train_path}: its columns differ from {test_path.name}'s")
        ts, values = np.r_[t0 - (t0[-1] - ts[0]) - 3600.0, ts], np.vstack([v0, values])
        label, warmup = np.r_[np.zeros(t0.shape[0], dtype=bool), label], t0.shape[0]
    run = Run.build(test_path.stem, ts, values, metrics, label, min(warmup, ts.shape[0]))
    return Corpus("batadal", (run,), "BATADAL, Taormina et al. 2018 (docs/learners.md)")


def read_tep(folder: Path = TEP_DEFAULT_DIR, faults: Sequence[int] | None = None) -> Corpus:
    """Braatz's Tennessee Eastman runs: d00_te (normal) and d01_te .. d21_te (fault from row 160), each after the
    normal training run d00.dat (500 rows, stored transposed) as its warm-up."""
    data = folder / "data"
    train_path = data / "d00.dat.gz"
    if not train_path.exists():
        raise CorpusError(f"{train_path}: missing (benchmarks/tep/SOURCE.md says where it comes from)")
    train = np.loadtxt(train_path)
    train = train.T if train.shape[0] == len(TEP_METRICS) else train
    runs = []
    for fault in range(22) if faults is None else faults:
        test = np.loadtxt(data / f"d{fault:02d}_te.dat.gz")
        values = np.vstack([train, test])
        n_train = train.shape[0]
        ts = TEP_SAMPLE_S * (np.arange(values.shape[0]) - n_train)
        label = np.zeros(values.shape[0], dtype=bool)
        if fault:
            label[n_train + TEP_FAULT_ROW :] = True
        runs.append(Run.build(f"d{fault:02d}_te", ts, values, TEP_METRICS, label, n_train))
    return Corpus("tep", tuple(runs), "Tennessee Eastman, Braatz et al. (benchmarks/tep/SOURCE.md)")
