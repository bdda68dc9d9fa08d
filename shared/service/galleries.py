"""Gallery management and enrolment. Every operation, reads included, needs `enroll`;
erasing (DELETE of a gallery, person or face) needs `erase`, which Cedar permits to the
owner of the data whatever else its record says.

The ids in a route (galleryId, personId, persistedFaceId) are validated here, for every
channel that calls these use cases, and nowhere else.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from shared import vision
from shared.api.paging import FIRST_PAGE, Page
from shared.biometrics import store
from shared.errors import InvalidImage
from shared.identifiers import gallery_id as check_gallery_id
from shared.identifiers import uuid_id
from shared.policy import Caller
from shared.service import engine, gate

ENROLL = ["enroll"]
ERASE = ["erase"]


def create_gallery(caller: Caller, gallery_id: str, body: Mapping[str, Any]) -> dict:
    gate.require(caller.customer, ENROLL, caller.context)
    check_gallery_id(gallery_id)
    name = store.check_text(body.get("name"), "name", store.MAX_NAME, required=True)
    user_data = store.check_text(body.get("userData"), "userData", store.MAX_USER_DATA)
    gallery = store.create_gallery(
        caller.customer.id, gallery_id, name, user_data, vision.RECOGNITION_MODEL
    )
    return gallery.to_json()


def get_gallery(caller: Caller, gallery_id: str) -> dict:
    gate.require(caller.customer, ENROLL, caller.context)
    return store.get_gallery(caller.customer.id, check_gallery_id(gallery_id)).to_json()


def list_galleries(caller: Caller, page: Page = FIRST_PAGE) -> list[dict]:
    gate.require(caller.customer, ENROLL, caller.context)
    return [g.to_json() for g in store.list_galleries(caller.customer.id, page.start, page.top)]


def delete_gallery(caller: Caller, gallery_id: str) -> None:
    gate.require(caller.customer, ERASE, caller.context)
    store.delete_gallery(caller.customer.id, check_gallery_id(gallery_id))


def create_person(caller: Caller, gallery_id: str, body: Mapping[str, Any]) -> dict:
    gate.require(caller.customer, ENROLL, caller.context)
    name = store.check_text(body.get("name"), "name", store.MAX_NAME, required=True)
    user_data = store.check_text(body.get("userData"), "userData", store.MAX_USER_DATA)
    person = store.create_person(caller.customer.id, check_gallery_id(gallery_id), name, user_data)
    return {"personId": person.person_id}


def list_persons(caller: Caller, gallery_id: str, page: Page = FIRST_PAGE) -> list[dict]:
    gate.require(caller.customer, ENROLL, caller.context)
    persons = store.list_persons(
        caller.customer.id, check_gallery_id(gallery_id), page.start, page.top
    )
    return [p.to_json() for p in persons]


def get_person(caller: Caller, gallery_id: str, person_id: str) -> dict:
    gate.require(caller.customer, ENROLL, caller.context)
    person_id = uuid_id(person_id, "personId")
    return store.get_person(caller.customer.id, check_gallery_id(gallery_id), person_id).to_json()


def delete_person(caller: Caller, gallery_id: str, person_id: str) -> dict:
    gate.require(caller.customer, ERASE, caller.context)
    person_id = uuid_id(person_id, "personId")
    erased = store.delete_person(caller.customer.id, check_gallery_id(gallery_id), person_id)
    return {"personId": person_id, "erasedFaces": erased}


def add_face(
    caller: Caller,
    gallery_id: str,
    person_id: str,
    image: bytes,
    user_data: str | None,
) -> dict:
    """Enrol the one face in ``image``; refused when there is none, several, or low quality."""
    gate.require(caller.customer, ENROLL, caller.context)
    check_gallery_id(gallery_id)
    person_id = uuid_id(person_id, "personId")
    user_data = store.check_text(user_data, "userData", store.MAX_FACE_USER_DATA)
    store.require_writable(caller.customer.id)  # 409 while moving, before any pixel is decoded
    store.get_person(caller.customer.id, gallery_id, person_id)  # 404 before any pixel is decoded
    faces = engine.analyzer().analyze(
        image, ["qualityForRecognition"], landmarks=False, embeddings=True, max_faces=2
    )
    if not faces:
        raise InvalidImage("No face was found in the image.", code="NoFaceDetected")
    if len(faces) > 1:
        raise InvalidImage(
            "The image has more than one face; enrol one face per image.",
            code="MultipleFacesDetected",
        )
    face = faces[0]
    quality = face.attributes["qualityForRecognition"]
    if quality == "low":
        raise InvalidImage(
            "The face's quality for recognition is low (too small, blurred, badly exposed or "
            "turned away); use a clearer, frontal image.",
            code="QualityTooLow",
        )
    face_id = store.add_face(
        caller.customer.id,
        gallery_id,
        person_id,
        face.embedding,
        vision.RECOGNITION_MODEL,
        user_data,
        quality,
    )
    return {"persistedFaceId": face_id, "qualityForRecognition": quality}


def delete_face(caller: Caller, gallery_id: str, person_id: str, face_id: str) -> None:
    gate.require(caller.customer, ERASE, caller.context)
    person_id = uuid_id(person_id, "personId")
    face_id = uuid_id(face_id, "persistedFaceId")
    store.delete_face(caller.customer.id, check_gallery_id(gallery_id), person_id, face_id)
