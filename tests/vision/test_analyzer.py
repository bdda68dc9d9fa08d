"""The vision pipeline with the real models on the public-domain test photos."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from shared.errors import BadArgument, InvalidImage
from shared.vision import ATTRIBUTES, MATCH_THRESHOLD, RECOGNITION_MODEL, Analyzer, compare
from shared.vision.catalog import Catalog
from tests.data import make_photos as mp

ALL = list(ATTRIBUTES)


@pytest.fixture(scope="module")
def analyzer() -> Analyzer:
    return Analyzer()


@pytest.fixture(scope="module")
def astronaut() -> np.ndarray:
    return mp.astronaut()


def only_face(analyzer: Analyzer, image, attributes=(), **kw):
    faces = analyzer.analyze(image, attributes, **kw)
    assert len(faces) == 1, [f.rectangle for f in faces]
    return faces[0]


def test_astronaut_has_one_sensible_face(analyzer: Analyzer) -> None:
    face = only_face(analyzer, mp.ASTRONAUT.read_bytes(), ALL)
    r = face.rectangle
    # the face is in the upper middle of the 512x512 portrait
    assert 150 <= r["left"] <= 220 and 40 <= r["top"] <= 100
    assert 60 <= r["width"] <= 130 and 60 <= r["height"] <= 140
    assert face.confidence > 0.9
    lm = face.landmarks
    eyes_y = max(lm["pupilLeft"]["y"], lm["pupilRight"]["y"])
    mouth_y = min(lm["mouthLeft"]["y"], lm["mouthRight"]["y"])
    assert eyes_y < lm["noseTip"]["y"] < mouth_y
    assert lm["pupilLeft"]["x"] < lm["pupilRight"]["x"]
    assert lm["mouthLeft"]["x"] < lm["mouthRight"]["x"]
    for name in ("pupilLeft", "pupilRight"):
        p = lm[name]
        assert r["left"] < p["x"] < r["left"] + r["width"]
        assert r["top"] < p["y"] < r["top"] + r["height"]
    attrs = face.attributes
    assert 20 <= attrs["age"] <= 65
    assert attrs["gender"] in ("male", "female", "unknown")
    assert 0.5 <= attrs["genderConfidence"] <= 1
    assert set(attrs["emotion"]) == {
        "anger",
        "contempt",
        "disgust",
        "fear",
        "happiness",
        "neutral",
        "sadness",
        "surprise",
    }
    assert sum(attrs["emotion"].values()) == pytest.approx(1.0, abs=1e-6)
    assert attrs["emotion"]["contempt"] == 0.0
    assert max(attrs["emotion"], key=attrs["emotion"].get) == "happiness"  # she smiles
    assert attrs["blur"]["blurLevel"] == "low" and 0 <= attrs["blur"]["value"] <= 1
    assert attrs["exposure"]["exposureLevel"] == "goodExposure"
    assert attrs["qualityForRecognition"] in ("medium", "high")
    assert all(abs(attrs["headPose"][k]) < 25 for k in ("yaw", "pitch", "roll"))


def test_json_shape_is_azure_like(analyzer: Analyzer, astronaut: np.ndarray) -> None:
    face = only_face(analyzer, astronaut, ["age", "headPose"], embeddings=True)
    doc = face.to_json()
    json.dumps(doc)  # serialisable
    assert set(doc) == {"faceRectangle", "faceLandmarks", "faceAttributes"}
    assert set(doc["faceRectangle"]) == {"top", "left", "width", "height"}
    assert all(isinstance(v, int) for v in doc["faceRectangle"].values())
    assert set(doc["faceAttributes"]) == {"age", "headPose"}
    assert "embedding" not in json.dumps(doc)
    bare = face.to_json(landmarks=False, attributes=False)
    assert set(bare) == {"faceRectangle"}


def test_only_requested_models_run() -> None:
    catalog = Catalog()
    fresh = Analyzer(catalog)
    assert catalog.loaded() == []  # nothing loads before it is needed
    fresh.analyze(mp.astronaut(), ["emotion"], landmarks=False)
    loaded = {item["name"] for item in catalog.loaded()}
    detection = {"blazeface_full_192", "blazeface_full_any", "blazeface_short_128", "mtcnn_pnet"}
    detection.add("mtcnn_rnet")
    detection.add("mtcnn_onet")
    assert loaded <= detection | {"emotion_minixception", "faceapi_expression"}
    assert {"emotion_minixception", "faceapi_expression"} <= loaded


def test_composite_faces_largest_first(analyzer: Analyzer) -> None:
    faces = analyzer.analyze(mp.composite(), ["headPose"])
    assert len(faces) == 4
    areas = [f.rectangle["width"] * f.rectangle["height"] for f in faces]
    assert areas == sorted(areas, reverse=True)
    assert len(analyzer.analyze(mp.composite(), max_faces=2)) == 2
    with pytest.raises(BadArgument):
        analyzer.analyze(mp.composite(), max_faces=0)


def test_same_person_augmented_verifies(analyzer: Analyzer, astronaut: np.ndarray) -> None:
    ref = only_face(analyzer, astronaut, embeddings=True).embedding
    assert ref.shape == (128,) and ref.dtype == np.float32
    for variant in (
        mp.flip(astronaut),
        mp.blur(astronaut, 1.5),
        mp.exposure(astronaut, 1.25, 15),
        mp.exposure(astronaut, 0.6),
        mp.rotate(astronaut, 12),
    ):
        other = only_face(analyzer, variant, embeddings=True).embedding
        assert compare(ref, other) > MATCH_THRESHOLD
    hopper = only_face(analyzer, mp.grace_hopper(), embeddings=True).embedding
    assert compare(ref, hopper) < MATCH_THRESHOLD
    assert compare(ref, ref) == pytest.approx(1.0, abs=0.01)
    assert isinstance(RECOGNITION_MODEL, str) and RECOGNITION_MODEL


def test_embed_matches_analyze(analyzer: Analyzer, astronaut: np.ndarray) -> None:
    face = only_face(analyzer, astronaut, embeddings=True)
    again = only_face(analyzer, astronaut)
    emb = analyzer.embed(astronaut, again)
    assert np.allclose(emb, face.embedding, atol=1e-4)


def test_pose_signs_follow_flips_and_rotations(analyzer: Analyzer) -> None:
    hopper = mp.turned(mp.grace_hopper(), 0.5)
    pose = only_face(analyzer, hopper, ["headPose"]).attributes["headPose"]
    mirrored = only_face(analyzer, mp.flip(hopper), ["headPose"]).attributes["headPose"]
    assert pose["yaw"] * mirrored["yaw"] < 0  # yaw changes sign in a mirror
    assert mirrored["yaw"] == pytest.approx(-pose["yaw"], abs=6)
    assert mirrored["roll"] == pytest.approx(-pose["roll"], abs=6)
    upright = only_face(analyzer, mp.astronaut(), ["headPose"]).attributes["headPose"]["roll"]
    ccw = only_face(analyzer, mp.rotate(mp.astronaut(), 20), ["headPose"])
    cw = only_face(analyzer, mp.rotate(mp.astronaut(), -20), ["headPose"])
    # Azure: roll > 0 when the face is rotated clockwise in the image
    assert ccw.attributes["headPose"]["roll"] == pytest.approx(upright - 20, abs=6)
    assert cw.attributes["headPose"]["roll"] == pytest.approx(upright + 20, abs=6)


def test_quality_degrades_with_blur_and_darkness(analyzer: Analyzer, astronaut: np.ndarray) -> None:
    sharp = only_face(analyzer, astronaut, ALL).attributes
    blurred = only_face(analyzer, mp.blur(astronaut, 3.0), ALL).attributes
    dark = only_face(analyzer, mp.exposure(astronaut, 0.12), ALL).attributes
    bright = only_face(analyzer, mp.exposure(astronaut, 1.3, 60), ALL).attributes
    assert blurred["blur"]["value"] > sharp["blur"]["value"] + 0.3
    assert blurred["blur"]["blurLevel"] in ("medium", "high")
    assert dark["exposure"]["exposureLevel"] == "underExposure"
    assert bright["exposure"]["exposureLevel"] == "overExposure"
    rank = {"low": 0, "medium": 1, "high": 2}
    for worse in (blurred, dark, bright):
        assert rank[worse["qualityForRecognition"]] < rank[sharp["qualityForRecognition"]]


def test_threads_give_identical_results(analyzer: Analyzer) -> None:
    images = [mp.astronaut(), mp.grace_hopper(), mp.composite()]
    expected = [[f.to_json() for f in analyzer.analyze(i, ALL)] for i in images]
    with ThreadPoolExecutor(max_workers=6) as pool:
        got = list(
            pool.map(
                lambda k: [f.to_json() for f in analyzer.analyze(images[k % 3], ALL)], range(12)
            )
        )
    for k, result in enumerate(got):
        assert result == expected[k % 3]


def test_large_image_coordinates_are_in_original_pixels(analyzer: Analyzer) -> None:
    import cv2

    small = mp.astronaut()
    big = cv2.resize(small, (5120, 5120), interpolation=cv2.INTER_LINEAR)
    data = mp.encode(big, "JPEG", quality=70)
    face = only_face(analyzer, data)
    ref = only_face(analyzer, small)
    assert face.rectangle["left"] == pytest.approx(ref.rectangle["left"] * 10, rel=0.1)
    assert face.rectangle["width"] == pytest.approx(ref.rectangle["width"] * 10, rel=0.15)


def test_bad_inputs(analyzer: Analyzer) -> None:
    with pytest.raises(BadArgument):
        analyzer.analyze(mp.astronaut(), ["smile"])
    with pytest.raises(InvalidImage):
        analyzer.analyze(b"not an image")
    assert analyzer.analyze(np.full((100, 100, 3), 128, np.uint8)) == []


def test_versions(analyzer: Analyzer) -> None:
    versions = analyzer.versions()
    assert versions["recognitionModel"] == RECOGNITION_MODEL
    assert all(v != "missing" for v in versions.values())
