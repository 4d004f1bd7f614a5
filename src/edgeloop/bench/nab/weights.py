"""What each row of the corpus would earn or cost if it were a detection: NAB's scaled sigmoid by position.

Inside a window of width w ending at row r, row i sits at y = -(r - i + 1) / w and a detection there earns
A_TP · S(y) / S(-1): exactly A_TP on the window's first row, almost nothing on its last. Outside windows a
detection costs A_FP · S(y) with y = |i - r_prev| / (w_prev - 1) measured from the most recent window's right
edge, or the full A_FP before any window. Probationary rows are dropped. The layout here is profile-free
(the sigmoid values); `row_values` applies a profile's weights.

>>> from edgeloop.bench.nab.corpus import Corpus, DataFile
>>> f = DataFile.build("c/a.csv", np.zeros(12), windows=[(4, 7)], probation=2)
>>> lay = corpus_layout(Corpus(files=(f,), profiles={}))
>>> lay.window.tolist()
[-1, -1, 0, 0, 0, 0, -1, -1, -1, -1]
>>> np.round(lay.sigmoid, 3).tolist()
[-1.0, -1.0, 0.987, 0.954, 0.848, 0.555, -0.682, -0.931, -0.987, -0.997]
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edgeloop.bench.nab.corpus import Corpus, DataFile, FloatArray, IntArray
from edgeloop.bench.nab.profiles import Profile


def scaled_sigmoid(y: FloatArray | float) -> FloatArray:
    """S(y) = 2·σ(-5y) - 1 for y ≤ 3, and -1 beyond.

    >>> np.round(scaled_sigmoid(np.array([-1.0, -0.5, 0.0, 1.0, 3.5])), 5).tolist()
    [0.98661, 0.84828, 0.0, -0.98661, -1.0]
    """
    y = np.asarray(y, dtype=np.float64)
    with np.errstate(over="ignore"):
        s = 2.0 / (1.0 + np.exp(5.0 * y)) - 1.0
    return np.asarray(np.where(y > 3.0, -1.0, s), dtype=np.float64)


#: S(-1), the value of a detection on a window's first row, by which true positives are scaled
MAX_TP = float(scaled_sigmoid(-1.0))


@dataclass(frozen=True, slots=True)
class Layout:
    """The non-probationary rows of a corpus, files concatenated in corpus order.

    `window` is a corpus-wide window number (-1 outside windows), `file` the file number, `sigmoid` the
    unweighted S of the row. `window_file` gives each window's file; `scored` says whether a window keeps
    any row after probation (a window that does not is neither found nor missed, as in NAB).
    """

    file: IntArray
    window: IntArray
    sigmoid: FloatArray
    window_file: IntArray
    scored: np.ndarray[tuple[int], np.dtype[np.bool_]]

    @property
    def n_scored(self) -> int:
        return int(self.scored.sum())


def file_sigmoid(f: DataFile) -> tuple[IntArray, FloatArray]:
    """Per row of one file: its window number within the file (-1 outside) and its S value."""
    n = f.n_rows
    rows = np.arange(n, dtype=np.int64)
    if f.windows.shape[0] == 0:
        return np.full(n, -1, dtype=np.int64), np.full(n, -1.0)
    starts, ends = f.windows[:, 0], f.windows[:, 1]
    k = np.searchsorted(starts, rows, side="right") - 1
    inside = (k >= 0) & (rows <= ends[np.maximum(k, 0)])
    window = np.where(inside, k, -1)
    kk = np.maximum(k, 0)
    width = (ends[kk] - starts[kk] + 1).astype(np.float64)
    y_in = -(ends[kk] - rows + 1) / width
    # the most recent window whose right edge is before the row
    p = np.searchsorted(ends, rows, side="left") - 1
    pp = np.maximum(p, 0)
    y_out = np.abs(rows - ends[pp]) / (ends[pp] - starts[pp]).astype(np.float64)
    y = np.where(inside, y_in, y_out)
    s = np.where(inside | (p >= 0), scaled_sigmoid(y), -1.0)
    return window, np.asarray(s, dtype=np.float64)


def corpus_layout(corpus: Corpus) -> Layout:
    """The layout of every non-probationary row of the corpus."""
    files, windows, sigmoids, window_file, scored = [], [], [], [], []
    offset = 0
    for i, f in enumerate(corpus.files):
        window, s = file_sigmoid(f)
        p = f.probation
        files.append(np.full(f.n_rows - p, i, dtype=np.int64))
        windows.append(np.where(window[p:] >= 0, window[p:] + offset, -1))
        sigmoids.append(s[p:])
        window_file.append(np.full(f.windows.shape[0], i, dtype=np.int64))
        scored.append(f.windows[:, 1] >= p)
        offset += f.windows.shape[0]
    return Layout(
        file=np.concatenate(files) if files else np.zeros(0, dtype=np.int64),
        window=np.concatenate(windows) if windows else np.zeros(0, dtype=np.int64),
        sigmoid=np.concatenate(sigmoids) if sigmoids else np.zeros(0),
        window_file=np.concatenate(window_file) if window_file else np.zeros(0, dtype=np.int64),
        scored=np.concatenate(scored) if scored else np.zeros(0, dtype=bool),
    )


def row_values(layout: Layout, profile: Profile) -> FloatArray:
    """What each row earns (in a window) or costs (outside) as a detection under `profile`.

    Computed in NAB's order of operations, (S · A_TP) / S(-1) and S · A_FP, so the values match bit for bit.
    """
    tp = layout.sigmoid * profile.tp_weight / MAX_TP
    fp = layout.sigmoid * profile.fp_weight
    return np.asarray(np.where(layout.window >= 0, tp, fp), dtype=np.float64)
