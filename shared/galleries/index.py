"""In-memory identify index per gallery, kept fresh from the gallery's version and epoch.

Identify must answer in milliseconds against 100k enrolled faces, so each
process keeps a gallery's templates as one float32 matrix. Before every search
it reads the gallery row (one point read): a new ``version`` means faces were
added, and only rows written since the last load (with a safety overlap) are
fetched; a new ``epoch`` means something was erased, and the index is rebuilt
from scratch so an erased template can never be matched. Scores are normalised
against the gallery itself (shared.matching.Cohort), rebuilt with the matrix.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections import OrderedDict

import numpy as np

from shared.galleries import store
from shared.matching import Cohort, Match, calibration_for

# Rows written up to this long before the newest row seen are fetched again on an
# incremental refresh, so a write racing the last load is never missed.
_OVERLAP = dt.timedelta(seconds=60)
_MAX_GALLERIES = 64

Candidate = Match  # a person and the confidence that the probe is them


class GalleryIndex:
    """The templates of one gallery, searchable as a matrix."""

    def __init__(self, customer_id: str, gallery_id: str) -> None:
        self.customer_id = customer_id
        self.gallery_id = gallery_id
        self._lock = threading.Lock()
        self._epoch: tuple[str, int] | None = None
        self._version: int | None = None
        self._since: dt.datetime | None = None
        self._rows: dict[str, tuple[str, np.ndarray, str]] = {}
        self._matrix: np.ndarray | None = None
        self._persons: np.ndarray | None = None
        self._models: set[str] = set()
        self._cohort: Cohort | None = None

    @classmethod
    def from_matrix(cls, matrix: np.ndarray, persons: np.ndarray, model: str) -> GalleryIndex:
        """An index over given templates, not backed by storage (benchmarks, offline tools)."""
        index = cls("", "")
        index._matrix, index._persons, index._models = matrix, persons, {model}
        return index

    def __len__(self) -> int:
        return len(self._rows)

    def refresh(self, gallery: store.Gallery) -> None:
        """Bring the index up to the gallery's current version and epoch."""
        with self._lock:
            if (gallery.generation, gallery.epoch) != self._epoch:
                self._rows.clear()
                found, newest = store.templates_since(self.customer_id, self.gallery_id, None)
            elif gallery.version != self._version:
                since = None if self._since is None else self._since - _OVERLAP
                found, newest = store.templates_since(self.customer_id, self.gallery_id, since)
                newest = newest or self._since
            else:
                return
            for face in found:
                key = f"{face.person_id}:{face.persisted_face_id}"
                self._rows[key] = (face.person_id, face.template, face.model)
            self._epoch = (gallery.generation, gallery.epoch)
            self._version, self._since = gallery.version, newest
            self._matrix = self._cohort = None

    def _arrays(self) -> tuple[np.ndarray, np.ndarray, set[str]]:
        with self._lock:
            return self._arrays_locked()

    def _arrays_locked(self) -> tuple[np.ndarray, np.ndarray, set[str]]:
        if self._matrix is None:
            values = list(self._rows.values())
            if values:
                self._matrix = np.stack([v[1] for v in values]).astype(np.float32)
                self._persons = np.array([v[0] for v in values])
            else:
                self._matrix = np.zeros((0, 0), np.float32)
                self._persons = np.array([], dtype=str)
            self._models = {v[2] for v in values}
        assert self._persons is not None
        return self._matrix, self._persons, self._models

    def models(self) -> set[str]:
        return self._arrays()[2]

    def cohort(self, model: str) -> Cohort:
        """The gallery as a score-normalisation cohort (rebuilt after every change)."""
        calibration = calibration_for(model)
        with self._lock:  # built from the same matrix a concurrent refresh may be replacing
            matrix, persons, _ = self._arrays_locked()
            if self._cohort is None or self._cohort.calibration is not calibration:
                self._cohort = Cohort(matrix, persons, calibration)
            return self._cohort

    def search(self, query: np.ndarray, model: str, threshold: float, limit: int) -> list[Match]:
        """Persons whose normalised confidence reaches ``threshold``, best first."""
        return self.cohort(model).search(query, threshold, limit)


class IndexCache:
    """A bounded LRU of gallery indexes for this process."""

    def __init__(self, max_galleries: int = _MAX_GALLERIES) -> None:
        self._lock = threading.Lock()
        self._indexes: OrderedDict[tuple[str, str], GalleryIndex] = OrderedDict()
        self._max = max_galleries

    def fresh(self, gallery: store.Gallery) -> GalleryIndex:
        key = (gallery.customer_id, gallery.gallery_id)
        with self._lock:
            index = self._indexes.get(key)
            if index is None:
                index = self._indexes[key] = GalleryIndex(*key)
            self._indexes.move_to_end(key)
            while len(self._indexes) > self._max:
                self._indexes.popitem(last=False)
        index.refresh(gallery)
        return index

    def forget(self, customer_id: str, gallery_id: str) -> None:
        with self._lock:
            self._indexes.pop((customer_id, gallery_id), None)


INDEXES = IndexCache()
