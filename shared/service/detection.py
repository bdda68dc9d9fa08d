"""Detect faces and their attributes (and optionally identify them), after the gate allows.

One use case for both channels: HTTP detect hands over bytes it already holds, the
blob pipeline hands over a reader that fetches the upload only when called, so a
denied or impossible request never reads a byte.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from shared import vision
from shared.api.requests import DetectOptions
from shared.biometrics import faceids, store
from shared.policy import Caller
from shared.service import engine, gate, recognition

IDENTIFY_CANDIDATES = 5


@dataclass(frozen=True)
class Detection:
    """What one detect request produced: the faces' JSON and, when asked, who they are."""

    decision_id: str
    faces: list[dict[str, Any]]
    identify: dict[str, Any] | None
    analyze_ms: float


def authorize_detect(caller: Caller, options: DetectOptions, extra: Sequence[str] = ()) -> str:
    """One decision for every action of a detect request (a faceId included, plus
    ``extra``, e.g. identify for an upload against a gallery); the decision id."""
    actions = [*options.actions, *extra]
    return gate.require(caller.customer, actions, caller.context).decision_id


def detect_faces(
    caller: Caller,
    read_image: Callable[[], bytes],
    options: DetectOptions,
    gallery_id: str | None = None,
) -> Detection:
    """Gate, then (only on allow) check the gallery, read the image, analyse, identify.

    ``gallery_id`` asks for every face to be identified against that gallery of the
    customer; it adds the ``identify`` action to the same decision.
    """
    extra = ["identify"] if gallery_id is not None else []
    customer = caller.customer
    decision_id = authorize_detect(caller, options, extra)
    if gallery_id is not None:
        store.get_gallery(customer.id, gallery_id)  # NotFound before any byte is read
    image = read_image()
    started = time.perf_counter()
    faces = engine.analyzer().analyze(
        image,
        options.attributes,
        landmarks=options.return_landmarks,
        embeddings=options.return_face_id or gallery_id is not None,
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
    identified = None
    if gallery_id is not None:
        probes = [(str(i), face.embedding) for i, face in enumerate(faces)]
        matches = recognition.identify_templates(
            customer.id, gallery_id, probes, max_candidates=IDENTIFY_CANDIDATES, threshold=None
        )
        identified = {
            "galleryId": gallery_id,
            "results": [
                {"faceIndex": int(m["faceId"]), "candidates": m["candidates"]} for m in matches
            ],
        }
    elapsed = round((time.perf_counter() - started) * 1000, 1)
    return Detection(decision_id, body, identified, elapsed)


def detect(caller: Caller, image: bytes, options: DetectOptions) -> list[dict[str, Any]]:
    """HTTP detect: the faces' Azure-shaped JSON."""
    return detect_faces(caller, lambda: image, options).faces
