"""FaceGate's records in Azure's JSON shapes (large person groups, paging)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from shared.api.azure_face.requests import AZURE_RECOGNITION_MODEL, Page


def group(gallery: dict[str, Any], with_model: bool) -> dict[str, Any]:
    """A FaceGate gallery as Azure's LargePersonGroup."""
    shaped = {
        "largePersonGroupId": gallery["galleryId"],
        "name": gallery["name"],
        "userData": gallery.get("userData") or None,
    }
    if with_model:
        shaped["recognitionModel"] = AZURE_RECOGNITION_MODEL
    return shaped


def page(items: Sequence[dict[str, Any]], key: str, request: Page) -> list[dict[str, Any]]:
    """Azure's paging: entries whose ``key`` sorts after ``start``, at most ``top``."""
    ordered = sorted(items, key=lambda item: item[key])
    return [item for item in ordered if item[key] > request.start][: request.top]
