"""What identify and verify need of a gallery, wherever its templates are searched.

The in-memory ``Cohort`` is one (a gallery's matrix in this process); the PostgreSQL
store's ``PgCohort`` is another (the same AS-norm computed in the database). Both give
the same scores for the same gallery in exact mode.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from shared.matching.cohort import Match


class Searchable(Protocol):
    @property
    def person_count(self) -> int:
        """Persons with at least one template."""
        ...

    def search(self, query: np.ndarray, threshold: float, limit: int) -> list[Match]:
        """Persons whose normalised confidence reaches ``threshold``, best first."""
        ...

    def verify(self, query: np.ndarray, person_id: str) -> float | None:
        """Confidence that ``query`` is ``person_id`` (None: no template of theirs)."""
        ...

    def probe_stats(self, query: np.ndarray) -> tuple[float, float]:
        """Top-k cohort mean and spread of a face compared 1:1."""
        ...
