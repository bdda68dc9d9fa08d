"""What every face system under evaluation hands to the scoring: boxes, embeddings, timings.

``bench.ours`` fills a ``SystemRun`` with shared.vision, ``bench.peer`` with the
face_recognition library; ``bench.scoring`` turns either into the same figures.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from tqdm import tqdm

MISSING_SCORE = -1e6  # similarity of a pair where a photo has no face: below any threshold


@dataclass
class SystemRun:
    """One system's raw outputs on the manifest photos (no scores computed yet)."""

    name: str
    version: str
    threshold: float  # decision threshold on ``similarity(distance)``
    threshold_label: str  # how the system documents it, e.g. "distance 0.56"
    similarity: Callable[[np.ndarray], np.ndarray]  # embedding distances -> scores
    detections: dict[str, np.ndarray] = field(default_factory=dict)  # path -> (K, 4) xyxy
    detect_seconds: list[float] = field(default_factory=list)  # per detection photo
    embeddings: dict[str, np.ndarray | None] = field(default_factory=dict)
    embed_seconds: list[float] = field(default_factory=list)  # per verification photo
    notes: list[str] = field(default_factory=list)

    def distance_matrix(self, paths: list[str]) -> np.ndarray:
        """Euclidean distances between the photos' embeddings; inf where a face is missing."""
        dim = next((len(e) for e in self.embeddings.values() if e is not None), 128)
        vectors = np.full((len(paths), dim), np.nan)
        for row, path in enumerate(paths):
            embedding = self.embeddings.get(path)
            if embedding is not None:
                vectors[row] = embedding
        diff = vectors[:, None, :] - vectors[None, :, :]
        dist = np.sqrt((diff**2).sum(-1))
        return np.where(np.isnan(dist), np.inf, dist)

    def similarity_matrix(self, paths: list[str]) -> np.ndarray:
        dist = self.distance_matrix(paths)
        with np.errstate(over="ignore", invalid="ignore"):
            scores = np.asarray(self.similarity(dist), np.float64)
        return np.where(np.isfinite(dist), scores, MISSING_SCORE)


def progress(items: Iterable[Any], what: str, total: int | None = None) -> Iterator[Any]:
    """A tqdm bar on stderr with counts and rate (stdout stays the report)."""
    yield from tqdm(items, desc=what, total=total, unit="img", file=sys.stderr, dynamic_ncols=True)
