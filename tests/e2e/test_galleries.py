"""Galleries, enrolment, identify and verify over real HTTP: the README walk-through, tested."""

from __future__ import annotations

import uuid

import numpy as np
import pytest

from tests.data import make_photos as photos
from tests.e2e.conftest import error_code

ASTRONAUT = photos.ASTRONAUT.read_bytes()
HOPPER = photos.GRACE_HOPPER.read_bytes()
ASTRONAUT_AGAIN = photos.encode(photos.exposure(photos.flip(photos.astronaut()), 0.85), "JPEG")
PHOTO = {"X-Capture-Context": "photo"}


def face_id(client, image: bytes) -> str:
    response = client.detect(image, "returnFaceId=true", headers=PHOTO)
    assert response.status_code == 200, response.text
    faces = response.json()
    assert len(faces) == 1
    return faces[0]["faceId"]


@pytest.fixture
def gallery(acme):
    gallery_id = f"g-{uuid.uuid4().hex[:10]}"
    created = acme.request(
        "PUT", f"/galleries/{gallery_id}", json={"name": "Crew", "userData": "x"}
    )
    assert created.status_code == 200, created.text
    yield gallery_id
    acme.request("DELETE", f"/galleries/{gallery_id}", check_contract=False)


def add_person(client, gallery_id: str, name: str) -> str:
    response = client.post_json(f"/galleries/{gallery_id}/persons", {"name": name})
    assert response.status_code == 200, response.text
    return response.json()["personId"]


def enroll(client, gallery_id: str, person_id: str, image: bytes):
    return client.request(
        "POST",
        f"/galleries/{gallery_id}/persons/{person_id}/faces",
        data=image,
        headers={"Content-Type": "application/octet-stream", **PHOTO},
    )


def test_walkthrough_enroll_identify_verify_erase(acme, gallery):
    eileen = add_person(acme, gallery, "Eileen")
    grace = add_person(acme, gallery, "Grace")
    enrolled = enroll(acme, gallery, eileen, ASTRONAUT)
    assert enrolled.status_code == 200, enrolled.text
    assert enrolled.json()["qualityForRecognition"] in {"medium", "high"}
    assert enroll(acme, gallery, grace, HOPPER).status_code == 200

    persons = acme.request("GET", f"/galleries/{gallery}/persons").json()
    assert {p["name"]: len(p["persistedFaceIds"]) for p in persons} == {"Eileen": 1, "Grace": 1}

    probe = face_id(acme, ASTRONAUT_AGAIN)
    found = acme.post_json(
        "/identify", {"galleryId": gallery, "faceIds": [probe], "maxNumOfCandidatesReturned": 2},
        headers=PHOTO,
    )  # fmt: skip
    assert found.status_code == 200, found.text
    candidates = found.json()[0]["candidates"]
    assert [c["personId"] for c in candidates] == [eileen]  # Grace is below the threshold
    assert candidates[0]["confidence"] >= 0.5

    same = acme.post_json(
        "/verify", {"faceId": probe, "galleryId": gallery, "personId": eileen}, headers=PHOTO
    )
    assert same.json()["isIdentical"] is True
    other = acme.post_json("/verify", {"faceId1": probe, "faceId2": face_id(acme, HOPPER)})
    assert other.json()["isIdentical"] is False and other.json()["confidence"] < 0.5

    erased = acme.request("DELETE", f"/galleries/{gallery}/persons/{eileen}")
    assert erased.status_code == 200 and erased.json()["erasedFaces"] == 1
    after = acme.post_json("/identify", {"galleryId": gallery, "faceIds": [probe]}, headers=PHOTO)
    assert after.json()[0]["candidates"] == []  # erased means never matched again
    assert acme.request("GET", f"/galleries/{gallery}/persons/{eileen}").status_code == 404


def test_unknown_face_gets_no_candidate(acme, gallery):
    eileen = add_person(acme, gallery, "Eileen")
    assert enroll(acme, gallery, eileen, ASTRONAUT).status_code == 200
    probe = face_id(acme, HOPPER)
    found = acme.post_json(
        "/identify", {"galleryId": gallery, "faceIds": [probe], "maxNumOfCandidatesReturned": 5},
        headers=PHOTO,
    )  # fmt: skip
    assert found.json() == [{"faceId": probe, "candidates": []}]


def test_enrolment_is_quality_gated(acme, gallery):
    person = add_person(acme, gallery, "Someone")
    blank = photos.encode(np.full((300, 300, 3), 90, np.uint8), "PNG")
    two = photos.encode(photos.composite((300, 260)), "JPEG")
    blurred = photos.encode(photos.blur(photos.astronaut(), 5.0), "JPEG")
    assert error_code(enroll(acme, gallery, person, blank)) == "NoFaceDetected"
    assert error_code(enroll(acme, gallery, person, two)) == "MultipleFacesDetected"
    response = enroll(acme, gallery, person, blurred)
    assert response.status_code == 400 and error_code(response) == "QualityTooLow"
    detail = acme.request("GET", f"/galleries/{gallery}/persons/{person}").json()
    assert detail["persistedFaceIds"] == []


def test_gallery_errors(acme, gallery):
    again = acme.request("PUT", f"/galleries/{gallery}", json={"name": "Crew"})
    assert (again.status_code, error_code(again)) == (409, "Conflict")
    bad_id = acme.request("PUT", "/galleries/Not%20Valid", json={"name": "x"})
    assert (bad_id.status_code, error_code(bad_id)) == (400, "BadArgument")
    no_name = acme.request("PUT", f"/galleries/{gallery}-2", json={"userData": "x"})
    assert error_code(no_name) == "BadArgument"
    not_json = acme.request(
        "PUT",
        f"/galleries/{gallery}-3",
        data=b"{oops",
        headers={"Content-Type": "application/json"},
    )
    assert error_code(not_json) == "BadArgument"
    missing = acme.request("GET", f"/galleries/{gallery}-nope")
    assert (missing.status_code, error_code(missing)) == (404, "NotFound")
    person = acme.request("GET", f"/galleries/{gallery}/persons/{uuid.uuid4()}")
    assert person.status_code == 404
    malformed = acme.request("GET", f"/galleries/{gallery}/persons/not-a-uuid")
    assert (malformed.status_code, error_code(malformed)) == (400, "BadArgument")
    expired = acme.post_json(
        "/verify", {"faceId1": str(uuid.uuid4()), "faceId2": str(uuid.uuid4())}
    )
    assert (expired.status_code, error_code(expired)) == (404, "NotFound")
    listed = acme.request("GET", "/galleries").json()
    assert gallery in [g["galleryId"] for g in listed]


def test_us_police_cannot_verify_or_identify(us_police, acme, gallery):
    a, b = str(uuid.uuid4()), str(uuid.uuid4())
    verify = us_police.post_json("/verify", {"faceId1": a, "faceId2": b}, headers=PHOTO)
    identify = us_police.post_json(
        "/identify", {"galleryId": gallery, "faceIds": [a]}, headers=PHOTO
    )
    enroll_gallery = us_police.request(
        "PUT", "/galleries/watchlist", json={"name": "w"}, headers=PHOTO
    )
    for response in (verify, identify, enroll_gallery):
        assert response.status_code == 403, response.text
        assert "us-law-enforcement-moratorium" in response.json()["error"]["policyIds"]


def test_verify_two_faces_normalised_against_a_cohort_gallery(acme, globex, gallery):
    """``cohortGalleryId``: the pair's score is normalised against one of the caller's own
    galleries; another customer's gallery is as unknown as a missing one."""
    assert enroll(acme, gallery, add_person(acme, gallery, "Eileen"), ASTRONAUT).ok
    assert enroll(acme, gallery, add_person(acme, gallery, "Grace"), HOPPER).ok
    probe, again, hopper = (face_id(acme, image) for image in (ASTRONAUT, ASTRONAUT_AGAIN, HOPPER))
    same = acme.post_json(
        "/verify", {"faceId1": probe, "faceId2": again, "cohortGalleryId": gallery}
    )
    assert same.status_code == 200, same.text
    assert same.json()["isIdentical"] is True
    other = acme.post_json(
        "/verify", {"faceId1": probe, "faceId2": hopper, "cohortGalleryId": gallery}
    )
    assert other.status_code == 200 and other.json()["isIdentical"] is False
    assert other.json()["confidence"] < same.json()["confidence"]

    theirs = f"g-{uuid.uuid4().hex[:10]}"
    assert globex.request("PUT", f"/galleries/{theirs}", json={"name": "Theirs"}).ok
    foreign = acme.post_json(
        "/verify", {"faceId1": probe, "faceId2": again, "cohortGalleryId": theirs}
    )
    assert foreign.status_code == 404 and error_code(foreign) == "NotFound"
    bad = acme.post_json(
        "/verify", {"faceId1": probe, "faceId2": again, "cohortGalleryId": "no/pe"}
    )
    assert bad.status_code == 400 and error_code(bad) == "BadArgument"
    globex.request("DELETE", f"/galleries/{theirs}", check_contract=False)
