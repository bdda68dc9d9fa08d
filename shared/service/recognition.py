"""Verify (1:1) and identify (1:N), after the gate allows them."""

from __future__ import annotations

from typing import Any

import numpy as np

from shared import vision
from shared.api.requests import IdentifyRequest, VerifyFaces, VerifyPerson
from shared.biometrics import faceids, store, templates
from shared.biometrics.index import INDEXES
from shared.errors import BadArgument
from shared.policy import Context, Customer
from shared.service import engine, gate


def _same_model(model: str) -> None:
    templates.require_same_model(model, vision.RECOGNITION_MODEL)


def _verdict(confidence: float) -> dict[str, Any]:
    return {
        "isIdentical": bool(confidence >= vision.MATCH_THRESHOLD),
        "confidence": round(float(confidence), 5),
    }


def verify(customer: Customer, context: Context, request: VerifyFaces | VerifyPerson) -> dict:
    gate.require(customer, ["verify"], context)
    if isinstance(request, VerifyFaces):
        first = faceids.load(customer.id, request.face_id1)
        second = faceids.load(customer.id, request.face_id2)
        _same_model(first.model)
        _same_model(second.model)
        return _verdict(vision.compare(first.template, second.template))
    probe = faceids.load(customer.id, request.face_id)
    _same_model(probe.model)
    enrolled = store.person_templates(customer.id, request.gallery_id, request.person_id)
    if not enrolled:
        raise BadArgument("The person has no enrolled faces.", code="PersonHasNoFaces")
    for face in enrolled:
        _same_model(face.model)
    matrix = np.stack([face.template for face in enrolled])
    return _verdict(float(np.max(engine.confidences(probe.template, matrix))))


def identify_templates(
    customer_id: str,
    gallery_id: str,
    probes: list[tuple[str, np.ndarray]],
    max_candidates: int,
    threshold: float | None,
) -> list[dict[str, Any]]:
    """Candidates per probe; no candidate when nobody reaches the threshold."""
    gallery = store.get_gallery(customer_id, gallery_id)
    _same_model(gallery.recognition_model)
    index = INDEXES.fresh(gallery)
    limit = vision.MATCH_THRESHOLD if threshold is None else threshold
    results = []
    for face_id, template in probes:
        hits = index.search(template, engine.confidences, limit, max_candidates)
        results.append(
            {
                "faceId": face_id,
                "candidates": [
                    {"personId": hit.person_id, "confidence": round(hit.confidence, 5)}
                    for hit in hits
                ],
            }
        )
    return results


def identify(customer: Customer, context: Context, request: IdentifyRequest) -> list[dict]:
    gate.require(customer, ["identify"], context)
    probes = []
    for face_id in request.face_ids:
        stored = faceids.load(customer.id, face_id)
        _same_model(stored.model)
        probes.append((face_id, stored.template))
    return identify_templates(
        customer.id, request.gallery_id, probes, request.max_candidates, request.threshold
    )
