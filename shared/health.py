"""The body of GET /api/health."""

from __future__ import annotations

import platform
from typing import Any

from shared import __version__


def health_report() -> dict[str, Any]:
    """Status, versions and loaded models; cheap, never touches storage."""
    return {
        "status": "ok",
        "service": "facegate",
        "version": __version__,
        "python": platform.python_version(),
    }
