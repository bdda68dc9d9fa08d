"""Azure Face's 27 named landmarks, taken from the 468-point MediaPipe FaceMesh.

The analyzer already runs FaceMesh for head pose, quality and alignment
(the ``mesh`` adapter, facemesh.py); each Azure landmark is one mesh vertex, except the pupils,
which are the centres of the eye contours (FaceMesh 468 has no iris points), exactly as
``Mesh.five()`` computes them. Left and right are as seen in the picture, Azure's
convention and FaceGate's: ``eyeLeftOuter`` is the subject's right eye's outer corner.
Indices follow MediaPipe's canonical topology; the geometry is checked by
tests/vision/test_landmarks27.py on the committed portraits.
"""

from __future__ import annotations

import numpy as np

from shared.vision.facemesh import Mesh

# Azure name -> FaceMesh vertex, in Azure's documented order (after the five Mesh.five points).
MESH_VERTEX: dict[str, int] = {
    "eyebrowLeftOuter": 70,
    "eyebrowLeftInner": 107,
    "eyeLeftOuter": 33,
    "eyeLeftTop": 159,
    "eyeLeftBottom": 145,
    "eyeLeftInner": 133,
    "eyebrowRightInner": 336,
    "eyebrowRightOuter": 300,
    "eyeRightInner": 362,
    "eyeRightTop": 386,
    "eyeRightBottom": 374,
    "eyeRightOuter": 263,
    "noseRootLeft": 193,
    "noseRootRight": 417,
    "noseLeftAlarTop": 49,
    "noseRightAlarTop": 279,
    "noseLeftAlarOutTip": 64,
    "noseRightAlarOutTip": 294,
    "upperLipTop": 0,
    "upperLipBottom": 13,
    "underLipTop": 14,
    "underLipBottom": 17,
}
FIVE = ("pupilLeft", "pupilRight", "noseTip", "mouthLeft", "mouthRight")
NAMES: tuple[str, ...] = FIVE + tuple(MESH_VERTEX)


def azure_landmarks(mesh: Mesh, scale: float = 1.0) -> dict[str, dict[str, float]]:
    """The 27 points in original-image pixels (``scale``: analysed pixels per original one)."""
    points = np.vstack([mesh.five(), mesh.points[list(MESH_VERTEX.values()), :2]]) / scale
    return {
        name: {"x": round(float(x), 1), "y": round(float(y), 1)}
        for name, (x, y) in zip(NAMES, points, strict=True)
    }
