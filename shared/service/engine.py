"""The process-wide vision analyzer, created on first use (models load lazily inside)."""

from __future__ import annotations

import numpy as np

from shared import vision
from shared.lazy import Lazy
from shared.vision.recognizer import distance_to_confidence

analyzer: Lazy[vision.Analyzer] = Lazy(vision.Analyzer)


def confidences(query: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """``vision.compare`` of ``query`` against every row of ``matrix``, vectorised.

    Distances come from |m|^2 + |q|^2 - 2 m.q: one matrix-vector product, no
    (N, 128) temporary, so 100k templates take a few milliseconds.
    """
    query = np.asarray(query, np.float32).ravel()
    squared = np.einsum("ij,ij->i", matrix, matrix) + float(query @ query) - 2.0 * (matrix @ query)
    distances = np.sqrt(np.maximum(squared, 0.0))
    return np.asarray(distance_to_confidence(distances), dtype=np.float64).reshape(-1)
