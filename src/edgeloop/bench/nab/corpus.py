"""The NAB corpus: 58 series, their anomaly windows as row ranges, and each file's probationary period.

Rows, not wall-clock time, are the unit: 25 of the files have gaps, repeated or even backward timestamps,
and NAB's scorer indexes windows by row. A window edge maps to the first row carrying its timestamp, as
NAB's `list.index` does.

>>> f = DataFile.build("realX/tiny.csv", np.arange(20.0), windows=[(10, 13)])
>>> f.probation, f.category, f.stem, f.in_window()[9:15].tolist()
(3, 'realX', 'tiny.csv', [False, True, True, True, True, False])
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import orjson
from numpy.typing import NDArray

from edgeloop.bench.nab.profiles import Profile, load_profiles

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
TimeArray = NDArray[np.datetime64]

#: the corpus as shipped next to the repository: `<repo>/../shared/benchmarks/nab`, from the working directory
DEFAULT_DIR = Path("../shared/benchmarks/nab")
WINDOWS_FILE = "labels/combined_windows.json"
PROFILES_FILE = "config/profiles.json"
PROBATION_FRACTION = 0.15
#: NAB caps the probationary period at 15 % of 5,000 rows
PROBATION_CAP = 750


class CorpusError(ValueError):
    """A corpus that cannot be scored; `path` names the file or folder at fault."""

    def __init__(self, reason: str, path: Path | str | None = None) -> None:
        self.reason, self.path = reason, path
        super().__init__(f"{path}: {reason}" if path is not None else reason)


def probation_length(n_rows: int) -> int:
    """Rows at the start of a file that are not scored: min(floor(0.15 N), 750).

    >>> probation_length(4032), probation_length(22695)
    (604, 750)
    """
    return min(int(np.floor(PROBATION_FRACTION * n_rows)), PROBATION_CAP)


@dataclass(frozen=True, slots=True)
class DataFile:
    """One series. `windows` holds inclusive `[start_row, end_row]` pairs, in order, not overlapping."""

    name: str
    timestamps: TimeArray
    values: FloatArray
    windows: IntArray
    probation: int

    @classmethod
    def build(
        cls,
        name: str,
        values: Sequence[float] | FloatArray,
        windows: Iterable[tuple[int, int]] | IntArray = (),
        timestamps: TimeArray | None = None,
        probation: int | None = None,
    ) -> DataFile:
        """A checked file; timestamps default to 5-minute steps, probation to NAB's rule."""
        vals = np.asarray(values, dtype=np.float64)
        n = vals.shape[0]
        if timestamps is None:
            timestamps = np.datetime64("2015-01-01T00:00:00") + np.arange(n) * np.timedelta64(300, "s")
        wins = np.asarray(list(windows) if not isinstance(windows, np.ndarray) else windows, dtype=np.int64)
        wins = wins.reshape(-1, 2)
        _check_windows(name, wins, n)
        if timestamps.shape[0] != n:
            raise CorpusError(f"{timestamps.shape[0]} timestamps for {n} values", name)
        prob = probation_length(n) if probation is None else probation
        if not 0 <= prob <= n:
            raise CorpusError(f"probation {prob} outside 0..{n}", name)
        return cls(name=name, timestamps=timestamps, values=vals, windows=wins, probation=prob)

    @property
    def n_rows(self) -> int:
        return int(self.values.shape[0])

    @property
    def category(self) -> str:
        return self.name.rsplit("/", 1)[0] if "/" in self.name else ""

    @property
    def stem(self) -> str:
        """The file name without its category folder."""
        return self.name.rsplit("/", 1)[-1]

    def in_window(self) -> NDArray[np.bool_]:
        """Per row: inside some window."""
        edges = np.zeros(self.n_rows + 1, dtype=np.int64)
        np.add.at(edges, self.windows[:, 0], 1)
        np.add.at(edges, self.windows[:, 1] + 1, -1)
        return np.asarray(np.cumsum(edges[:-1]) > 0)


@dataclass(frozen=True, slots=True)
class Corpus:
    """Files in a fixed order (sorted by name) and the profiles to score them with."""

    files: tuple[DataFile, ...]
    profiles: Mapping[str, Profile]
    root: Path | None = None
    _index: dict[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        index = {f.name: i for i, f in enumerate(self.files)}
        if len(index) != len(self.files):
            raise CorpusError("duplicate file names", self.root)
        object.__setattr__(self, "_index", index)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.files)

    @property
    def n_windows(self) -> int:
        """All windows of the labels file, the count NAB's perfect score is built from."""
        return sum(int(f.windows.shape[0]) for f in self.files)

    @property
    def n_rows(self) -> int:
        return sum(f.n_rows for f in self.files)

    def file(self, name: str) -> DataFile:
        return self.files[self._index[name]]


def _check_windows(name: str, wins: IntArray, n: int) -> None:
    if wins.size == 0:
        return
    if wins.min() < 0 or wins.max() >= n:
        raise CorpusError(f"window rows outside 0..{n - 1}", name)
    if np.any(wins[:, 1] - wins[:, 0] < 1):
        # NAB divides by (width - 1) to place a false positive after a window
        raise CorpusError("a window must span at least two rows", name)
    if np.any(wins[1:, 0] <= wins[:-1, 1]):
        raise CorpusError("windows overlap or are out of order", name)


def read_series(path: Path) -> tuple[TimeArray, FloatArray]:
    """Timestamps (datetime64[s]) and values of a `timestamp,value` CSV file."""
    try:
        text = path.read_text()
    except OSError as exc:
        raise CorpusError(f"cannot read: {exc.strerror}", path) from exc
    header, _, body = text.partition("\n")
    if header.strip() != "timestamp,value":
        raise CorpusError(f"header must be 'timestamp,value', got {header.strip()!r}", path)
    lines = body.splitlines()
    while lines and not lines[-1].strip():
        lines.pop()
    cells = ",".join(lines).split(",")
    if len(cells) != 2 * len(lines):
        bad = next(i for i, line in enumerate(lines) if line.count(",") != 1)
        raise CorpusError(f"line {bad + 2} does not have two fields", path)
    try:
        stamps = np.array(cells[0::2], dtype="datetime64[s]")
        values = np.array(cells[1::2], dtype=np.float64)
    except ValueError as exc:
        raise CorpusError(f"bad timestamp or value: {exc}", path) from exc
    return stamps, values


def window_rows(stamps: TimeArray, limits: Sequence[Sequence[str]], name: str) -> IntArray:
    """Map `[start, end]` timestamp strings to inclusive row pairs (the first row with each timestamp)."""
    rows = np.zeros((len(limits), 2), dtype=np.int64)
    for k, pair in enumerate(limits):
        if len(pair) != 2:
            raise CorpusError(f"window {k} is not a [start, end] pair", name)
        for j, text in enumerate(pair):
            hits = np.flatnonzero(stamps == np.datetime64(text.replace(" ", "T")))
            if hits.size == 0:
                raise CorpusError(f"window edge {text} is not a timestamp of the file", name)
            rows[k, j] = hits[0]
    return rows


def load_corpus(data_dir: Path | str | None = None, windows_file: str = WINDOWS_FILE) -> Corpus:
    """Read every `data/<category>/<name>.csv`, the windows and the profiles of a NAB corpus folder.

    `data_dir` defaults to `DEFAULT_DIR` resolved from the current working directory.
    """
    root = (Path.cwd() / (DEFAULT_DIR if data_dir is None else Path(data_dir))).resolve()
    if not (root / "data").is_dir():
        raise CorpusError("no NAB corpus here (expected data/, labels/ and config/)", root)
    labels_path = root / windows_file
    try:
        labels = orjson.loads(labels_path.read_bytes())
    except (OSError, orjson.JSONDecodeError) as exc:
        raise CorpusError(f"cannot read windows: {exc}", labels_path) from exc
    paths = sorted((root / "data").glob("*/*.csv"))
    names = [p.relative_to(root / "data").as_posix() for p in paths]
    missing = sorted(set(names) ^ set(labels))
    if missing:
        raise CorpusError(f"data files and window keys differ: {missing[:5]}", labels_path)
    files = []
    for path, name in zip(paths, names, strict=True):
        stamps, values = read_series(path)
        wins = window_rows(stamps, labels[name], name)
        files.append(DataFile.build(name, values, wins, timestamps=stamps))
    return Corpus(files=tuple(files), profiles=load_profiles(root / PROFILES_FILE), root=root)
