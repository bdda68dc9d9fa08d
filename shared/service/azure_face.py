"""The use cases only Azure's route family has, each behind the same gate as the others.

Azure's detect (27 landmarks, faceId lifetime), findSimilar, renames and userData edits,
and training. Everything else on Azure's routes calls FaceGate's own use cases
(``detection``, ``recognition``, ``galleries``) unchanged.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np

from shared import vision
from shared.api.azure_face.requests import AZURE_RECOGNITION_MODEL, AzureDetect, FindSimilar
from shared.biometrics import edits, faceids, templates, training
from shared.identifiers import gallery_id as check_gallery_id
from shared.identifiers import uuid_id
from shared.matching import calibration_for, pair_confidence
from shared.policy import Caller
from shared.service import detection, engine, gate
from shared.vision.landmarks27 import azure_landmarks

ENROLL = ["enroll"]


def detect(caller: Caller, image: bytes, request: AzureDetect) -> list[dict[str, Any]]:
    """Azure's FaceDetectionResult list, largest face first."""
    options = request.options
    detection.authorize_detect(caller, options)
    wanted = list(options.attributes)
    if request.landmarks and "headPose" not in wanted:
        wanted.append("headPose")  # head pose is what runs FaceMesh, the landmarks' source
    faces = engine.analyzer().analyze(
        image, wanted, landmarks=False, embeddings=options.return_face_id, max_faces=100
    )
    ids: list[str | None] = [None] * len(faces)
    if options.return_face_id and faces:
        ids = list(
            faceids.save_many(
                caller.customer.id,
                [(face.embedding, vision.RECOGNITION_MODEL) for face in faces],
                ttl=dt.timedelta(seconds=request.face_id_ttl),
            )
        )
    results = []
    for face, face_id in zip(faces, ids, strict=True):
        item: dict[str, Any] = {}
        if face_id is not None:
            item["faceId"] = face_id
            if request.return_recognition_model:
                item["recognitionModel"] = AZURE_RECOGNITION_MODEL
        item["faceRectangle"] = dict(face.rectangle)
        if request.landmarks:
            item["faceLandmarks"] = azure_landmarks(face.mesh, face.scale)
        if options.attributes:
            json_face = face.to_json(landmarks=False, attributes=True)
            attributes = json_face.get("faceAttributes", {})
            item["faceAttributes"] = {k: attributes[k] for k in options.attributes}
        results.append(item)
    return results


def find_similar(caller: Caller, request: FindSimilar) -> list[dict]:
    """Faces among ``faceIds`` that look like ``faceId``, most similar first.

    A search of one face among many is identification, so it needs `identify`.
    matchPerson keeps only faces at or above the match threshold; matchFace ranks all.
    """
    gate.require(caller.customer, ["identify"], caller.context)
    probe = faceids.load(caller.customer.id, request.face_id)
    templates.require_same_model(probe.model, vision.RECOGNITION_MODEL)
    candidates = []
    for face_id in request.face_ids:
        stored = faceids.load(caller.customer.id, face_id)
        templates.require_same_model(stored.model, vision.RECOGNITION_MODEL)
        candidates.append(stored)
    calibration = calibration_for(probe.model)
    # the 1:1 confidence of FaceGate's face-to-face verify (no cohort: faceIds are no gallery)
    scores = np.array(
        [pair_confidence(probe.template, c.template, calibration) for c in candidates]
    )
    order = np.argsort(-scores, kind="stable")
    results = []
    for index in order:
        if request.match_person and scores[index] < vision.MATCH_THRESHOLD:
            break
        results.append(
            {"faceId": candidates[index].face_id, "confidence": round(float(scores[index]), 5)}
        )
        if len(results) >= request.max_candidates:
            break
    return results


def update_gallery(caller: Caller, gallery_id: str, body: dict[str, Any]) -> None:
    gate.require(caller.customer, ENROLL, caller.context)
    edits.update_gallery(
        caller.customer.id, check_gallery_id(gallery_id), body.get("name"), body.get("userData")
    )


def update_person(caller: Caller, gallery_id: str, person_id: str, body: dict[str, Any]) -> None:
    gate.require(caller.customer, ENROLL, caller.context)
    person_id = uuid_id(person_id, "personId")
    edits.update_person(
        caller.customer.id,
        check_gallery_id(gallery_id),
        person_id,
        body.get("name"),
        body.get("userData"),
    )


def get_face(caller: Caller, gallery_id: str, person_id: str, face_id: str) -> dict[str, str]:
    gate.require(caller.customer, ENROLL, caller.context)
    person_id, face_id = uuid_id(person_id, "personId"), uuid_id(face_id, "persistedFaceId")
    return edits.get_face(caller.customer.id, check_gallery_id(gallery_id), person_id, face_id)


def update_face(
    caller: Caller,
    gallery_id: str,
    person_id: str,
    face_id: str,
    user_data: Any,
) -> None:
    gate.require(caller.customer, ENROLL, caller.context)
    person_id, face_id = uuid_id(person_id, "personId"), uuid_id(face_id, "persistedFaceId")
    edits.update_face(
        caller.customer.id, check_gallery_id(gallery_id), person_id, face_id, user_data
    )


def train(caller: Caller, gallery_id: str) -> training.Operation:
    gate.require(caller.customer, ENROLL, caller.context)
    return training.train(caller.customer.id, check_gallery_id(gallery_id))


def training_status(caller: Caller, gallery_id: str) -> dict[str, Any]:
    gate.require(caller.customer, ENROLL, caller.context)
    return training.training_status(caller.customer.id, check_gallery_id(gallery_id))


def operation(caller: Caller, operation_id: str) -> dict[str, Any]:
    gate.require(caller.customer, ENROLL, caller.context)
    operation_id = uuid_id(operation_id, "operationId")
    return training.operation(caller.customer.id, operation_id).to_json()
