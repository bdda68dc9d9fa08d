"""Galleries of different recognition models never mix, over real HTTP.

A gallery records the recognitionModel it was made with (as Azure Face does). A faceId made
by a second recognizer (tests.vision.zoo_fixtures, registered in this test process and
stored straight into the customer's faceIds) is refused by identify and verify against a
dlib gallery with 409 RecognitionModelMismatch, and a gallery recorded with the second model
refuses the service's dlib faceIds and enrolments the same way.
"""

from __future__ import annotations

import uuid

import pytest
import requests

from shared import vision
from shared.biometrics import faceids, store
from shared.vision import Analyzer, zoo
from tests.data import make_photos as photos
from tests.e2e.conftest import error_code
from tests.vision import zoo_fixtures as tiny

PHOTO = {"X-Capture-Context": "photo"}
MISMATCH = "RecognitionModelMismatch"


@pytest.fixture
def tiny_face_id(acme, tmp_path) -> str:
    """A faceId of acme's whose template the second recognizer made."""
    zoo.register(tiny.TinyCosineRecognizer)
    try:
        analyzer = Analyzer(tiny.catalog_with_tiny_embedder(tmp_path))
        (face,) = analyzer.analyze(
            photos.astronaut(), embeddings=True, recognition_model=tiny.TinyCosineRecognizer.name
        )
    finally:
        zoo.unregister(tiny.TinyCosineRecognizer)
    assert face.recognition_model == tiny.TinyCosineRecognizer.name
    return faceids.save(acme.customer_id, face.embedding, face.recognition_model)


def dlib_gallery_with_one_person(client) -> tuple[str, str]:
    gallery = f"g-{uuid.uuid4().hex[:10]}"
    created = client.request("PUT", f"/galleries/{gallery}", json={"name": "Crew"})
    assert created.status_code == 200, created.text
    assert created.json()["recognitionModel"] == vision.RECOGNITION_MODEL
    person, enrolled = person_with_the_astronaut(client, gallery)
    assert enrolled.status_code == 200, enrolled.text
    return gallery, person


def person_with_the_astronaut(client, gallery: str) -> tuple[str, requests.Response]:
    """A new person of ``gallery`` and the response to enrolling the astronaut photo."""
    person = client.post_json(f"/galleries/{gallery}/persons", {"name": "Eileen"}).json()
    enrolled = client.request(
        "POST",
        f"/galleries/{gallery}/persons/{person['personId']}/faces",
        data=photos.ASTRONAUT.read_bytes(),
        headers=PHOTO,
    )
    return person["personId"], enrolled


def test_another_models_face_id_is_refused_by_a_dlib_gallery(acme, tiny_face_id):
    gallery, person = dlib_gallery_with_one_person(acme)
    body = {"galleryId": gallery, "faceIds": [tiny_face_id]}
    identify = acme.post_json("/identify", body, headers=PHOTO)
    assert identify.status_code == 409, identify.text
    assert error_code(identify) == MISMATCH
    verify = acme.post_json(
        "/verify", {"faceId": tiny_face_id, "galleryId": gallery, "personId": person}, headers=PHOTO
    )
    assert verify.status_code == 409 and error_code(verify) == MISMATCH
    # the same photo's dlib faceId matches the enrolled person: only the model differs
    dlib_face = acme.detect(photos.ASTRONAUT.read_bytes(), "returnFaceId=true", headers=PHOTO)
    probe = dlib_face.json()[0]["faceId"]
    found = acme.post_json("/identify", {"galleryId": gallery, "faceIds": [probe]}, headers=PHOTO)
    assert found.status_code == 200, found.text
    assert [c["personId"] for c in found.json()[0]["candidates"]] == [person]


def test_a_gallery_of_another_model_refuses_dlib_faces(acme):
    gallery = f"g-{uuid.uuid4().hex[:10]}"
    store.create_gallery(acme.customer_id, gallery, "Other", "", tiny.TinyCosineRecognizer.name)
    got = acme.request("GET", f"/galleries/{gallery}", headers=PHOTO)
    assert got.json()["recognitionModel"] == tiny.TinyCosineRecognizer.name
    _, enrolled = person_with_the_astronaut(acme, gallery)
    assert enrolled.status_code == 409 and error_code(enrolled) == MISMATCH
    dlib_face = acme.detect(photos.ASTRONAUT.read_bytes(), "returnFaceId=true", headers=PHOTO)
    probe = dlib_face.json()[0]["faceId"]
    body = {"galleryId": gallery, "faceIds": [probe]}
    identify = acme.post_json("/identify", body, headers=PHOTO)
    assert identify.status_code == 409 and error_code(identify) == MISMATCH
