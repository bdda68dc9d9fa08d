"""The process-wide vision analyzer, created on first use (models load lazily inside)."""

from __future__ import annotations

from shared import vision
from shared.lazy import Lazy

analyzer: Lazy[vision.Analyzer] = Lazy(vision.Analyzer)
