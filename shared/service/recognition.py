"""Verify (1:1) and identify (1:N), after the gate allows them."""

from __future__ import annotations

from typing import Any

import numpy as np

from shared import vision
from shared.api.requests import IdentifyRequest, VerifyFaces, VerifyPerson
from shared.biometrics import faceids, store, templates
from shared.errors import BadArgument
from shared.limits import quota
from shared.matching import Searchable, calibration_for, pair_confidence
from shared.policy import Caller
from shared.service import gate


def _same_model(model: str) -> None:
    templates.require_same_model(model, vision.RECOGNITION_MODEL)


def _verdict(confidence: float) -> dict[str, Any]:
    return {
        "isIdentical": bool(confidence >= vision.MATCH_THRESHOLD),
        "confidence": round(float(confidence), 5),
    }


def _gallery_cohort(customer_id: str, gallery_id: str) -> tuple[store.Gallery, Searchable]:
    """The caller's gallery, fresh, as a normalisation cohort (404 for another's), searched
    where its store keeps it (in memory, or in PostgreSQL)."""
    gallery = store.get_gallery(customer_id, gallery_id)
    _same_model(gallery.recognition_model)
    return gallery, store.cohort(gallery)


def verify(caller: Caller, request: VerifyFaces | VerifyPerson) -> dict:
    """1:1. Against a person: normalised against that person's gallery. Two faceIds:
    normalised against ``cohortGalleryId`` when given, else the raw score (docs/accuracy.md
    says why a cohort is recommended)."""
    customer = caller.customer
    if isinstance(request, VerifyPerson):  # counted first: a refusal is its one audit group
        quota.admit_verify(caller, request.gallery_id)  # a verify loop is identify
    gate.require(customer, ["verify"], caller.context)
    if isinstance(request, VerifyFaces):
        first = faceids.load(customer.id, request.face_id1)
        second = faceids.load(customer.id, request.face_id2)
        _same_model(first.model)
        _same_model(second.model)
        cohort = None
        if request.cohort_gallery_id is not None:
            _, cohort = _gallery_cohort(customer.id, request.cohort_gallery_id)
        calibration = calibration_for(first.model)
        return _verdict(pair_confidence(first.template, second.template, calibration, cohort))
    probe = faceids.load(customer.id, request.face_id)
    _same_model(probe.model)
    store.get_person(customer.id, request.gallery_id, request.person_id)  # 404 if not there
    _, cohort = _gallery_cohort(customer.id, request.gallery_id)
    confidence = cohort.verify(probe.template, request.person_id)
    if confidence is None:
        raise BadArgument("The person has no enrolled faces.", code="PersonHasNoFaces")
    return _verdict(confidence)


def identify_templates(
    customer_id: str,
    gallery_id: str,
    probes: list[tuple[str, np.ndarray]],
    max_candidates: int,
    threshold: float | None,
) -> list[dict[str, Any]]:
    """Candidates per probe, by normalised confidence; none when nobody reaches the
    threshold (0.5 by default: the gallery-size-aware decision threshold)."""
    _, cohort = _gallery_cohort(customer_id, gallery_id)
    limit = vision.MATCH_THRESHOLD if threshold is None else threshold
    results = []
    for face_id, template in probes:
        hits = cohort.search(template, limit, max_candidates)
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


def identify(caller: Caller, request: IdentifyRequest) -> list[dict]:
    customer = caller.customer
    gate.require(customer, ["identify"], caller.context)
    probes = []
    for face_id in request.face_ids:
        stored = faceids.load(customer.id, face_id)
        _same_model(stored.model)
        probes.append((face_id, stored.template))
    return identify_templates(
        customer.id, request.gallery_id, probes, request.max_candidates, request.threshold
    )
