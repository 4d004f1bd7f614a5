"""The scaled sigmoid and what a single detection earns or costs, row by row, on hand-built files."""

from __future__ import annotations

import numpy as np
import pytest
from tests.unit.bench.builders import LOW_FN, LOW_FP, PROFILES, STANDARD, detections, one_file

from edgeloop.bench.nab import MAX_TP, Profile, scaled_sigmoid, score_corpus


@pytest.mark.parametrize(
    ("y", "expected"), [(-1.0, 0.98661), (-0.5, 0.84828), (0.0, 0.0), (1.0, -0.98661), (3.0, -0.99999939), (3.01, -1.0)]
)
def test_scaled_sigmoid_matches_the_documented_values(y: float, expected: float) -> None:
    assert float(scaled_sigmoid(y)) == pytest.approx(expected, abs=5e-6)


def raw_of_one_detection(n: int, windows: list[tuple[int, int]], row: int, profile: Profile) -> float:
    return score_corpus(one_file(n, windows), detections(n, [row]), profile, threshold=0.5).raw


@pytest.mark.parametrize("profile", PROFILES.values(), ids=PROFILES)
def test_a_detection_on_a_windows_first_row_earns_a_tp(profile: Profile) -> None:
    assert raw_of_one_detection(400, [(100, 199)], 100, profile) == profile.tp_weight


def test_a_detection_on_a_windows_last_row_earns_almost_nothing() -> None:
    raw = raw_of_one_detection(400, [(100, 199)], 199, STANDARD)
    assert raw == pytest.approx(float(scaled_sigmoid(-1 / 100)) / MAX_TP)
    assert 0.0 < raw < 0.03


def test_earlier_detections_in_a_window_earn_more() -> None:
    earned = [raw_of_one_detection(400, [(100, 199)], row, STANDARD) for row in (100, 130, 160, 199)]
    assert earned == sorted(earned, reverse=True)


@pytest.mark.parametrize("profile", [STANDARD, LOW_FP], ids=["standard", "low_FP"])
def test_a_false_positive_before_any_window_costs_the_full_fp_weight(profile: Profile) -> None:
    raw = raw_of_one_detection(400, [(300, 349)], 50, profile)
    assert raw == pytest.approx(-profile.fp_weight - profile.fn_weight)


def test_a_false_positive_in_a_file_without_windows_costs_the_full_fp_weight() -> None:
    assert raw_of_one_detection(400, [], 50, LOW_FP) == -0.22


def test_a_false_positive_right_after_a_window_costs_almost_nothing() -> None:
    raw = raw_of_one_detection(400, [(100, 199)], 200, STANDARD) - (-1.0)  # the window itself is missed
    assert raw == pytest.approx(0.11 * float(scaled_sigmoid(1 / 99)))
    assert -0.003 < raw < 0.0


def test_a_false_positive_three_widths_after_a_window_costs_the_full_fp_weight() -> None:
    assert raw_of_one_detection(800, [(100, 199)], 199 + 3 * 99 + 1, STANDARD) == pytest.approx(-1.0 - 0.11)


def test_repeated_detections_in_a_window_count_once() -> None:
    corpus = one_file(400, [(100, 199)])
    assert score_corpus(corpus, detections(400, range(100, 200)), STANDARD, threshold=0.5).raw == 1.0


def test_repeated_false_positives_each_cost() -> None:
    corpus = one_file(400, [])
    assert score_corpus(corpus, detections(400, [10, 20, 30]), STANDARD, threshold=0.5).raw == pytest.approx(-0.33)


@pytest.mark.parametrize(("profile", "cost"), [(STANDARD, -1.0), (LOW_FP, -1.0), (LOW_FN, -2.0)], ids=PROFILES)
def test_a_missed_window_costs_the_fn_weight(profile: Profile, cost: float) -> None:
    result = score_corpus(one_file(400, [(100, 199)]), detections(400, []), profile, threshold=0.5)
    assert (result.raw, result.missed_windows) == (cost, 1)


def test_detections_in_the_probationary_period_are_ignored() -> None:
    corpus = one_file(400, [(100, 199)], probation=60)
    assert score_corpus(corpus, detections(400, [0, 30, 59, 100]), STANDARD, threshold=0.5).raw == 1.0


def test_the_first_row_after_probation_is_scored() -> None:
    corpus = one_file(400, [(100, 199)], probation=60)
    assert score_corpus(corpus, detections(400, [60, 100]), STANDARD, threshold=0.5).raw == pytest.approx(0.89)


def test_a_window_inside_the_probationary_period_is_neither_found_nor_missed() -> None:
    corpus = one_file(400, [(10, 29), (100, 199)], probation=60)
    result = score_corpus(corpus, detections(400, [100]), STANDARD, threshold=0.5)
    assert (result.raw, result.detected_windows, result.missed_windows) == (1.0, 1, 0)


def test_a_row_exactly_at_the_threshold_is_a_detection() -> None:
    scores = {"cat/f.csv": np.where(np.arange(400) == 100, 0.7, 0.1)}
    assert score_corpus(one_file(400, [(100, 199)]), scores, STANDARD, threshold=0.7).raw == 1.0


def test_row_counts_are_nab_row_counts() -> None:
    result = score_corpus(one_file(400, [(100, 199)]), detections(400, [5, 100, 101]), STANDARD, threshold=0.5)
    assert (result.tp, result.fp, result.fn, result.tn) == (2, 1, 98, 299)
