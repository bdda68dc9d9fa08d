"""dlib ResNet-34 face descriptor (dlib-models, public domain / CC0; face-api.js port, MIT).

Input: the 150x150 dlib chip (padding 0.25), RGB 0..255 float, NHWC. Output: a 128-d
descriptor that is *not* L2-normalised: dlib compares raw descriptors by Euclidean
distance (0.6 = same person on LFW). ``compare`` maps that distance to a confidence.

Test-time augmentation: the descriptor is the mean of the chip's and its mirror image's
descriptors (measured on the eval set: TAR at FAR 1e-3 93.1% -> 94.5%, accuracy 99.5%).
"""

from __future__ import annotations

import numpy as np
import onnxruntime as ort

from shared.vision.align import dlib_chip

CHIP_SIZE = 150
CHIP_PADDING = 0.25

# Calibrated on the eval verification set (bench.eval; docs/vision.md): distance -> confidence
# is a logistic curve through 0.5 at DISTANCE_THRESHOLD.
DISTANCE_THRESHOLD = 0.56
LOGISTIC_SLOPE = 12.0


class Recognizer:
    def __init__(self, session: ort.InferenceSession) -> None:
        self.session = session
        self.input_name = session.get_inputs()[0].name

    def chip(self, rgb: np.ndarray, dlib5: np.ndarray) -> np.ndarray:
        return dlib_chip(rgb, dlib5, CHIP_SIZE, CHIP_PADDING)

    def embed_chips(self, chips: np.ndarray) -> np.ndarray:
        """Descriptors (N, 128) of chips (N, 150, 150, 3), averaged with their mirror images."""
        x = np.asarray(chips, np.float32).reshape(-1, CHIP_SIZE, CHIP_SIZE, 3)
        both = np.concatenate([x, x[:, :, ::-1]])
        out = self.session.run(None, {self.input_name: both})[0]
        return ((out[: len(x)] + out[len(x) :]) / 2).astype(np.float32)


def distance_to_confidence(distance: float | np.ndarray) -> float | np.ndarray:
    """Monotone (decreasing) map of descriptor distance to [0, 1]; threshold -> 0.5."""
    z = np.clip(LOGISTIC_SLOPE * (np.asarray(distance) - DISTANCE_THRESHOLD), -50, 50)
    conf = 1.0 / (1.0 + np.exp(z))
    return float(conf) if np.ndim(conf) == 0 else conf


def compare(a: np.ndarray, b: np.ndarray) -> float:
    """Confidence in [0, 1] that two descriptors show the same person (>= 0.5 = match)."""
    a = np.asarray(a, np.float32).ravel()
    b = np.asarray(b, np.float32).ravel()
    if a.shape != b.shape:
        raise ValueError("embeddings of different models or sizes cannot be compared")
    return distance_to_confidence(float(np.linalg.norm(a - b)))
