"""In-memory identify index per gallery, kept fresh from the gallery's version and epoch.

Identify must answer in milliseconds against 100k enrolled faces, so each
process keeps a gallery's templates as one float32 matrix. Before every search
it reads the gallery row (one point read): a new ``version`` means faces were
added, and only rows written since the last load (with a safety overlap) are
fetched; a new ``epoch`` (renewed by every erasure after its templates are gone,
before it answers) or ``generation`` (a re-created gallery) means the index is
rebuilt from scratch, so an erased template can never be matched, on this
instance or any other sharing the storage. The index is labelled with the
tokens read *before* its rows were loaded, so a load racing an erasure is
always followed by a rebuild. Scores are normalised against the gallery itself
(shared.matching.Cohort), rebuilt with the matrix.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections import OrderedDict

import numpy as np

from shared.biometrics import table_store as store
from shared.biometrics.records import Gallery
from shared.matching import Cohort, Match, calibration_for

# Rows written up to this long before the newest row seen are fetched again on an
# incremental refresh, so a write racing the last load is never missed.
_OVERLAP = dt.timedelta(seconds=60)
# Per customer (see IndexCache): how many galleries' indexes it keeps, and for how long unused.
_GALLERIES_PER_CUSTOMER = 16
_IDLE_SECONDS = 30 * 60.0

Candidate = Match  # a person and the confidence that the probe is them


class GalleryIndex:
    """The templates of one gallery, searchable as a matrix."""

    def __init__(self, customer_id: str, gallery_id: str) -> None:
        self.customer_id = customer_id
        self.gallery_id = gallery_id
        self._lock = threading.Lock()
        self._epoch: tuple[str, str] | None = None
        self._version: str | None = None
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

    def refresh(self, gallery: Gallery) -> None:
        """Bring the index up to the gallery's current version, epoch and generation."""
        with self._lock:
            if (gallery.generation, gallery.epoch) != self._epoch:
                self._rows.clear()
                changes = store.templates_since(gallery, None)
                newest = changes.newest
            elif gallery.version != self._version:
                since = None if self._since is None else self._since - _OVERLAP
                changes = store.templates_since(gallery, since)
                newest = changes.newest or self._since
            else:
                return
            for face in changes.added:
                key = f"{face.person_id}:{face.persisted_face_id}"
                self._rows[key] = (face.person_id, face.template, face.model)
            for person_id, face_id in changes.erased:  # being erased: never match it again
                self._rows.pop(f"{person_id}:{face_id}", None)
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
    """The gallery indexes of this process, bounded per customer.

    Each customer has its own LRU of at most ``per_customer`` galleries, so only a
    customer's own identify calls can push one of its galleries out: however many
    galleries another customer searches, it evicts nothing of anyone else's. The
    number of customers is bounded by the registry (operators onboard them), and a
    customer's indexes are dropped after ``idle_seconds`` without a search, so the
    memory of customers that stopped calling comes back.
    """

    def __init__(
        self, per_customer: int = _GALLERIES_PER_CUSTOMER, idle_seconds: float = _IDLE_SECONDS
    ) -> None:
        self._lock = threading.Lock()
        self._customers: dict[str, OrderedDict[str, GalleryIndex]] = {}
        self._used: dict[str, float] = {}
        self._per_customer = per_customer
        self._idle = idle_seconds

    def fresh(self, gallery: Gallery) -> GalleryIndex:
        customer = gallery.customer_id
        now = time.monotonic()
        with self._lock:
            for idle in [c for c, used in self._used.items() if now - used > self._idle]:
                self._customers.pop(idle, None)
                self._used.pop(idle, None)
            indexes = self._customers.setdefault(customer, OrderedDict())
            self._used[customer] = now
            index = indexes.get(gallery.gallery_id)
            if index is None:
                index = indexes[gallery.gallery_id] = GalleryIndex(customer, gallery.gallery_id)
            indexes.move_to_end(gallery.gallery_id)
            while len(indexes) > self._per_customer:
                indexes.popitem(last=False)
        index.refresh(gallery)
        return index

    def cached(self, customer_id: str) -> list[str]:
        """The gallery ids whose indexes this process holds for a customer, oldest use first."""
        with self._lock:
            return list(self._customers.get(customer_id, ()))

    def forget(self, customer_id: str, gallery_id: str | None = None) -> None:
        """Drop one gallery's index, or (``gallery_id=None``) every index of the customer."""
        with self._lock:
            if gallery_id is None:
                self._customers.pop(customer_id, None)
                self._used.pop(customer_id, None)
            else:
                self._customers.get(customer_id, OrderedDict()).pop(gallery_id, None)


INDEXES = IndexCache()
