"""The model zoo: adapters plug in, the analyzer runs only what a request needs, and a second
recognition model is one manifest entry + one adapter (built here: tests.vision.zoo_fixtures)."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest

from shared.errors import BadArgument
from shared.vision import ATTRIBUTES, RECOGNITION_MODEL, Analyzer, zoo
from shared.vision.catalog import Catalog
from shared.vision.recognizer import Recognizer, compare
from tests.data import make_photos as mp
from tests.vision import zoo_fixtures as tiny


@pytest.fixture
def tiny_model(tmp_path) -> Iterator[Catalog]:
    zoo.register(tiny.TinyCosineRecognizer)
    try:
        yield tiny.catalog_with_tiny_embedder(tmp_path)
    finally:
        zoo.unregister(tiny.TinyCosineRecognizer)
    assert tiny.TinyCosineRecognizer.name not in zoo.RECOGNIZERS


def test_every_attribute_has_exactly_one_adapter() -> None:
    for name in ATTRIBUTES:
        owners = [a for a in zoo.FACE_MODELS.values() if name in a.provides]
        assert len(owners) == 1, (name, owners)
    assert zoo.RECOGNIZERS[RECOGNITION_MODEL] is Recognizer


def test_plan_puts_what_a_model_needs_first() -> None:
    analyzer = Analyzer(Catalog())
    roles = [a.role for a in analyzer.plan(frozenset({"qualityForRecognition"}), None, True)]
    assert roles == ["mesh", "quality", "recognition"]
    assert [a.role for a in analyzer.plan(frozenset({"age", "gender"}), None, False)] == [
        "age_gender"
    ]
    assert analyzer.plan(frozenset(), None, False) == []


def test_second_recognizer_runs_its_own_graph_on_its_own_chip(tiny_model: Catalog) -> None:
    analyzer = Analyzer(tiny_model)
    astronaut = mp.astronaut()
    (face,) = analyzer.analyze(astronaut, embeddings=True, recognition_model="tiny_cosine_v1")
    assert face.recognition_model == "tiny_cosine_v1"
    assert face.embedding.shape == (tiny.DIM,) and face.embedding.dtype == np.float32
    expected = tiny.reference_embedding(tiny.TinyCosineRecognizer.chip(astronaut, face))
    np.testing.assert_allclose(face.embedding, expected, atol=1e-4)
    # it aligns on the detector's points: neither the mesh nor dlib's net was loaded for it
    loaded = {item["name"] for item in tiny_model.loaded()}
    assert tiny.MODEL in loaded
    assert not loaded & {"facemesh_468", "dlib_resnet_128"}
    model = analyzer.recognizer_for("tiny_cosine_v1")
    assert model.compare(face.embedding, face.embedding) > 0.99
    flipped = analyzer.analyze(mp.flip(astronaut), embeddings=True, recognition_model=model.name)
    scores = model.similarity(face.embedding, np.stack([face.embedding, flipped[0].embedding]))
    assert scores.dtype == np.float64 and scores.shape == (2,)
    assert scores[0] == pytest.approx(1.0, abs=1e-5) and scores[1] <= scores[0]


def test_the_default_recognizer_is_unchanged_beside_a_second_one(tiny_model: Catalog) -> None:
    analyzer = Analyzer(tiny_model)
    (dlib,) = analyzer.analyze(mp.astronaut(), embeddings=True)
    assert dlib.recognition_model == RECOGNITION_MODEL and dlib.embedding.shape == (128,)
    (small,) = analyzer.analyze(mp.astronaut(), embeddings=True, recognition_model="tiny_cosine_v1")
    with pytest.raises(ValueError):
        compare(dlib.embedding, small.embedding)  # different models never compare
    with pytest.raises(ValueError):
        analyzer.recognizer_for("tiny_cosine_v1").compare(small.embedding, dlib.embedding)
    second = Analyzer(tiny_model, recognition_model="tiny_cosine_v1")
    versions = second.versions()
    assert versions["recognitionModel"] == "tiny_cosine_v1"
    assert versions[tiny.MODEL] == tiny_model.entry(tiny.MODEL).sha256[:12]


def test_unknown_recognition_model_is_a_bad_argument() -> None:
    with pytest.raises(BadArgument) as raised:
        Analyzer(Catalog()).analyze(mp.astronaut(), embeddings=True, recognition_model="nope")
    assert raised.value.code == "UnknownRecognitionModel"


def test_dlib_similarity_threshold_and_confidence_agree_with_compare() -> None:
    model = Analyzer(Catalog()).recognizer
    rng = np.random.default_rng(0)
    query = rng.normal(0, 0.05, 128).astype(np.float32)
    matrix = query + rng.normal(0, 0.06, (50, 128)).astype(np.float32)
    scores = model.similarity(query, matrix)
    assert scores.dtype == np.float64 and scores.shape == (50,)
    np.testing.assert_allclose(-scores, np.linalg.norm(matrix - query, axis=1), atol=1e-5)
    confidences = model.confidence(scores)
    np.testing.assert_allclose(confidences, [compare(query, row) for row in matrix], atol=1e-6)
    assert model.confidence(model.match_similarity) == pytest.approx(0.5)
    assert ((scores >= model.match_similarity) == (confidences >= 0.5)).all()


def test_quality_has_its_own_crop_not_the_recognizers(tiny_model: Catalog) -> None:
    """Blur, exposure and the enrolment gate do not move with the recognition model."""
    attributes = ["blur", "exposure", "qualityForRecognition"]
    image = mp.blur(mp.astronaut(), 1.0)
    (default,) = Analyzer(tiny_model).analyze(image, attributes, embeddings=True)
    (other,) = Analyzer(tiny_model, recognition_model="tiny_cosine_v1").analyze(
        image, attributes, embeddings=True
    )
    assert default.recognition_model != other.recognition_model
    assert default.attributes == other.attributes


def test_models_share_a_crop_of_the_same_geometry_and_no_pixels_outlive_the_analysis() -> None:
    analyzer = Analyzer(Catalog())
    (face,) = analyzer.analyze(mp.astronaut(), ["blur", "age", "emotion"], embeddings=True)
    assert face.crops == {}  # cleared: the record keeps no pixels
    rgb = mp.astronaut()
    analyzer.model("mesh").fill(rgb, face, frozenset())
    made = []
    chip = face.crop("k", lambda: made.append(1) or np.zeros((2, 2, 3), np.uint8))
    assert face.crop("k", lambda: made.append(1) or chip) is chip and made == [1]
    analyzer.model("quality").fill(rgb, face, frozenset({"blur"}))
    analyzer.recognizer.fill(rgb, face, frozenset())
    assert len([key for key in face.crops if key[0] == "dlib_chip"]) == 1  # one chip for both
