"""The body of GET /api/health."""

from __future__ import annotations

import platform
from typing import Any

from shared import __version__
from shared.vision.catalog import default_catalog


def health_report() -> dict[str, Any]:
    """Status, versions and models; cheap, never touches storage or loads a model."""
    catalog = default_catalog()
    return {
        "status": "ok",
        "service": "facegate",
        "version": __version__,
        "python": platform.python_version(),
        "models": {
            "available": [
                {
                    "name": name,
                    "task": catalog.entry(name).task,
                    "version": catalog.entry(name).version,
                }
                for name in catalog.names()
            ],
            "loaded": catalog.loaded(),
        },
    }
