"""AS-norm against a gallery: the probe's and each template's top-k cohort statistics.

Scores are computed per person: a probe's cohort is its best score against every person in
the gallery but the candidate (so a person enrolled with many faces counts once), and an
enrolled template's cohort is its best score against every other person. With fewer than
k other persons the missing cohort scores are taken from the calibration's prior, so a
small or empty gallery has a defined, conservative behaviour instead of a noisy spread.

Template statistics are computed on demand for the templates a search shortlists and kept
for the life of this object; the index builds a new Cohort whenever the gallery changes,
so they always describe the gallery as it is now, and no enrolment or erasure ever needs
the statistics of every template recomputed.

Cost: one matrix-vector product over the gallery per probe (as before normalisation), plus
one matrix product with the shortlisted templates whose statistics are not yet known.

The math from cohort scores to a confidence (top_k_stats, probe_cohort_stats, as_norm,
needed_score, ranked_matches) is shared with the PostgreSQL store's search
(shared/biometrics/postgres/search.py), which gets the same cohort scores from SQL.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from shared.matching.calibration import Calibration

SHORTLIST = 6  # persons re-scored beyond ``limit`` (normalisation can reorder them)
PROBE_MARGIN = 4.0  # normalised units; see Cohort._normalised


@dataclass(frozen=True)
class Match:
    person_id: str
    confidence: float


def top_k_stats(top: np.ndarray, k: int, calibration: Calibration) -> tuple[np.ndarray, np.ndarray]:
    """Mean and spread over axis 0 of ``top`` (at most k rows of cohort scores per column),
    the calibration's prior filling in the rows a small gallery lacks."""
    top = np.asarray(top, np.float64)
    top = top.reshape(len(top), -1) if top.ndim != 2 else top
    missing = k - len(top)
    total = top.sum(0) + missing * calibration.prior_mean
    squares = (top**2).sum(0) + missing * (calibration.prior_spread**2 + calibration.prior_mean**2)
    mean = total / k
    spread = np.sqrt(np.maximum(squares / k - mean**2, 0.0))
    # a floor, so a cohort of near-identical scores cannot blow a small difference up
    return mean, np.maximum(spread, calibration.prior_spread * 0.25)


def probe_cohort_stats(
    values: np.ndarray, keep: np.ndarray, candidates: np.ndarray, calibration: Calibration
) -> tuple[np.ndarray, np.ndarray]:
    """The probe's cohort mean and spread for each candidate person (left out in turn).

    ``values`` are the probe's best similarities to its min(persons, k + 1) best persons,
    best first, and ``keep`` those persons' keys. Only these persons can be in any of the
    top-k cohorts: leaving out a candidate among them leaves the other k, leaving out
    anyone else leaves the first k.
    """
    k = calibration.cohort_size
    count = len(values)
    inside = keep[None, :] == candidates[:, None]  # (m, count)
    weights = np.where(inside, 0.0, 1.0)
    if count > k:  # a candidate outside the k + 1 best leaves the first k
        weights[~inside.any(1), count - 1] = 0.0
    n = weights.sum(1)
    missing = k - n
    prior = calibration
    mean = (weights @ values + missing * prior.prior_mean) / k
    second = (weights @ values**2 + missing * (prior.prior_spread**2 + prior.prior_mean**2)) / k
    spread = np.sqrt(np.maximum(second - mean**2, 0.0))
    return mean, np.maximum(spread, prior.prior_spread * 0.25)


def as_norm(
    raw: np.ndarray,
    mu_p: np.ndarray,
    sd_p: np.ndarray,
    template_stats: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]],
    needed: float = -np.inf,
) -> np.ndarray:
    """AS-norm of raw similarities: standardised by the probe's cohort (every person but
    the candidate: ``mu_p``, ``sd_p``) and by the template's cohort (every person but its
    own: ``template_stats(mask)`` for the templates selected by a boolean mask), averaged.

    A template whose probe-side score is more than PROBE_MARGIN below ``needed`` could
    reach it only if its template side were that far above, and is scored -inf without
    computing its template statistics (the expensive part at 100k faces).
    """
    probe_side = (raw - mu_p) / sd_p
    scores = np.full(len(raw), -np.inf)
    worth = probe_side >= needed - PROBE_MARGIN
    if worth.any():
        mu_t, sd_t = template_stats(worth)
        scores[worth] = (probe_side[worth] + (raw[worth] - mu_t) / sd_t) / 2.0
    return scores


def needed_score(calibration: Calibration, threshold: float, persons: int) -> float:
    """The normalised score a search among ``persons`` needs to reach confidence ``threshold``."""
    if threshold <= 0.0:
        return -np.inf
    if threshold >= 1.0:
        return np.inf
    return calibration.normalised_at(threshold, persons)


def ranked_matches(
    confidence: np.ndarray, person_ids: np.ndarray, threshold: float, limit: int
) -> list[Match]:
    """The candidates reaching ``threshold``, best first (ties by person id), at most ``limit``."""
    ranked = sorted(zip(confidence, person_ids, strict=True), key=lambda cp: (-cp[0], cp[1]))
    return [Match(str(p), float(c)) for c, p in ranked[:limit] if c >= threshold and np.isfinite(c)]


def _negative_squared_distances(queries: np.ndarray, matrix: np.ndarray, sq: np.ndarray):
    """(m, N) of -|row - query|^2, float32 (monotone in the raw similarity)."""
    q = np.asarray(queries, np.float32).reshape(-1, matrix.shape[1] if matrix.size else 0)
    out = q @ matrix.T
    out *= 2.0
    out -= sq[None, :]
    out -= np.einsum("ij,ij->i", q, q)[:, None]
    return out


def _similarity(negative_squared: np.ndarray) -> np.ndarray:
    """Raw similarity (negative Euclidean distance) from negative squared distances."""
    return -np.sqrt(np.maximum(-np.asarray(negative_squared, np.float64), 0.0))


class Cohort:
    """The templates of one gallery, searchable with normalised scores."""

    def __init__(self, matrix: np.ndarray, persons: np.ndarray, calibration: Calibration) -> None:
        persons = np.asarray(persons).astype(str)
        order = np.argsort(persons, kind="stable")
        self.matrix = np.ascontiguousarray(np.asarray(matrix, np.float32)[order])
        self.persons = persons[order]
        self.calibration = calibration
        self._sq = np.einsum("ij,ij->i", self.matrix, self.matrix)
        change = np.flatnonzero(self.persons[1:] != self.persons[:-1]) + 1
        self._starts = np.concatenate([[0], change]).astype(np.intp) if len(persons) else change
        sizes = np.diff(np.append(self._starts, len(self.persons)))
        self._person_of_row = np.repeat(np.arange(len(self._starts)), sizes)
        self._person_ids = self.persons[self._starts]
        self._one_face_each = len(self._starts) == len(self.persons)
        self._lock = threading.Lock()
        self._template_stats: dict[int, tuple[float, float]] = {}

    def __len__(self) -> int:
        return len(self.matrix)

    @property
    def person_count(self) -> int:
        return len(self._starts)

    def _best_per_person(self, negative_squared: np.ndarray) -> np.ndarray:
        """(m, N) scores -> (persons, m): each person's best (rows are persons)."""
        if self._one_face_each:
            return negative_squared.T
        return np.maximum.reduceat(negative_squared, self._starts, axis=1).T

    def _top(self, best: np.ndarray) -> np.ndarray:
        """The k highest per-person scores of each column of ``best`` (persons, m), as raw
        similarities (callers leave at least k finite entries per column)."""
        k = self.calibration.cohort_size
        if len(best) > k:
            best = -np.partition(-best, k - 1, axis=0)[:k]
        return _similarity(best)

    def template_stats(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Top-k cohort mean and spread of the templates at ``rows`` against the other
        persons of the gallery (cached for the life of this cohort)."""
        rows = np.asarray(rows, np.intp)
        with self._lock:
            missing = sorted({int(r) for r in rows} - self._template_stats.keys())
        if missing:
            neg = _negative_squared_distances(self.matrix[missing], self.matrix, self._sq)
            best = self._best_per_person(neg)
            own = self._person_of_row[missing]
            best[own, np.arange(len(missing))] = -np.inf
            mean, spread = self._stats_without_excluded(best)
            with self._lock:
                self._template_stats.update(
                    {row: (float(mean[j]), float(spread[j])) for j, row in enumerate(missing)}
                )
        with self._lock:
            stats = [self._template_stats[int(r)] for r in rows]
        return np.array([m for m, _ in stats]), np.array([sd for _, sd in stats])

    def _stats_without_excluded(self, best: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Stats of each column's top k, where one person per column was set to -inf."""
        k = self.calibration.cohort_size
        available = len(best) - 1  # every column has exactly one excluded person
        if available >= k:
            return top_k_stats(self._top(best), k, self.calibration)
        # small gallery: drop the excluded entry of each column before filling in the prior
        ordered = -np.sort(-best, axis=0)[:available]
        return top_k_stats(_similarity(ordered), k, self.calibration)

    def _probe_stats(self, best: np.ndarray, candidates: np.ndarray):
        """The probe's cohort mean and spread for each candidate person (left out in turn)."""
        k = self.calibration.cohort_size
        count = min(len(best), k + 1)
        keep = np.argpartition(-best, count - 1)[:count] if count < len(best) else np.arange(count)
        keep = keep[np.argsort(-best[keep], kind="stable")]
        values = _similarity(best[keep])
        return probe_cohort_stats(values, keep, np.asarray(candidates, np.intp), self.calibration)

    def _normalised(
        self, neg: np.ndarray, best: np.ndarray, rows: np.ndarray, needed: float = -np.inf
    ) -> np.ndarray:
        """AS-norm of the probe's scores against the templates at ``rows`` (as_norm)."""
        raw = _similarity(neg[rows])
        mu_p, sd_p = self._probe_stats(best, self._person_of_row[rows])
        return as_norm(raw, mu_p, sd_p, lambda worth: self.template_stats(rows[worth]), needed)

    def search(self, query: np.ndarray, threshold: float, limit: int) -> list[Match]:
        """Persons whose confidence reaches ``threshold``, best first, at most ``limit``."""
        if len(self.matrix) == 0:
            return []
        neg = _negative_squared_distances(query, self.matrix, self._sq)[0]
        best = self._best_per_person(neg[None, :])[:, 0]
        count = min(len(best), limit + SHORTLIST)
        people = np.argpartition(-best, count - 1)[:count] if count < len(best) else None
        people = np.arange(len(best)) if people is None else people
        rows = np.array([self._best_row(neg, int(p)) for p in people], np.intp)
        needed = needed_score(self.calibration, threshold, self.person_count)
        scores = self._normalised(neg, best, rows, needed)
        confidence = self.calibration.confidence(scores, self.person_count)
        return ranked_matches(confidence, self._person_ids[people], threshold, limit)

    def verify(self, query: np.ndarray, person_id: str) -> float | None:
        """Confidence that ``query`` is ``person_id`` (None: the person has no template here)."""
        person = int(np.searchsorted(self._person_ids, person_id))
        if person >= self.person_count or self._person_ids[person] != person_id:
            return None
        neg = _negative_squared_distances(query, self.matrix, self._sq)[0]
        best = self._best_per_person(neg[None, :])[:, 0]
        start, stop = self._segment(person)
        scores = self._normalised(neg, best, np.arange(start, stop))
        return float(self.calibration.confidence(scores.max()))  # one comparison: no size term

    def probe_stats(self, query: np.ndarray) -> tuple[float, float]:
        """Top-k cohort statistics of a face compared 1:1 (verify of two faceIds).

        The face's best-matching person is left out: in a customer's own gallery it may be
        the very person being verified, whose score would inflate the cohort's spread.
        """
        k = self.calibration.cohort_size
        if len(self.matrix) == 0:
            mean, spread = top_k_stats(np.zeros((0, 1)), k, self.calibration)
            return float(mean[0]), float(spread[0])
        neg = _negative_squared_distances(query, self.matrix, self._sq)[0]
        best = self._best_per_person(neg[None, :])[:, 0]
        mean, spread = self._probe_stats(best, np.array([int(np.argmax(best))]))
        return float(mean[0]), float(spread[0])

    def _segment(self, person: int) -> tuple[int, int]:
        start = int(self._starts[person])
        stop = int(self._starts[person + 1]) if person + 1 < self.person_count else len(self.matrix)
        return start, stop

    def _best_row(self, neg: np.ndarray, person: int) -> int:
        start, stop = self._segment(person)
        return start + int(np.argmax(neg[start:stop]))


def pair_confidence(
    a: np.ndarray, b: np.ndarray, calibration: Calibration, cohort: Cohort | None = None
) -> float:
    """1:1 confidence of two templates: normalised against ``cohort`` when one is given,
    else the raw similarity through the verification-calibrated curve (known limits:
    docs/accuracy.md)."""
    a = np.asarray(a, np.float32).ravel()
    b = np.asarray(b, np.float32).ravel()
    if a.shape != b.shape:
        raise ValueError("templates of different models or sizes cannot be compared")
    raw = -float(np.linalg.norm(a - b))
    if cohort is None:
        return float(calibration.raw_confidence(raw))
    mu_a, sd_a = cohort.probe_stats(a)
    mu_b, sd_b = cohort.probe_stats(b)
    score = ((raw - mu_a) / sd_a + (raw - mu_b) / sd_b) / 2.0
    return float(calibration.confidence(score))
