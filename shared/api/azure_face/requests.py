"""Azure Face's query names, bodies and model names -> FaceGate's requests.

Pure functions: no storage, policy or pixels. Everything refused is a BadArgument that
names Azure's field, so an Azure client sees Azure's vocabulary.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from shared.api.paging import Page
from shared.api.requests import (
    DetectOptions,
    IdentifyRequest,
    VerifyFaces,
    VerifyPerson,
    parse_bool,
    parse_identify,
)
from shared.api.requests import parse_verify as parse_facegate_verify
from shared.errors import BadArgument, NotFound
from shared.identifiers import gallery_id, uuid_id

from . import API_VERSIONS

# FaceGate has one recognition model; Azure clients name it with Azure's newest name.
AZURE_RECOGNITION_MODEL = "recognition_04"
OLDER_RECOGNITION_MODELS = ("recognition_01", "recognition_02", "recognition_03")
DETECTION_MODELS = ("detection_01", "detection_02", "detection_03")
DEFAULT_DETECTION_MODEL = "detection_01"  # Azure's default

# Azure attribute name -> FaceGate attribute name, per detection model (Azure's own rules:
# detection_02 returns no attributes and no landmarks; detection_03 a subset).
SUPPORTED_ATTRIBUTES: dict[str, tuple[str, ...]] = {
    "detection_01": ("headPose", "blur", "exposure", "qualityForRecognition", "age"),
    "detection_02": (),
    "detection_03": ("headPose", "blur", "qualityForRecognition"),
}
# Azure attributes FaceGate has no model for (gender, emotion and the like were retired by
# Azure and are not offered on these routes either).
UNSUPPORTED_ATTRIBUTES = (
    "glasses", "occlusion", "accessories", "noise", "mask", "smile", "facialHair", "hair",
    "gender", "emotion",
)  # fmt: skip

MIN_TTL, MAX_TTL = 60, 86400
MAX_FIND_SIMILAR = 1000
MAX_PAGE = 1000
_DIGITS = re.compile(r"[0-9]{1,7}")


def check_api_version(version: str) -> str:
    if version not in API_VERSIONS:
        raise NotFound("Resource not found.")
    return version


def recognition_model(raw: object) -> str:
    """Azure's recognitionModel -> the Azure name FaceGate serves; refused otherwise."""
    if raw is None or raw == "":
        return AZURE_RECOGNITION_MODEL
    value = str(raw).strip().lower()
    if value == AZURE_RECOGNITION_MODEL:
        return value
    if value in OLDER_RECOGNITION_MODELS:
        raise BadArgument(
            f"recognitionModel '{value}' is not supported: FaceGate has one recognition model, "
            f"served as '{AZURE_RECOGNITION_MODEL}'."
        )
    raise BadArgument("Invalid argument recognitionModel.")


def detection_model(raw: object) -> str:
    if raw is None or raw == "":
        return DEFAULT_DETECTION_MODEL
    value = str(raw).strip().lower()
    if value not in DETECTION_MODELS:
        raise BadArgument("Invalid argument detectionModel.")
    return value


def _integer(raw: str | None, name: str, default: int, low: int, high: int) -> int:
    if raw is None or raw == "":
        return default
    if not _DIGITS.fullmatch(raw.strip()) or not low <= int(raw) <= high:
        raise BadArgument(f"{name} must be an integer from {low} to {high}.")
    return int(raw)


@dataclass(frozen=True)
class AzureDetect:
    """A detect request: FaceGate's options (for the gate and vision) plus Azure's extras."""

    options: DetectOptions
    landmarks: bool
    return_recognition_model: bool
    face_id_ttl: int
    detection_model: str


def parse_detect(params: Mapping[str, str]) -> AzureDetect:
    detection = detection_model(params.get("detectionModel"))
    recognition_model(params.get("recognitionModel"))
    landmarks = parse_bool(params, "returnFaceLandmarks", False)
    if landmarks and detection == "detection_02":
        raise BadArgument("returnFaceLandmarks is not supported by detection_02.")
    attributes: list[str] = []
    raw = params.get("returnFaceAttributes") or ""
    allowed = {name.lower(): name for name in SUPPORTED_ATTRIBUTES[detection]}
    for part in (p.strip() for p in raw.split(",")):
        if not part:
            continue
        name = allowed.get(part.lower())
        if name is None:
            raise BadArgument(
                f"Invalid argument returnFaceAttributes: '{part[:40]}' is not supported with "
                f"{detection} (supported: {', '.join(SUPPORTED_ATTRIBUTES[detection]) or 'none'})."
            )
        if name not in attributes:
            attributes.append(name)
    options = DetectOptions(
        return_face_id=parse_bool(params, "returnFaceId", True),  # Azure's default
        return_landmarks=False,  # Azure's 27 points come from the mesh, not the 5 of /detect
        attributes=tuple(attributes),
        max_faces=100,
    )
    return AzureDetect(
        options=options,
        landmarks=landmarks,
        return_recognition_model=parse_bool(params, "returnRecognitionModel", False),
        face_id_ttl=_integer(params.get("faceIdTimeToLive"), "faceIdTimeToLive", MAX_TTL,
                             MIN_TTL, MAX_TTL),
        detection_model=detection,
    )  # fmt: skip


def parse_add_face(params: Mapping[str, str]) -> str | None:
    """userData and detectionModel of an enrolment; targetFace is not supported (one face an
    image, as FaceGate's enrolment requires)."""
    if params.get("targetFace"):
        raise BadArgument("targetFace is not supported: enrol images with exactly one face.")
    detection_model(params.get("detectionModel"))
    return params.get("userData")


def refuse_url_body(content_type: str | None) -> None:
    """detect_from_url / add_face_from_url send JSON {url}: FaceGate never fetches URLs."""
    if (content_type or "").split(";")[0].strip().lower() == "application/json":
        raise BadArgument(
            "Images by URL are not supported: FaceGate fetches nothing on a caller's behalf. "
            "Send the image bytes (application/octet-stream)."
        )


def parse_verify(body: Mapping[str, Any]) -> VerifyFaces | VerifyPerson:
    """{faceId1, faceId2} or {faceId, personId, largePersonGroupId}."""
    if "faceId1" in body or "faceId2" in body:
        return parse_verify_faces(body)
    if "personGroupId" in body or "largeFaceListId" in body:
        raise BadArgument("Only largePersonGroupId is supported for verification to a person.")
    return VerifyPerson(
        uuid_id(body.get("faceId"), "faceId"),
        gallery_id(body.get("largePersonGroupId"), "largePersonGroupId"),
        uuid_id(body.get("personId"), "personId"),
    )


def parse_verify_faces(body: Mapping[str, Any]) -> VerifyFaces:
    request = parse_facegate_verify(body)
    if not isinstance(request, VerifyFaces):
        raise BadArgument("Give faceId1 and faceId2.")
    return request


def parse_identify_body(body: Mapping[str, Any]) -> IdentifyRequest:
    """{faceIds, largePersonGroupId, maxNumOfCandidatesReturned (10), confidenceThreshold}."""
    if "personGroupId" in body or "dynamicPersonGroupId" in body or "personIds" in body:
        raise BadArgument("Only largePersonGroupId is supported for identification.")
    lpg = gallery_id(body.get("largePersonGroupId"), "largePersonGroupId")
    return parse_identify(
        {
            "galleryId": lpg,
            "faceIds": body.get("faceIds"),
            "maxNumOfCandidatesReturned": body.get("maxNumOfCandidatesReturned", 10),
            "confidenceThreshold": body.get("confidenceThreshold"),
        }
    )


@dataclass(frozen=True)
class FindSimilar:
    face_id: str
    face_ids: tuple[str, ...]
    max_candidates: int
    match_person: bool


def parse_find_similar(body: Mapping[str, Any]) -> FindSimilar:
    if "largeFaceListId" in body or "faceListId" in body:
        raise BadArgument("Face lists are not supported; give faceIds.")
    face_ids = body.get("faceIds")
    if not isinstance(face_ids, list) or not 1 <= len(face_ids) <= MAX_FIND_SIMILAR:
        raise BadArgument(f"faceIds must be a list of 1 to {MAX_FIND_SIMILAR} faceIds.")
    limit = body.get("maxNumOfCandidatesReturned", 20)
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 1000:
        raise BadArgument("maxNumOfCandidatesReturned must be an integer from 1 to 1000.")
    mode = body.get("mode", "matchPerson")
    if mode not in ("matchPerson", "matchFace"):
        raise BadArgument("mode must be matchPerson or matchFace.")
    parsed = tuple(dict.fromkeys(uuid_id(f, "faceIds[]") for f in face_ids))
    return FindSimilar(uuid_id(body.get("faceId"), "faceId"), parsed, limit, mode == "matchPerson")


def parse_page(params: Mapping[str, str]) -> Page:
    """``start`` (list entries after this id) and ``top`` (1-1000, default 1000); the same
    paging as FaceGate's own list routes (shared.api.paging), read the way Azure reads it."""
    start = params.get("start") or ""
    if len(start) > 64:
        raise BadArgument("start must be at most 64 characters.")
    return Page(start, _integer(params.get("top"), "top", MAX_PAGE, 1, MAX_PAGE))


def group_body(body: Mapping[str, Any], *, create: bool) -> dict[str, Any]:
    """Create {name, userData, recognitionModel} or update {name, userData}."""
    if create:
        recognition_model(body.get("recognitionModel"))
    elif "recognitionModel" in body:
        raise BadArgument("recognitionModel cannot be changed.")
    return {key: body[key] for key in ("name", "userData") if key in body}


__all__ = [
    "AZURE_RECOGNITION_MODEL",
    "AzureDetect",
    "FindSimilar",
    "Page",
    "check_api_version",
    "detection_model",
    "group_body",
    "parse_add_face",
    "parse_bool",
    "parse_detect",
    "parse_find_similar",
    "parse_identify_body",
    "parse_page",
    "parse_verify",
    "recognition_model",
    "refuse_url_body",
]
