"""The process-wide vision analyzer, created on first use (models load lazily inside)."""

from __future__ import annotations

import threading

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
