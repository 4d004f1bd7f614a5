"""The Numenta Anomaly Benchmark: its corpus, an exact and fast copy of its scoring rules, its reference
detectors, its results layout, and a check against NAB's own scorer (see docs/nab.md).
"""

from edgeloop.bench.nab.corpus import DEFAULT_DIR, Corpus, CorpusError, DataFile, load_corpus, probation_length
from edgeloop.bench.nab.detectors import (
    NAB_RANDOM_SEED,
    Detector,
    learner_detector,
    null_scores,
    random_detector,
    random_scores,
    rolling_zscore,
    run_detector,
)
from edgeloop.bench.nab.evaluate import DetectorRun, Interleaved, nab
from edgeloop.bench.nab.parity import (
    NabFigures,
    NabRunError,
    ParityRow,
    check_parity,
    read_nab_figures,
    run_nab_scorer,
)
from edgeloop.bench.nab.profiles import PROFILE_NAMES, Profile, ProfileError, load_profiles, parse_profiles
from edgeloop.bench.nab.results import read_results, results_path, write_results
from edgeloop.bench.nab.scoring import (
    ProfileResult,
    ThresholdCurve,
    normalize,
    null_raw_score,
    score_all_profiles,
    score_corpus,
    threshold_curve,
)
from edgeloop.bench.nab.weights import MAX_TP, corpus_layout, scaled_sigmoid

__all__ = [
    "DEFAULT_DIR",
    "MAX_TP",
    "NAB_RANDOM_SEED",
    "PROFILE_NAMES",
    "Corpus",
    "CorpusError",
    "DataFile",
    "Detector",
    "DetectorRun",
    "Interleaved",
    "NabFigures",
    "NabRunError",
    "ParityRow",
    "Profile",
    "ProfileError",
    "ProfileResult",
    "ThresholdCurve",
    "check_parity",
    "corpus_layout",
    "learner_detector",
    "load_corpus",
    "load_profiles",
    "nab",
    "normalize",
    "null_raw_score",
    "null_scores",
    "parse_profiles",
    "probation_length",
    "random_detector",
    "random_scores",
    "read_nab_figures",
    "read_results",
    "results_path",
    "rolling_zscore",
    "run_detector",
    "run_nab_scorer",
    "scaled_sigmoid",
    "score_all_profiles",
    "score_corpus",
    "threshold_curve",
    "write_results",
]
