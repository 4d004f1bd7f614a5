"""NAB's three profiles and tiny hand-built corpora."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from edgeloop.bench.nab import Corpus, DataFile, Profile

STANDARD = Profile("standard", tp_weight=1.0, fp_weight=0.11, fn_weight=1.0, tn_weight=1.0)
LOW_FP = Profile("reward_low_FP_rate", tp_weight=1.0, fp_weight=0.22, fn_weight=1.0, tn_weight=1.0)
LOW_FN = Profile("reward_low_FN_rate", tp_weight=1.0, fp_weight=0.11, fn_weight=2.0, tn_weight=1.0)
PROFILES = {p.name: p for p in (STANDARD, LOW_FP, LOW_FN)}
NAME = "cat/f.csv"
#: where the shared NAB corpus sits: next to the repository
REAL_CORPUS = (Path(__file__).resolve().parents[3] / ".." / "shared" / "benchmarks" / "nab").resolve()


def one_file(n: int, windows: Sequence[tuple[int, int]], probation: int = 0) -> Corpus:
    f = DataFile.build(NAME, np.zeros(n), windows=windows, probation=probation)
    return Corpus(files=(f,), profiles=PROFILES)


def detections(n: int, rows: Sequence[int]) -> dict[str, np.ndarray]:
    """Scores of 1.0 on `rows` and 0.0 elsewhere, for the file of `one_file`."""
    s = np.zeros(n)
    s[list(rows)] = 1.0
    return {NAME: s}
