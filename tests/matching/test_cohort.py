"""Score normalisation (shared.matching): the formula, fairness on synthetic groups,
small galleries, the gallery-size-aware threshold and the shortcut that skips work."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from shared.errors import BadArgument
from shared.matching import Cohort, calibration_for, pair_confidence
from shared.matching.cohort import top_k_stats
from shared.vision import RECOGNITION_MODEL, compare

CAL = calibration_for(RECOGNITION_MODEL)
DIM = 128


def group(rng: np.random.Generator, center: np.ndarray, spread: float, n: int) -> np.ndarray:
    """n different people of one synthetic group: a shared center plus personal noise."""
    return (center + rng.normal(scale=spread / np.sqrt(DIM), size=(n, DIM))).astype(np.float32)


def naive_confidence(gallery, persons, probe, person, k=CAL.cohort_size) -> float:
    """AS-norm written out directly (no shortcuts), for a gallery of >= k + 1 persons."""

    def per_person_best(vector):
        raw = -np.linalg.norm(gallery - vector, axis=1)
        return {p: raw[persons == p].max() for p in np.unique(persons)}

    probe_best = per_person_best(probe)
    rows = np.flatnonzero(persons == person)
    row = rows[np.argmax([probe_best[person] == -np.linalg.norm(gallery[r] - probe) for r in rows])]
    cohort_p = sorted((v for p, v in probe_best.items() if p != person), reverse=True)[:k]
    template_best = per_person_best(gallery[row])
    cohort_t = sorted((v for p, v in template_best.items() if p != person), reverse=True)[:k]
    s = probe_best[person]
    z = (s - np.mean(cohort_p)) / np.std(cohort_p) + (s - np.mean(cohort_t)) / np.std(cohort_t)
    return float(CAL.confidence(z / 2, len(np.unique(persons))))


def test_search_matches_the_formula_written_out():
    rng = np.random.default_rng(0)
    gallery = group(rng, np.zeros(DIM), 0.7, 60)
    persons = np.array([f"p{i % 40:02d}" for i in range(60)])  # some persons have two faces
    probe = gallery[3] + rng.normal(scale=0.2 / np.sqrt(DIM), size=DIM).astype(np.float32)
    hits = Cohort(gallery, persons, CAL).search(probe, threshold=0.0, limit=5)
    assert len(hits) == 5
    for hit in hits:
        expected = naive_confidence(gallery, persons, probe, hit.person_id)
        assert hit.confidence == pytest.approx(expected, rel=1e-4, abs=1e-6)
    assert hits[0].person_id == "p03"
    assert [h.confidence for h in hits] == sorted((h.confidence for h in hits), reverse=True)


def test_a_crowded_group_gets_no_more_false_matches_than_a_sparse_one():
    """The harm this module exists for: one raw threshold names strangers of a group whose
    faces sit close together far more often; normalised scores treat both groups alike."""
    rng = np.random.default_rng(1)
    tight_center = rng.normal(scale=1.0 / np.sqrt(DIM), size=DIM)
    loose_center = rng.normal(scale=1.0 / np.sqrt(DIM), size=DIM)
    tight, loose = group(rng, tight_center, 0.45, 300), group(rng, loose_center, 0.75, 300)
    gallery = np.concatenate([tight[:100], loose[:100]])
    persons = np.array([f"p{i:03d}" for i in range(200)])
    strangers = {"tight": tight[100:], "loose": loose[100:]}

    cohort = Cohort(gallery, persons, CAL)
    normalised = {
        g: np.mean([bool(cohort.search(s, 0.5, 1)) for s in probes])
        for g, probes in strangers.items()
    }
    raw_best = {
        g: np.array([-np.linalg.norm(gallery - s, axis=1).min() for s in probes])
        for g, probes in strangers.items()
    }
    # the raw threshold that gives the same overall false-identification rate
    overall = np.mean(list(normalised.values()))
    pooled = np.concatenate(list(raw_best.values()))
    raw_threshold = np.quantile(pooled, 1 - max(overall, 0.02))
    raw = {g: np.mean(v >= raw_threshold) for g, v in raw_best.items()}

    assert raw["tight"] > 5 * max(raw["loose"], 0.005)  # the failure normalisation fixes
    assert max(normalised.values()) <= 0.10
    assert normalised["tight"] <= 3 * max(normalised["loose"], 0.01)


def test_genuine_probes_are_found_in_both_groups():
    rng = np.random.default_rng(2)
    gallery = np.concatenate(
        [group(rng, np.zeros(DIM), 0.45, 60), group(rng, np.full(DIM, 0.05), 0.75, 60)]
    )
    persons = np.array([f"p{i:03d}" for i in range(120)])
    cohort = Cohort(gallery, persons, CAL)
    found = 0
    for i in range(0, 120, 3):
        probe = gallery[i] + rng.normal(scale=0.15 / np.sqrt(DIM), size=DIM).astype(np.float32)
        hits = cohort.search(probe, 0.5, 1)
        found += bool(hits) and hits[0].person_id == persons[i]
    assert found >= 36  # of 40


def test_empty_and_small_galleries_have_a_defined_answer():
    rng = np.random.default_rng(3)
    faces = group(rng, np.zeros(DIM), 0.7, 5)
    assert Cohort(np.zeros((0, DIM), np.float32), np.array([]), CAL).search(faces[0], 0.5, 5) == []
    one = Cohort(faces[:1], np.array(["ada"]), CAL)
    assert [h.person_id for h in one.search(faces[0], 0.5, 5)] == ["ada"]
    assert one.search(faces[1], 0.5, 5) == []  # another person: no candidate
    assert one.verify(faces[0], "ada") > 0.5 > one.verify(faces[1], "ada")
    assert one.verify(faces[0], "bob") is None
    few = Cohort(faces, np.array(list("abcde")), CAL)
    assert [h.person_id for h in few.search(faces[2], 0.5, 5)] == ["c"]
    # with no cohort scores at all, the statistics are the calibration's prior
    mean, spread = top_k_stats(np.zeros((0, 1)), CAL.cohort_size, CAL)
    assert mean[0] == pytest.approx(CAL.prior_mean)
    assert spread[0] == pytest.approx(CAL.prior_spread)


def test_the_threshold_rises_with_the_gallery_and_has_a_floor():
    assert CAL.threshold_for(None) == CAL.threshold
    assert CAL.threshold_for(CAL.reference_size) == pytest.approx(CAL.threshold)
    assert CAL.threshold_for(10) == CAL.threshold_for(CAL.min_size)
    assert CAL.threshold_for(10_000) > CAL.threshold_for(1_000) > CAL.threshold_for(300)
    for persons in (None, 5, 230, 100_000):
        at_half = CAL.normalised_at(0.5, persons)
        assert float(CAL.confidence(at_half, persons)) == pytest.approx(0.5)
        assert 0.0 <= float(CAL.confidence(-1e9, persons)) < 0.5 < float(CAL.confidence(1e9))


def test_skipping_hopeless_candidates_changes_no_answer():
    rng = np.random.default_rng(4)
    gallery = group(rng, np.zeros(DIM), 0.6, 300)
    persons = np.array([f"p{i:03d}" for i in range(300)])
    probes = [gallery[i] + rng.normal(scale=0.2 / np.sqrt(DIM), size=DIM) for i in range(5)]
    probes += list(group(rng, np.zeros(DIM), 0.6, 20))  # strangers
    for probe in probes:
        everything = Cohort(gallery, persons, CAL).search(probe, 0.0, 10)
        shortcut = Cohort(gallery, persons, CAL).search(probe, 0.5, 10)
        assert shortcut == [h for h in everything if h.confidence >= 0.5]


def test_pair_confidence_raw_is_the_verification_curve_and_a_cohort_is_symmetric():
    rng = np.random.default_rng(5)
    a, b = group(rng, np.zeros(DIM), 0.6, 2)
    assert pair_confidence(a, b, CAL) == pytest.approx(compare(a, b), abs=1e-6)
    cohort = Cohort(group(rng, np.zeros(DIM), 0.6, 50), np.arange(50).astype(str), CAL)
    assert pair_confidence(a, b, CAL, cohort) == pytest.approx(pair_confidence(b, a, CAL, cohort))
    assert pair_confidence(a, a, CAL, cohort) > 0.99
    with pytest.raises(ValueError):
        pair_confidence(a, a[:64], CAL)


def test_unknown_models_have_no_calibration():
    with pytest.raises(BadArgument):
        calibration_for("no-such-model")
    assert dataclasses.asdict(CAL)["cohort_size"] == 20
