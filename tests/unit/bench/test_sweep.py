"""The one-pass threshold sweep against trying every threshold naively, on small random corpora."""

from __future__ import annotations

import numpy as np
import pytest
from tests.unit.bench.builders import PROFILES, detections, one_file
from tests.unit.bench.naive import brute_force_best, corpus_raw

from edgeloop.bench.nab import Corpus, DataFile, Profile, score_corpus, threshold_curve


def random_corpus(seed: int) -> tuple[Corpus, dict[str, np.ndarray]]:
    rng = np.random.default_rng(seed)
    files, scores = [], {}
    for k in range(int(rng.integers(1, 5))):
        n = int(rng.integers(20, 90))
        cuts = np.sort(rng.choice(np.arange(1, n - 1), size=2 * int(rng.integers(0, 4)), replace=False))
        windows = [(int(a), int(b)) for a, b in cuts.reshape(-1, 2) if b - a >= 1]
        name = f"cat{k % 2}/f{k}.csv"
        files.append(DataFile.build(name, np.zeros(n), windows=windows, probation=int(rng.integers(0, n // 3))))
        # coarse scores so that many rows tie; some files get continuous scores
        s = rng.random(n)
        scores[name] = np.round(s * 10) / 10 if rng.random() < 0.7 else s
    return Corpus(files=tuple(files), profiles=PROFILES), scores


@pytest.mark.parametrize("seed", range(40))
@pytest.mark.parametrize("profile", PROFILES.values(), ids=PROFILES)
def test_the_sweep_equals_a_brute_force_sweep(seed: int, profile: Profile) -> None:
    corpus, scores = random_corpus(seed)
    as_lists = {k: v.tolist() for k, v in scores.items()}
    curve = threshold_curve(corpus, scores, profile)
    naive = [corpus_raw(corpus, as_lists, profile, float(t)) for t in curve.thresholds]
    kept = {s for f in corpus.files for s in as_lists[f.name][f.probation :]}
    assert curve.thresholds.tolist() == [1.1, *sorted(kept, reverse=True)]
    np.testing.assert_allclose(curve.raw, naive, rtol=0, atol=1e-12)
    best = score_corpus(corpus, scores, profile)
    theta, raw = brute_force_best(corpus, as_lists, profile)
    assert best.threshold == theta
    assert best.raw == pytest.approx(raw, abs=1e-12)


def test_the_fixed_threshold_score_equals_the_curve_at_that_threshold() -> None:
    corpus, scores = random_corpus(7)
    curve = threshold_curve(corpus, scores, "standard")
    for theta, raw in zip(curve.thresholds, curve.raw, strict=True):
        assert score_corpus(corpus, scores, "standard", threshold=float(theta)).raw == pytest.approx(raw, abs=1e-12)


def test_on_a_tie_the_highest_threshold_wins() -> None:
    # a second, later detection in the same window adds nothing: both thresholds score 1.0
    corpus = one_file(200, [(100, 149)])
    scores = detections(200, [100])["cat/f.csv"]
    scores[120] = 0.8
    result = score_corpus(corpus, {"cat/f.csv": scores}, "standard")
    assert (result.threshold, result.raw) == (1.0, 1.0)


def test_nothing_detected_is_the_start_threshold() -> None:
    corpus = one_file(200, [])
    result = score_corpus(corpus, detections(200, [10, 50]), "standard")
    assert (result.threshold, result.raw, result.fp) == (1.1, 0.0, 0)
