"""Image-quality attributes without a model: blur, exposure and qualityForRecognition.

Shapes follow Azure's faceAttributes:
  blur     {"blurLevel": "low"|"medium"|"high", "value": 0..1}   (1 = blurriest)
  exposure {"exposureLevel": "underExposure"|"goodExposure"|"overExposure", "value": 0..1}
Levels use Azure's documented cut-offs: value < 0.25 / 0.25..0.75 / > 0.75.

Blur is measured on an aligned 150 px face chip (so it does not depend on the face's
size in the photo) as the Laplacian energy relative to the chip's contrast; exposure is
the mean luminance of the central face region. The chip is this module's own input (dlib's
5-point alignment from the mesh, padding 0.25: the crop the cut-offs were calibrated on),
not the recognizer's, so changing the recognition model does not move these attributes or
the enrolment quality gate built on them.
"""

from __future__ import annotations

import cv2
import numpy as np

from shared.vision.align import mesh_chip
from shared.vision.face import Face
from shared.vision.facemesh import head_pose
from shared.vision.zoo import MESH, FaceModel, register

CHIP_SIZE = 150
CHIP_PADDING = 0.25

# Sharpness (var(Laplacian) / var(grey)) at which blur value is 0.5; measured on the test
# portraits: sharp chips score ~0.3-1.0, a sigma-2 blur of a 150 px chip ~0.02.
SHARPNESS_MID = 0.05


def _level(value: float, names: tuple[str, str, str]) -> str:
    return names[0] if value < 0.25 else names[1] if value <= 0.75 else names[2]


def blur(chip_rgb: np.ndarray) -> dict[str, object]:
    grey = cv2.cvtColor(chip_rgb, cv2.COLOR_RGB2GRAY).astype(np.float32)
    h, w = grey.shape
    core = grey[h // 6 : h - h // 6, w // 6 : w - w // 6]
    lap = cv2.Laplacian(core, cv2.CV_32F, ksize=1)
    sharpness = float(lap.var() / (core.var() + 25.0))
    value = 1.0 / (1.0 + (sharpness / SHARPNESS_MID) ** 1.5)
    value = round(float(np.clip(value, 0.0, 1.0)), 2)
    return {"blurLevel": _level(value, ("low", "medium", "high")), "value": value}


def exposure(chip_rgb: np.ndarray) -> dict[str, object]:
    grey = cv2.cvtColor(chip_rgb, cv2.COLOR_RGB2GRAY).astype(np.float32) / 255.0
    h, w = grey.shape
    core = grey[h // 4 : h - h // 4, w // 4 : w - w // 4]
    value = round(float(np.clip(core.mean(), 0.0, 1.0)), 2)
    level = _level(value, ("underExposure", "goodExposure", "overExposure"))
    return {"exposureLevel": level, "value": value}


def quality_for_recognition(
    face_side: float, blur_attr: dict, exposure_attr: dict, pose: dict[str, float]
) -> str:
    """Rules (documented in docs/vision.md):

    high   : face >= 100 px, blur low, exposure good, |yaw| <= 20 and |pitch| <= 20
    medium : face >= 50 px, blur not high, exposure value in 0.15..0.85,
             |yaw| <= 40 and |pitch| <= 30
    low    : anything else
    """
    yaw, pitch = abs(pose["yaw"]), abs(pose["pitch"])
    exp_value = float(exposure_attr["value"])
    if (
        face_side >= 100
        and blur_attr["blurLevel"] == "low"
        and exposure_attr["exposureLevel"] == "goodExposure"
        and yaw <= 20
        and pitch <= 20
    ):
        return "high"
    if (
        face_side >= 50
        and blur_attr["blurLevel"] != "high"
        and 0.15 <= exp_value <= 0.85
        and yaw <= 40
        and pitch <= 30
    ):
        return "medium"
    return "low"


@register
class Quality(FaceModel):
    """Adapter without an ONNX model: blur, exposure and qualityForRecognition."""

    role = "quality"
    provides = frozenset({"blur", "exposure", "qualityForRecognition"})
    needs = frozenset({MESH})

    @staticmethod
    def chip(rgb: np.ndarray, face: Face) -> np.ndarray:
        return mesh_chip(rgb, face, CHIP_SIZE, CHIP_PADDING)

    def fill(self, rgb: np.ndarray, face: Face, wanted: frozenset[str]) -> None:
        chip = self.chip(rgb, face)
        blur_attr, exposure_attr = blur(chip), exposure(chip)
        if "blur" in wanted:
            face.attributes["blur"] = blur_attr
        if "exposure" in wanted:
            face.attributes["exposure"] = exposure_attr
        if "qualityForRecognition" in wanted:
            side = min(face.rectangle["width"], face.rectangle["height"])
            face.attributes["qualityForRecognition"] = quality_for_recognition(
                side, blur_attr, exposure_attr, head_pose(face.mesh)
            )
