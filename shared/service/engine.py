"""The process-wide vision analyzer, created on first use (models load lazily inside)."""

from __future__ import annotations

import threading

import numpy as np

from shared import vision

_lock = threading.Lock()
_analyzer: vision.Analyzer | None = None


def analyzer() -> vision.Analyzer:
    global _analyzer
    if _analyzer is None:
        with _lock:
            if _analyzer is None:
                _analyzer = vision.Analyzer()
    return _analyzer


def confidences(query: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """Confidence in [0, 1] of ``query`` against every row of ``matrix``."""
    return vision.compare_many(query, matrix)
