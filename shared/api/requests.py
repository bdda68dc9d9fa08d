"""Parse and bound what callers send: query options and JSON bodies, Azure Face style.

Everything here is pure: no storage, no policy, no pixels. Every rejection is a
BadArgument (or PayloadTooLarge) with a message that names the field.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from shared import attributes as attribute_registry
from shared.errors import BadArgument, PayloadTooLarge
from shared.identifiers import gallery_id, uuid_id
from shared.policy.model import CREATE_TEMPLATE

MAX_IMAGE_BYTES = 6 * 1024 * 1024  # as Azure Face
MAX_JSON_BYTES = 64 * 1024
MAX_IDENTIFY_FACES = 10  # as Azure Face
MAX_CANDIDATES = 100
_MAX_FACES = re.compile(r"0*(100|[1-9][0-9]?)")  # 1..100, ASCII digits only


def parse_bool(params: Mapping[str, str], name: str, default: bool) -> bool:
    raw = params.get(name)
    if raw is None or raw == "":
        return default
    value = raw.strip().lower()
    if value in {"true", "1"}:
        return True
    if value in {"false", "0"}:
        return False
    raise BadArgument(f"{name} must be true or false.")


@dataclass(frozen=True)
class DetectOptions:
    return_face_id: bool = False
    return_landmarks: bool = False
    attributes: tuple[str, ...] = ()
    max_faces: int = 100

    @property
    def actions(self) -> list[str]:
        """Every policy action this request needs, decided together in one decision.

        ``detect``, one per sensitive attribute, and ``createTemplate`` when a faceId
        (a biometric template) is asked for.
        """
        needed = attribute_registry.actions_for(self.attributes)
        return [*needed, CREATE_TEMPLATE] if self.return_face_id else needed


def parse_attributes(raw: str | None) -> tuple[str, ...]:
    if raw is None or not raw.strip():
        return ()
    requested: list[str] = []
    for part in raw.split(","):
        name = attribute_registry.canonical(part)
        if name is None:
            allowed = ", ".join(attribute_registry.NAMES)
            raise BadArgument(f"Unknown face attribute '{part.strip()[:40]}'; allowed: {allowed}.")
        if name not in requested:
            requested.append(name)
    return tuple(requested)


def parse_detect_options(params: Mapping[str, str]) -> DetectOptions:
    max_faces = params.get("maxFaces")
    if max_faces is None or max_faces == "":
        limit = 100
    else:
        # ASCII digits only: str.isdigit() also accepts '²' and '٣', which int() refuses
        match = _MAX_FACES.fullmatch(max_faces)
        if match is None:
            raise BadArgument("maxFaces must be an integer from 1 to 100.")
        limit = int(match.group(1))
    return DetectOptions(
        return_face_id=parse_bool(params, "returnFaceId", False),
        return_landmarks=parse_bool(params, "returnFaceLandmarks", False),
        attributes=parse_attributes(params.get("returnFaceAttributes")),
        max_faces=limit,
    )


def _declared_over(declared_length: str | None, limit: int) -> bool:
    """Whether a Content-Length header already says the body is too large.

    Only ASCII digits count (``int()`` refuses '²' although ``isdigit()`` accepts it),
    and a number too long for ``int()`` (over 4300 digits) is simply too large.
    """
    text = (declared_length or "").strip()
    if not (text.isascii() and text.isdigit()):
        return False
    digits = text.lstrip("0")
    return len(digits) > 18 or int(digits or "0") > limit


def bound_image(body: bytes | None, declared_length: str | None = None) -> bytes:
    """The image bytes of a request, refused early when too large or empty."""
    if _declared_over(declared_length, MAX_IMAGE_BYTES):
        raise PayloadTooLarge("The image is larger than 6 MB.")
    if body is None or len(body) == 0:
        raise BadArgument("The request body must be the image bytes (JPEG, PNG, BMP, GIF, WebP).")
    if len(body) > MAX_IMAGE_BYTES:
        raise PayloadTooLarge("The image is larger than 6 MB.")
    return body


def parse_json_body(body: bytes | None, declared_length: str | None = None) -> dict[str, Any]:
    """A JSON object body, bounded; BadArgument for anything else."""
    if _declared_over(declared_length, MAX_JSON_BYTES):
        raise PayloadTooLarge("The JSON body is larger than 64 KB.")
    if body is None or len(body) == 0:
        raise BadArgument("A JSON object body is required.")
    if len(body) > MAX_JSON_BYTES:
        raise PayloadTooLarge("The JSON body is larger than 64 KB.")
    try:
        value = json.loads(body)
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise BadArgument("The body is not valid JSON.") from None
    if not isinstance(value, dict):
        raise BadArgument("The body must be a JSON object.")
    return value


def _number(body: Mapping[str, Any], name: str, default: float, low: float, high: float) -> float:
    value = body.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise BadArgument(f"{name} must be a number from {low:g} to {high:g}.")
    return float(value)


@dataclass(frozen=True)
class VerifyFaces:
    face_id1: str
    face_id2: str
    cohort_gallery_id: str | None = None  # normalise against this gallery of the caller


@dataclass(frozen=True)
class VerifyPerson:
    face_id: str
    gallery_id: str
    person_id: str


def parse_verify(body: Mapping[str, Any]) -> VerifyFaces | VerifyPerson:
    if "faceId1" in body or "faceId2" in body:
        cohort = body.get("cohortGalleryId")
        return VerifyFaces(
            uuid_id(body.get("faceId1"), "faceId1"),
            uuid_id(body.get("faceId2"), "faceId2"),
            None if cohort is None else gallery_id(cohort),
        )
    if "faceId" in body:
        return VerifyPerson(
            uuid_id(body.get("faceId"), "faceId"),
            gallery_id(body.get("galleryId")),
            uuid_id(body.get("personId"), "personId"),
        )
    raise BadArgument(
        "Give {faceId1, faceId2[, cohortGalleryId]} or {faceId, galleryId, personId}."
    )


@dataclass(frozen=True)
class IdentifyRequest:
    gallery_id: str
    face_ids: tuple[str, ...]
    max_candidates: int
    threshold: float | None


def parse_identify(body: Mapping[str, Any]) -> IdentifyRequest:
    face_ids = body.get("faceIds")
    if not isinstance(face_ids, list) or not 1 <= len(face_ids) <= MAX_IDENTIFY_FACES:
        raise BadArgument(f"faceIds must be a list of 1 to {MAX_IDENTIFY_FACES} faceIds.")
    parsed = tuple(uuid_id(f, "faceIds[]") for f in face_ids)
    if len(set(parsed)) != len(parsed):
        raise BadArgument("faceIds must not repeat.")
    candidates = body.get("maxNumOfCandidatesReturned", 1)
    if isinstance(candidates, bool) or not isinstance(candidates, int):
        raise BadArgument(
            f"maxNumOfCandidatesReturned must be an integer from 1 to {MAX_CANDIDATES}."
        )
    if not 1 <= candidates <= MAX_CANDIDATES:
        raise BadArgument(
            f"maxNumOfCandidatesReturned must be an integer from 1 to {MAX_CANDIDATES}."
        )
    threshold = None
    if body.get("confidenceThreshold") is not None:
        threshold = _number(body, "confidenceThreshold", 0.5, 0.0, 1.0)
    return IdentifyRequest(gallery_id(body.get("galleryId")), parsed, candidates, threshold)
