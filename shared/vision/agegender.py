"""Age and gender: face-api.js's age/gender net (MIT).

Input: a 112x112 RGB crop of the face box padded to a square, raw 0..255 (normalised
in-graph); outputs age in years (regression) and softmax (male, female). Averaged with its
mirror image. On UTKFace it beat dlib's CC0 age and gender models (age MAE 4.2 vs 5.6
years, gender 90.9% vs 87.7% of all faces; docs/vision.md), which were therefore dropped.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from shared.vision.face import Face
from shared.vision.geometry import face_square, square_crop_matrix, warp
from shared.vision.zoo import FaceModel, register

# Abstain ("unknown") when the gender model's probability for its answer is below this.
# Calibrated on UTKFace (bench.eval): see docs/vision.md.
GENDER_ABSTAIN_BELOW = 0.62


@register
class AgeGenderNet(FaceModel):
    """Adapter: fills ``age`` and ``gender`` (+ ``genderConfidence``)."""

    role = "age_gender"
    provides = frozenset({"age", "gender"})
    models = ("faceapi_age_gender",)
    SIZE = 112
    CROP_SCALE = 1.0

    def infer(self, rgb: np.ndarray, box: np.ndarray) -> tuple[float, float]:
        """(age in years, P(male)) for the face in ``box`` (x0, y0, x1, y1)."""
        return self._run(warp(rgb, square_crop_matrix(box, self.CROP_SCALE, self.SIZE), self.SIZE))

    def _run(self, crop: np.ndarray) -> tuple[float, float]:
        c = crop.astype(np.float32)
        session = self.session(self.models[0])
        age, gender = session.run(["age", "gender"], {"input": np.stack([c, c[:, ::-1]])})
        return float(np.mean(age)), float(gender[:, 0].mean())

    def fill(self, rgb: np.ndarray, face: Face, wanted: frozenset[str]) -> None:
        age, p_male = self._run(face_square(rgb, face, self.CROP_SCALE, self.SIZE))
        if "age" in wanted:
            face.attributes["age"] = round(max(0.0, age), 1)
        if "gender" in wanted:
            face.attributes.update(gender_decision(p_male))


def gender_decision(p_male: float) -> dict[str, Any]:
    """Gender value and confidence, abstaining ("unknown") below the calibrated level."""
    confidence = max(p_male, 1.0 - p_male)
    value = "male" if p_male >= 0.5 else "female"
    if confidence < GENDER_ABSTAIN_BELOW:
        value = "unknown"
    return {"gender": value, "genderConfidence": round(confidence, 3)}
