"""FaceGate errors as Azure Face answers them: status, `{"error": {"code", "message"}}`.

FaceGate's own routes keep FaceGate's codes; on Azure's routes a client written for
Azure (and the Face client library, which maps 401/404/409 to typed exceptions) sees
Azure's. Extra FaceGate fields (``policyIds``, ``decisionId``) ride along in the error
object: Azure clients ignore unknown fields.
"""

from __future__ import annotations

from typing import Any

from shared.errors import (
    BadArgument,
    Conflict,
    FaceGateError,
    InvalidImage,
    InvalidImageSize,
    NotFound,
    PayloadTooLarge,
    PolicyDenied,
    RateLimited,
    ServiceUnavailable,
    Unauthorized,
)

MISSING_KEY = (
    "Access denied due to missing subscription key. Make sure to include subscription key "
    "when making requests to an API."
)
INVALID_KEY = (
    "Access denied due to invalid subscription key or wrong API endpoint. Make sure to "
    "provide a valid key for an active subscription and use a correct regional API endpoint "
    "for your resource."
)
IMAGE_SIZE = "Image size is too small or too big."

# FaceGate's NotFound messages start with the kind of thing that was not found.
_NOT_FOUND: tuple[tuple[str, str, str], ...] = (
    ("Gallery", "LargePersonGroupNotFound", "Large person group is not found."),
    ("Person", "PersonNotFound", "Person is not found."),
    ("Face ", "PersistedFaceNotFound", "Persisted face is not found."),
    ("faceId", "FaceNotFound", "Face is not found."),
    ("Operation", "OperationNotFound", "Operation is not found."),
)


def _body(code: str, message: str, **extra: Any) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, **extra}}


def azure_error(error: FaceGateError) -> tuple[int, dict[str, Any], dict[str, str]]:
    """(status, body, headers) for ``error`` on an Azure route."""
    if isinstance(error, RateLimited):
        message = f"Rate limit is exceeded. Try again in {error.retry_after} seconds."
        return 429, _body("429", message), {"Retry-After": str(error.retry_after)}
    if isinstance(error, Unauthorized):
        missing = error.message.startswith("Missing")
        return 401, _body("401", MISSING_KEY if missing else INVALID_KEY), {}
    if isinstance(error, PolicyDenied):
        # Azure's answer to a feature the resource is not approved for (Limited Access).
        return 403, _body("UnsupportedFeature", error.message, **error.details), {}
    if isinstance(error, NotFound):
        for prefix, code, message in _NOT_FOUND:
            if error.message.startswith(prefix):
                return 404, _body(code, message), {}
        return 404, _body("NotFound", error.message), {}
    if isinstance(error, Conflict):
        if error.code == "Conflict":
            return 409, _body("LargePersonGroupExists", "Large person group already exists."), {}
        retry_after = getattr(error, "retry_after", None)  # GalleryStoreMoving
        headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
        return 409, _body(error.code, error.message), headers
    if isinstance(error, PayloadTooLarge):
        if error.message.startswith("The image"):
            return 400, _body("InvalidImageSize", IMAGE_SIZE), {}
        return 400, _body("BadArgument", "Request body is too large."), {}
    if isinstance(error, InvalidImageSize):
        return 400, _body("InvalidImageSize", IMAGE_SIZE), {}
    if isinstance(error, InvalidImage | BadArgument):
        return 400, _body(error.code, error.message, **error.details), {}
    if isinstance(error, ServiceUnavailable):
        return 503, _body("ServiceUnavailable", error.message), {"Retry-After": "10"}
    return 500, _body("InternalError", "Something went wrong on our side."), {}
