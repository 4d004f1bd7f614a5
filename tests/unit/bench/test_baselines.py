"""The null and random baselines on the real corpus, and the profiles as NAB ships them."""

from __future__ import annotations

import random

import numpy as np
import pytest

from edgeloop.bench.nab import Corpus, null_scores, random_scores, run_detector, score_all_profiles


def test_the_null_detector_scores_zero_in_every_profile(real_corpus: Corpus) -> None:
    results = score_all_profiles(real_corpus, run_detector(real_corpus, null_scores))
    assert {p: r.normalized for p, r in results.items()} == {
        "standard": 0.0,
        "reward_low_FP_rate": 0.0,
        "reward_low_FN_rate": 0.0,
    }
    assert {r.raw for r in results.values()} == {-116.0, -232.0}


def test_the_shipped_profiles_are_nabs(real_corpus: Corpus) -> None:
    weights = {p.name: (p.tp_weight, p.fp_weight, p.fn_weight) for p in real_corpus.profiles.values()}
    assert weights == {
        "standard": (1.0, 0.11, 1.0),
        "reward_low_FP_rate": (1.0, 0.22, 1.0),
        "reward_low_FN_rate": (1.0, 0.11, 2.0),
    }


def test_the_random_detector_restarts_pythons_seed_42_stream_on_every_file() -> None:
    rng = random.Random(42)
    stream = [rng.random() for _ in range(5)]
    assert random_scores(np.zeros(5)).tolist() == stream
    assert random_scores(np.zeros(3)).tolist() == stream[:3]
    assert stream[:2] == [0.6394267984578837, 0.025010755222666936]  # NAB's stored random results start so


def test_the_random_detector_scores_what_nabs_own_scorer_gives(real_corpus: Corpus) -> None:
    # NAB's run.py (commit ea702d7) on the same scores: 17.655439698217567, 7.480034938338053, 27.57489083329448
    results = score_all_profiles(real_corpus, run_detector(real_corpus, random_scores))
    assert results["standard"].normalized == pytest.approx(17.655439698217567, abs=1e-9)
    assert results["reward_low_FP_rate"].normalized == pytest.approx(7.480034938338053, abs=1e-9)
    assert results["reward_low_FN_rate"].normalized == pytest.approx(27.57489083329448, abs=1e-9)
    assert (results["standard"].tp, results["standard"].fp) == (66, 508)
