"""Match scores that mean the same for everyone: cohort score normalisation (AS-norm).

A raw similarity between two face templates is not comparable across people: faces of
some groups sit closer together in the embedding space, so one raw threshold gives them
many more false matches (docs/accuracy.md). Here every raw similarity is standardised by
the scores of its two sides against a cohort (adaptive symmetric normalisation): the probe
against the gallery being searched, and the enrolled template against the rest of that
gallery. No demographic is inferred and no threshold differs by group.

    cohort = Cohort(matrix, persons, calibration_for(model))
    cohort.search(query, threshold=0.5, limit=10)  # [(person, confidence)], best first
    cohort.verify(query, person)                   # confidence, 0.5 = decision threshold
    pair_confidence(a, b, calibration, cohort)     # 1:1, normalised when a cohort is given

This package knows nothing of storage, HTTP or policy.
"""

from shared.matching.calibration import Calibration, calibration_for
from shared.matching.cohort import Cohort, Match, pair_confidence
from shared.matching.searchable import Searchable

__all__ = [
    "Calibration",
    "Cohort",
    "Match",
    "Searchable",
    "calibration_for",
    "pair_confidence",
]
