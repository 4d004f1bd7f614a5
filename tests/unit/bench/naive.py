"""A row-by-row NAB scorer written straight from the rules, slow and obvious, to check the fast one against."""

from __future__ import annotations

import math

from edgeloop.bench.nab import Corpus, Profile


def sigmoid_s(y: float) -> float:
    return -1.0 if y > 3.0 else 2.0 / (1.0 + math.exp(5.0 * y)) - 1.0


def file_raw(values: list[float], windows: list[tuple[int, int]], probation: int, p: Profile, theta: float) -> float:
    """Raw score of one file at threshold `theta`: every row walked in order."""
    best = {k: -p.fn_weight for k, (_, end) in enumerate(windows) if end >= probation}
    fp = 0.0
    for i, score in enumerate(values):
        if i < probation or score < theta:
            continue
        inside = [k for k, (a, b) in enumerate(windows) if a <= i <= b]
        if inside:
            a, b = windows[inside[0]]
            y = -(b - i + 1) / (b - a + 1)
            best[inside[0]] = max(best[inside[0]], p.tp_weight * sigmoid_s(y) / sigmoid_s(-1.0))
            continue
        before = [(a, b) for a, b in windows if b < i]
        if before:
            a, b = before[-1]
            fp += p.fp_weight * sigmoid_s(abs(i - b) / (b - a))
        else:
            fp -= p.fp_weight
    return fp + sum(best.values())


def corpus_raw(corpus: Corpus, scores: dict[str, list[float]], p: Profile, theta: float) -> float:
    return sum(
        file_raw(scores[f.name], [(int(a), int(b)) for a, b in f.windows], f.probation, p, theta) for f in corpus.files
    )


def brute_force_best(corpus: Corpus, scores: dict[str, list[float]], p: Profile) -> tuple[float, float]:
    """Try 1.1 and every distinct non-probationary score, highest first; keep the first best."""
    kept = {s for f in corpus.files for s in scores[f.name][f.probation :]}
    best_theta, best_raw = 1.1, corpus_raw(corpus, scores, p, 1.1)
    for theta in sorted(kept, reverse=True):
        raw = corpus_raw(corpus, scores, p, theta)
        if raw > best_raw:
            best_theta, best_raw = theta, raw
    return best_theta, best_raw
