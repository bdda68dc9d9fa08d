"""The report's metric functions on tiny examples whose answers are worked out by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from bench import metrics


def test_wilson_interval_matches_the_textbook_values():
    assert metrics.wilson(0, 10) == pytest.approx((0.0, 0.2775), abs=1e-4)
    assert metrics.wilson(5, 10) == pytest.approx((0.2366, 0.7634), abs=1e-4)
    assert metrics.wilson(10, 10) == pytest.approx((0.7225, 1.0), abs=1e-4)
    assert all(math.isnan(x) for x in metrics.wilson(0, 0))


def test_eer_is_where_false_accepts_equal_false_rejects():
    scores = np.array([0.9, 0.8, 0.7, 0.4, 0.1, 0.2, 0.3, 0.6])
    same = np.array([True] * 4 + [False] * 4)
    # at threshold 0.6: impostor 0.6 accepted (FAR 1/4), genuine 0.4 rejected (FRR 1/4)
    assert metrics.eer(scores, same) == pytest.approx(0.25)
    assert metrics.eer(np.array([0.9, 0.8, 0.2, 0.1]), np.array([True, True, False, False])) == 0


def test_eer_agrees_with_a_brute_force_sweep():
    rng = np.random.default_rng(3)
    scores = np.concatenate([rng.normal(1, 1, 200), rng.normal(-1, 1, 300)]).round(2)
    same = np.arange(500) < 200
    best = (2.0, 0.0)
    for t in np.unique(scores):
        frr, far = (scores[same] < t).mean(), (scores[~same] >= t).mean()
        if abs(far - frr) < best[0]:
            best = (abs(far - frr), (far + frr) / 2)
    assert metrics.eer(scores, same) == pytest.approx(best[1])


def test_tar_at_far_uses_the_strictest_threshold_allowed():
    impostor = np.concatenate([np.linspace(0, 0.5, 998), [0.95]])  # 999 impostors
    genuine = np.array([0.99, 0.96, 0.9, 0.8])
    scores = np.concatenate([genuine, impostor])
    same = np.arange(len(scores)) < len(genuine)
    # FAR 1e-3 of 999 allows no false accept: only genuine scores above 0.95 pass
    assert metrics.tar_at_far(scores, same, 1e-3) == 0.5
    # FAR 1e-2 allows 9: the threshold drops below 0.5 and every genuine pair passes
    assert metrics.tar_at_far(scores, same, 1e-2) == 1.0


def test_verification_counts_pairs_decided_right():
    scores = np.array([0.9, 0.4, 0.2, 0.6])
    same = np.array([True, True, False, False])
    v = metrics.verification(scores, same, threshold=0.5)
    assert (v.correct, v.pairs, v.genuine, v.impostor) == (2, 4, 2, 2)
    assert v.accuracy == 0.5


def test_open_set_split_enrols_half_of_the_repeated_identities():
    ids = ["a", "a", "a", "b", "b", "c", "c", "d"]
    split = metrics.open_set_split(ids, known_fraction=0.5, seed=0)
    assert len(split.gallery) == 2 and "d" not in split.gallery  # round(0.5 * 3) of a, b, c
    enrolled = {i for photos in split.gallery.values() for i in photos}
    assert all(len(photos) == 1 for photos in split.gallery.values())
    assert sorted([*enrolled, *split.known_probes, *split.unknown_probes]) == list(range(8))
    assert {ids[i] for i in split.known_probes} == set(split.gallery)
    assert 7 in split.unknown_probes  # the singleton is always unknown
    assert split == metrics.open_set_split(ids, known_fraction=0.5, seed=0)  # seeded


def test_identification_rank1_and_unknown_rejection():
    ids = ["a", "a", "a", "b", "b", "x", "y"]
    split = metrics.OpenSetSplit(
        {"a": [0], "b": [3]}, known_probes=[1, 2, 4], unknown_probes=[5, 6]
    )
    sim = np.full((7, 7), 0.1)
    sim[1, 0] = 0.9  # a: right and confident
    sim[2, 0], sim[2, 3] = 0.3, 0.2  # a: right person on top but below the threshold
    sim[4, 0], sim[4, 3] = 0.8, 0.7  # b: the wrong person on top
    sim[6, 3] = 0.6  # unknown y looks like b: a false candidate
    r = metrics.identify_open_set(sim, ids, split, threshold=0.5)
    assert (r.known_probes, r.rank1, r.identified) == (3, 2, 1)
    assert (r.unknown_probes, r.rejected) == (2, 1)
    assert r.rank1_rate == pytest.approx(2 / 3) and r.rejection_rate == 0.5


def test_false_matches_count_distinct_pairs_only():
    sim = np.array([[1.0, 0.7, 0.2], [0.7, 1.0, 0.1], [0.2, 0.1, 1.0]])
    assert metrics.false_matches(sim, 0.5) == (1, 3)
    lo, hi = metrics.bootstrap_false_match_rate([sim], 0.5, reps=200)
    assert 0 <= lo <= hi <= 1


def test_bootstrap_intervals_hold_the_estimate():
    values = np.arange(1, 101, dtype=float)
    lo, hi = metrics.bootstrap_mean(values)
    assert lo < values.mean() < hi and hi - lo < 20
    scores = np.array([0.9, 0.8, 0.7, 0.2, 0.1, 0.3])
    same = np.array([True, True, True, False, False, False])
    assert metrics.bootstrap_pairs(scores, same, metrics.eer, reps=100) == (0.0, 0.0)


def test_recall_by_size_bins_and_confusion():
    sizes = [(10, False), (20, True), (40, True), (40, False), (200, True)]
    bins = dict((label, (f, t)) for label, f, t in metrics.recall_by_size(sizes))
    assert bins["0-16"] == (0, 1) and bins["16-24"] == (1, 1) and bins["36-64"] == (1, 2)
    assert bins[">= 128"] == (1, 1) and bins["24-36"] == (0, 0)
    m = metrics.confusion(["a", "a", "b"], ["a", "b", "b"], ["a", "b"])
    assert m.tolist() == [[1, 1], [0, 1]]


def test_worst_to_best_ratio():
    assert metrics.worst_best({"x": 0.9, "y": 0.8}, higher_is_better=True) == (
        "y",
        "x",
        pytest.approx(0.1),
    )
    assert metrics.ratio(5.0, 2.5) == 2.0
    assert math.isnan(metrics.ratio(0.0, 0.0)) and metrics.ratio(1.0, 0.0) == math.inf
