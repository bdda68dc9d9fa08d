"""dlib ResNet-34 face descriptor (dlib-models, public domain / CC0; face-api.js port, MIT).

Input: the 150x150 dlib chip (padding 0.25), RGB 0..255 float, NHWC. Output: a 128-d
descriptor that is *not* L2-normalised: dlib compares raw descriptors by Euclidean
distance (0.6 = same person on LFW). The adapter's ``similarity`` is the negated distance
(higher = more alike); ``confidence`` maps it to 0..1 with 0.5 at distance 0.56.

Test-time augmentation: the descriptor is the mean of the chip's and its mirror image's
descriptors (measured on the eval set: TAR at FAR 1e-3 93.1% -> 94.5%, accuracy 99.5%).
"""

from __future__ import annotations

import numpy as np

from shared.vision.align import dlib_chip, mesh_chip
from shared.vision.face import Face
from shared.vision.zoo import MESH, RecognitionModel, register

CHIP_SIZE = 150
CHIP_PADDING = 0.25

# Calibrated on the eval verification set (bench.eval; docs/vision.md): distance -> confidence
# is a logistic curve through 0.5 at DISTANCE_THRESHOLD.
DISTANCE_THRESHOLD = 0.56
LOGISTIC_SLOPE = 12.0


@register
class Recognizer(RecognitionModel):
    """dlib's descriptor: chip from the mesh's eye corners and nose base, Euclidean distance."""

    name = "dlib_resnet34_v1"
    dimension = 128
    match_similarity = -DISTANCE_THRESHOLD
    needs = frozenset({MESH})
    models = ("dlib_resnet_128",)

    def chip(self, rgb: np.ndarray, dlib5: np.ndarray) -> np.ndarray:
        return dlib_chip(rgb, dlib5, CHIP_SIZE, CHIP_PADDING)

    def embed_chips(self, chips: np.ndarray) -> np.ndarray:
        """Descriptors (N, 128) of chips (N, 150, 150, 3), averaged with their mirror images."""
        x = np.asarray(chips, np.float32).reshape(-1, CHIP_SIZE, CHIP_SIZE, 3)
        both = np.concatenate([x, x[:, :, ::-1]])
        session = self.session(self.models[0])
        out = session.run(None, {session.get_inputs()[0].name: both})[0]
        return ((out[: len(x)] + out[len(x) :]) / 2).astype(np.float32)

    def embed(self, rgb: np.ndarray, face: Face) -> np.ndarray:
        return self.embed_chips(mesh_chip(rgb, face, CHIP_SIZE, CHIP_PADDING)[None])[0]

    def similarity(self, query: np.ndarray, matrix: np.ndarray) -> np.ndarray:
        """Negated Euclidean distances, from |m|^2 + |q|^2 - 2 m.q (one matrix-vector
        product, no (n, d) temporary: 100k templates take a few milliseconds)."""
        query = np.asarray(query, np.float32).ravel()
        matrix = np.asarray(matrix, np.float32).reshape(-1, query.size)
        squared = np.einsum("ij,ij->i", matrix, matrix) + float(query @ query)
        squared -= 2.0 * (matrix @ query)
        return -np.sqrt(np.maximum(squared, 0.0)).astype(np.float64)

    def confidence(self, similarity: np.ndarray | float) -> np.ndarray | float:
        return distance_to_confidence(-np.asarray(similarity, np.float64))


def distance_to_confidence(distance: float | np.ndarray) -> float | np.ndarray:
    """Monotone (decreasing) map of descriptor distance to [0, 1]; threshold -> 0.5."""
    z = np.clip(LOGISTIC_SLOPE * (np.asarray(distance) - DISTANCE_THRESHOLD), -50, 50)
    conf = 1.0 / (1.0 + np.exp(z))
    return float(conf) if np.ndim(conf) == 0 else conf


def compare(a: np.ndarray, b: np.ndarray) -> float:
    """Confidence in [0, 1] that two dlib descriptors show the same person (>= 0.5 = match)."""
    a = np.asarray(a, np.float32).ravel()
    b = np.asarray(b, np.float32).ravel()
    if a.shape != b.shape:
        raise ValueError("embeddings of different models or sizes cannot be compared")
    return distance_to_confidence(float(np.linalg.norm(a - b)))
