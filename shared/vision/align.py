"""Alignment to dlib's 5-point face-chip template (used by the recognition and age/gender nets).

dlib's ``get_face_chip_details`` maps its 5-point shape (eye corners and nose base) onto a
mean face with a least-squares similarity transform; ``padding`` widens the chip around it.
"""

from __future__ import annotations

import numpy as np

from shared.vision.face import Face
from shared.vision.geometry import similarity, warp

# dlib's mean 5-point face (left eye outer, left eye inner, right eye outer, right eye inner,
# nose base), in [0, 1] chip units, from dlib/image_transforms/interpolation.h
DLIB5_TEMPLATE = np.array(
    [
        (0.8595674595992, 0.2134981538014),
        (0.6460604764104, 0.2289674387677),
        (0.1205750620789, 0.2137274526848),
        (0.3340850613712, 0.2290642403242),
        (0.4901123135679, 0.6277975316475),
    ]
)


def dlib_chip_matrix(dlib5: np.ndarray, size: int, padding: float) -> np.ndarray:
    target = (DLIB5_TEMPLATE + padding) / (1 + 2 * padding) * size
    return similarity(dlib5, target)


def dlib_chip(rgb: np.ndarray, dlib5: np.ndarray, size: int, padding: float) -> np.ndarray:
    """The size x size RGB chip dlib would extract for these 5 points."""
    return warp(rgb, dlib_chip_matrix(dlib5, size, padding), size)


def mesh_chip(rgb: np.ndarray, face: Face, size: int, padding: float) -> np.ndarray:
    """dlib's chip on the eye corners and nose base of ``face.mesh``, made once per face
    and geometry (the quality measures and the dlib recognizer share it when they agree)."""
    return face.crop(
        ("dlib_chip", size, padding), lambda: dlib_chip(rgb, face.mesh.dlib5(), size, padding)
    )
