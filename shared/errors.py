"""Errors with a stable code, raised by shared/ and mapped to responses by functions/.

The code is part of the contract (HTTP error bodies and blob results carry it);
the message is for people. Nothing here knows about HTTP status codes.
"""

from __future__ import annotations

from typing import Any


class FaceGateError(Exception):
    """Base class: a failure a caller can act on, named by a stable ``code``."""

    code = "InternalError"

    def __init__(
        self, message: str, *, code: str | None = None, details: dict[str, Any] | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        # extra, non-secret fields for the error body (e.g. the deciding policy ids)
        self.details: dict[str, Any] = dict(details or {})


class BadArgument(FaceGateError):
    code = "BadArgument"


class InvalidImage(FaceGateError):
    """Bytes that are not a decodable image of a supported format."""

    code = "InvalidImage"


class InvalidImageSize(FaceGateError):
    """An image too large (bytes or pixels) or too small to analyse."""

    code = "InvalidImageSize"


class Unauthorized(FaceGateError):
    code = "Unauthorized"


class PolicyDenied(FaceGateError):
    """The responsible-use policy refused the call; names the policies and the decision."""

    code = "PolicyDenied"

    def __init__(self, message: str, *, policy_ids: list[str], decision_id: str) -> None:
        super().__init__(message, details={"policyIds": policy_ids, "decisionId": decision_id})
        self.policy_ids = policy_ids
        self.decision_id = decision_id


class NotFound(FaceGateError):
    code = "NotFound"


class Conflict(FaceGateError):
    code = "Conflict"


class GalleryStoreMoving(Conflict):
    """The customer's galleries are moving between stores: only erasures are accepted."""

    code = "GalleryStoreMoving"

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = max(1, int(retry_after))


class PayloadTooLarge(FaceGateError):
    code = "PayloadTooLarge"


class RateLimited(FaceGateError):
    """Too many requests in the current window; ``retry_after`` seconds until the next one."""

    code = "RateLimitExceeded"

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = max(1, int(retry_after))


class ServiceUnavailable(FaceGateError):
    """A dependency (registry, policy, storage) is unreachable: fail closed."""

    code = "ServiceUnavailable"


class Forbidden(FaceGateError):
    """Authenticated, but not allowed here (an account without the console operator role,
    a change without its anti-forgery token)."""

    code = "Forbidden"
