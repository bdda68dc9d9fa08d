"""The face record that flows through the pipeline, and its Azure-shaped JSON."""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from shared import attributes as attribute_registry

LANDMARK_NAMES = ("pupilLeft", "pupilRight", "noseTip", "mouthLeft", "mouthRight")
ATTRIBUTES = attribute_registry.NAMES  # Azure's faceAttributes names, in the registry's order


@dataclass
class Face:
    """One detected face. Each model fills in its part (InsightFace style).

    ``rectangle`` is Azure's faceRectangle (ints), ``landmarks`` maps Azure's five names to
    ``{"x", "y"}`` (image left/right as seen in the picture), ``attributes`` is shaped like
    Azure's faceAttributes. ``embedding`` is never serialised.
    """

    rectangle: dict[str, int]
    confidence: float
    landmarks: dict[str, dict[str, float]] = field(default_factory=dict)
    attributes: dict[str, Any] = field(default_factory=dict)
    embedding: np.ndarray | None = None
    recognition_model: str | None = None  # the recognitionModel id of ``embedding``
    # pipeline internals (image coordinates, float): not part of the JSON
    box: np.ndarray = field(default_factory=lambda: np.zeros(4), repr=False)
    points: np.ndarray = field(default_factory=lambda: np.zeros((5, 2)), repr=False)
    mesh: Any = field(default=None, repr=False)
    scale: float = field(default=1.0, repr=False)  # analysed pixels per original pixel
    crops: dict[Hashable, np.ndarray] = field(default_factory=dict, repr=False)

    def crop(self, key: Hashable, make: Callable[[], np.ndarray]) -> np.ndarray:
        """A crop of this face made once per analysis and shared by the models that ask for
        the same ``key`` (their geometry); never serialised. Callers must not modify it."""
        found = self.crops.get(key)
        if found is None:
            found = self.crops[key] = make()
        return found

    def to_json(self, *, landmarks: bool = True, attributes: bool = True) -> dict[str, Any]:
        out: dict[str, Any] = {"faceRectangle": dict(self.rectangle)}
        if landmarks and self.landmarks:
            out["faceLandmarks"] = {k: dict(v) for k, v in self.landmarks.items()}
        if attributes and self.attributes:
            out["faceAttributes"] = _plain(self.attributes)
        return out


def rectangle_from_box(box: np.ndarray, width: int, height: int) -> dict[str, int]:
    """x0, y0, x1, y1 floats -> Azure faceRectangle, clipped to the image."""
    x0 = round(max(0.0, float(box[0])))
    y0 = round(max(0.0, float(box[1])))
    x1 = round(min(float(width), float(box[2])))
    y1 = round(min(float(height), float(box[3])))
    return {"top": y0, "left": x0, "width": max(1, x1 - x0), "height": max(1, y1 - y0)}


def landmarks_from_points(points: np.ndarray) -> dict[str, dict[str, float]]:
    return {
        name: {"x": round(float(x), 1), "y": round(float(y), 1)}
        for name, (x, y) in zip(LANDMARK_NAMES, points, strict=True)
    }


def _plain(value: Any) -> Any:
    """Copy with numpy scalars turned into Python numbers (JSON-safe)."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value
