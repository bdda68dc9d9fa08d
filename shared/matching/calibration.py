"""Per-recognition-model constants of score normalisation, and the map to a confidence.

A calibration holds only distribution facts (two numbers for the small-gallery prior, a
threshold, a slope), never a template: no biometric data of anybody ships with FaceGate.
How each number was measured: docs/accuracy.md ("Fair identification").
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from shared.errors import BadArgument
from shared.vision import RECOGNITION_MODEL
from shared.vision.recognizer import DISTANCE_THRESHOLD


@dataclass(frozen=True)
class Calibration:
    """How to normalise and threshold one recognition model's raw similarities.

    Raw similarity is the negative Euclidean distance between templates (higher = more
    alike). A normalised score is in standard deviations above the cohort's top scores.
    """

    cohort_size: int  # k: the top-k cohort scores that give each side its mean and spread
    prior_mean: float  # top-k cohort mean expected when a gallery has fewer than k others
    prior_spread: float  # ... and the spread; blended in for small galleries
    threshold: float  # normalised score at which confidence = 0.5, in a gallery of reference_size
    reference_size: int  # persons in the gallery the threshold was measured on
    size_slope: float  # threshold rise per e-fold of gallery size (FPIR grows with the gallery)
    min_size: int  # below this many persons the threshold stops falling (small-gallery floor)
    slope: float  # logistic slope of confidence around the threshold, per normalised unit
    raw_threshold: float  # raw similarity of a 1:1 match when no cohort is available
    raw_slope: float  # logistic slope of the raw confidence, per unit of raw similarity

    def threshold_for(self, persons: int | None) -> float:
        """The decision threshold for a search among ``persons`` (None: one comparison).

        Every enrolled person is another chance of a false match, so the threshold rises
        with the logarithm of the gallery's size and the false-identification rate of a
        stranger stays where it was measured, from a few dozen people to thousands.
        """
        if persons is None:
            return self.threshold
        size = max(persons, self.min_size)
        return self.threshold + self.size_slope * math.log(size / self.reference_size)

    def confidence(self, normalised: np.ndarray | float, persons: int | None = None) -> np.ndarray:
        """Monotone map of normalised scores to [0, 1]; the threshold maps to 0.5."""
        shift = np.asarray(normalised, np.float64) - self.threshold_for(persons)
        return 1.0 / (1.0 + np.exp(-np.clip(self.slope * shift, -50, 50)))

    def raw_confidence(self, raw: np.ndarray | float) -> np.ndarray:
        """The verification-calibrated confidence of a raw similarity (no cohort)."""
        z = np.clip(self.raw_slope * (np.asarray(raw, np.float64) - self.raw_threshold), -50, 50)
        return 1.0 / (1.0 + np.exp(-z))

    def normalised_at(self, confidence: float, persons: int | None = None) -> float:
        """The normalised score whose confidence is ``confidence`` (0 < confidence < 1)."""
        logit = math.log(confidence / (1.0 - confidence))
        return self.threshold_for(persons) + logit / self.slope


# Measured with `make eval` (bench/fairness.py) on a race-balanced gallery of ~230 people:
# threshold 4.85 gives about 4.8% stranger false identifications there; the threshold that
# gives 4% rose by 0.35 per e-fold of gallery size over galleries of 25 to 790 people; the
# prior is the mean top-20 cohort score and spread of stranger probes in that gallery
# (docs/accuracy.md, "Fair identification").
_CALIBRATIONS: dict[str, Calibration] = {
    RECOGNITION_MODEL: Calibration(
        cohort_size=20,
        prior_mean=-0.664,
        prior_spread=0.0355,
        threshold=4.85,
        reference_size=230,
        size_slope=0.35,
        min_size=100,
        slope=1.5,
        raw_threshold=-DISTANCE_THRESHOLD,
        raw_slope=12.0,
    ),
}


def register(model: str, calibration: Calibration) -> None:
    """Add the calibration of another recognition model (with its adapter)."""
    _CALIBRATIONS[model] = calibration


def calibration_for(model: str) -> Calibration:
    try:
        return _CALIBRATIONS[model]
    except KeyError:
        raise BadArgument(
            f"No match calibration for recognition model {model!r}.",
            code="UnsupportedRecognitionModel",
        ) from None
