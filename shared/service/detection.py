"""Detect faces and their attributes, after the gate allows every action the request needs."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from shared import faceids, vision
from shared.api.requests import DetectOptions
from shared.policy import Caller, Customer
from shared.service import engine, gate


def authorize_detect(caller: Caller, options: DetectOptions, extra: Sequence[str] = ()) -> str:
    """One decision for every action of a detect request (a faceId included, plus
    ``extra``, e.g. identify for an upload against a gallery); the decision id."""
    actions = [*options.actions, *extra]
    return gate.require(caller.customer, actions, caller.context).decision_id


def analyze(customer: Customer, image: bytes, options: DetectOptions) -> list[dict[str, Any]]:
    """Run vision on an already-authorized request; the faces' Azure-shaped JSON."""
    faces = engine.analyzer().analyze(
        image,
        options.attributes,
        landmarks=options.return_landmarks,
        embeddings=options.return_face_id,
        max_faces=options.max_faces,
    )
    body = [
        face.to_json(landmarks=options.return_landmarks, attributes=bool(options.attributes))
        for face in faces
    ]
    if options.return_face_id and faces:
        ids = faceids.save_many(
            customer.id, [(face.embedding, vision.RECOGNITION_MODEL) for face in faces]
        )
        body = [{"faceId": face_id, **item} for face_id, item in zip(ids, body, strict=True)]
    return body


def detect(caller: Caller, image: bytes, options: DetectOptions) -> list[dict[str, Any]]:
    authorize_detect(caller, options)
    return analyze(caller.customer, image, options)
