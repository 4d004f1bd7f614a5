"""Normalization, the null baseline, and the checks on the scores handed in."""

from __future__ import annotations

import math

import numpy as np
import pytest
from tests.unit.bench.builders import NAME, one_file

from edgeloop.bench.nab import normalize, null_raw_score, score_all_profiles, score_corpus


def test_the_stored_numenta_raw_score_normalizes_to_70_10() -> None:
    assert round(normalize(46.6345, -116.0, 116.0), 2) == 70.10


def test_normalization_puts_null_at_0_and_perfect_at_100() -> None:
    assert (normalize(-232.0, -232.0, 116.0), normalize(116.0, -232.0, 116.0)) == (0.0, 100.0)


def test_normalization_of_a_corpus_without_windows_is_nan() -> None:
    assert math.isnan(normalize(-0.5, 0.0, 0.0))


def test_the_null_baseline_is_every_window_missed() -> None:
    corpus = one_file(400, [(100, 149), (250, 299)])
    assert (null_raw_score(corpus, "standard"), null_raw_score(corpus, "reward_low_FN_rate")) == (-2.0, -4.0)


def test_a_perfect_detector_scores_100_in_every_profile() -> None:
    corpus = one_file(400, [(100, 149), (250, 299)])
    scores = {NAME: np.isin(np.arange(400), [100, 250]).astype(float)}
    assert {p: r.normalized for p, r in score_all_profiles(corpus, scores).items()} == {
        "standard": 100.0,
        "reward_low_FP_rate": 100.0,
        "reward_low_FN_rate": 100.0,
    }


def test_a_fixed_threshold_is_kept() -> None:
    corpus = one_file(400, [(100, 149)])
    scores = {NAME: np.linspace(0.0, 1.0, 400)}
    assert score_corpus(corpus, scores, "standard", threshold=0.42).threshold == 0.42


def test_per_file_scores_add_up_to_the_corpus_score() -> None:
    corpus = one_file(400, [(100, 149)])
    result = score_corpus(corpus, {NAME: np.linspace(0.0, 1.0, 400)}, "standard", threshold=0.3)
    assert sum(result.per_file.values()) == result.raw


@pytest.mark.parametrize(
    ("scores", "reason"),
    [
        ({NAME: np.zeros(399)}, "scores for 400 rows"),
        ({NAME: np.full(400, np.nan)}, "finite"),
        ({NAME: np.full(400, 1.1)}, "below 1.1"),
        ({}, "no scores for"),
        ({NAME: np.zeros(400), "x/y.csv": np.zeros(3)}, "not in the corpus"),
    ],
)
def test_bad_scores_are_rejected_with_a_reason(scores: dict[str, np.ndarray], reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        score_corpus(one_file(400, [(100, 149)]), scores, "standard")
