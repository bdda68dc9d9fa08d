"""In-memory identify index per gallery, kept fresh from the gallery's version and epoch.

Identify must answer in milliseconds against 100k enrolled faces, so each
process keeps a gallery's templates as one float32 matrix. Before every search
it reads the gallery row (one point read): a new ``version`` means faces were
added, and only rows written since the last load (with a safety overlap) are
fetched; a new ``epoch`` means something was erased, and the index is rebuilt
from scratch so an erased template can never be matched.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from shared.biometrics import store

# Rows written up to this long before the newest row seen are fetched again on an
# incremental refresh, so a write racing the last load is never missed.
_OVERLAP = dt.timedelta(seconds=60)
_MAX_GALLERIES = 64

ScoreFn = Callable[[np.ndarray, np.ndarray], np.ndarray]


@dataclass(frozen=True)
class Candidate:
    person_id: str
    confidence: float


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
            self._matrix = None

    def _arrays(self) -> tuple[np.ndarray, np.ndarray, set[str]]:
        with self._lock:
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

    def search(
        self, query: np.ndarray, score: ScoreFn, threshold: float, limit: int
    ) -> list[Candidate]:
        """Persons whose best face scores at least ``threshold``, best first, at most ``limit``."""
        matrix, persons, _ = self._arrays()
        if len(matrix) == 0:
            return []
        scores = score(query, matrix)
        hits = np.flatnonzero(scores >= threshold)
        if hits.size == 0:
            return []
        order = hits[np.argsort(-scores[hits], kind="stable")]
        best: dict[str, float] = {}
        for i in order:
            person = str(persons[i])
            if person not in best:
                best[person] = float(scores[i])
                if len(best) >= limit:
                    break
        return [Candidate(p, c) for p, c in best.items()]


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
