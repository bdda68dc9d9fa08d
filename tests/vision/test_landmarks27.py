"""Azure's 27 landmarks from FaceMesh: anatomy in the right places, in original pixels."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from shared.vision import Analyzer
from shared.vision.landmarks27 import NAMES, azure_landmarks
from tests.data import make_photos as mp


@pytest.fixture(scope="module")
def analyzer() -> Analyzer:
    return Analyzer()


def _points(analyzer: Analyzer, image) -> tuple[dict[str, tuple[float, float]], dict]:
    faces = analyzer.analyze(image, ["headPose"], landmarks=True)
    assert len(faces) == 1
    face = faces[0]
    marks = azure_landmarks(face.mesh, face.scale)
    return {k: (v["x"], v["y"]) for k, v in marks.items()}, face.rectangle


@pytest.mark.parametrize("photo", [mp.ASTRONAUT, mp.GRACE_HOPPER])
def test_the_27_points_sit_where_their_names_say(analyzer: Analyzer, photo) -> None:
    p, rect = _points(analyzer, photo.read_bytes())
    assert tuple(p) == NAMES and len(NAMES) == 27
    x = {k: v[0] for k, v in p.items()}
    y = {k: v[1] for k, v in p.items()}
    # left is image left: every left point is left of its right twin
    for left in [n for n in NAMES if "Left" in n]:
        assert x[left] < x[left.replace("Left", "Right")], left
    # outer eye/brow points are outside the inner ones
    for side, sign in (("Left", 1), ("Right", -1)):
        assert sign * (x[f"eye{side}Inner"] - x[f"eye{side}Outer"]) > 0
        assert sign * (x[f"eyebrow{side}Inner"] - x[f"eyebrow{side}Outer"]) > 0
        assert y[f"eyebrow{side}Inner"] < y[f"eye{side}Top"] < y[f"eye{side}Bottom"]
        assert y[f"eye{side}Top"] < y[f"pupil{side}"] < y[f"eye{side}Bottom"]
    # top to bottom down the face's midline
    column = ["noseRootLeft", "noseLeftAlarTop", "upperLipTop", "underLipBottom"]
    assert [y[n] for n in column] == sorted(y[n] for n in column)
    assert y["upperLipTop"] <= y["upperLipBottom"] <= y["underLipTop"] <= y["underLipBottom"]
    assert y["pupilLeft"] < y["noseTip"] < y["upperLipTop"]
    # the nose lies between the eyes, the mouth corners outside the nostrils
    assert x["eyeLeftInner"] < x["noseRootLeft"] < x["noseRootRight"] < x["eyeRightInner"]
    assert x["mouthLeft"] < x["noseLeftAlarOutTip"] and x["noseRightAlarOutTip"] < x["mouthRight"]
    # every point is inside the face rectangle (with a little slack for the brows)
    for name, (px, py) in p.items():
        assert rect["left"] - 3 <= px <= rect["left"] + rect["width"] + 3, name
        assert rect["top"] - 10 <= py <= rect["top"] + rect["height"] + 3, name


def test_points_are_in_original_pixels_when_the_image_is_downscaled(analyzer: Analyzer) -> None:
    """A 5000 px image is analysed at 4096 px; the points must still be in its own pixels."""
    small = mp.astronaut()
    big = cv2.resize(small, (5000, 5000), interpolation=cv2.INTER_CUBIC)
    p_small, _ = _points(analyzer, mp.encode(small, "PNG"))
    p_big, rect = _points(analyzer, mp.encode(big, "JPEG", quality=90))
    factor = 5000 / small.shape[1]
    for name in NAMES:
        expected = np.array(p_small[name]) * factor
        # a few original-size pixels: the mesh sees a slightly different crop
        assert np.linalg.norm(np.array(p_big[name]) - expected) < 0.04 * rect["width"], name
