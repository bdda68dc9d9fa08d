"""Errors with a stable code, raised by shared/ and mapped to responses by functions/.

The code is part of the contract (HTTP error bodies and blob results carry it);
the message is for people. Nothing here knows about HTTP status codes.
"""

from __future__ import annotations


class FaceGateError(Exception):
    """Base class: a failure a caller can act on, named by a stable ``code``."""

    code = "InternalError"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code


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


class NotFound(FaceGateError):
    code = "NotFound"


class Conflict(FaceGateError):
    code = "Conflict"


class PayloadTooLarge(FaceGateError):
    code = "PayloadTooLarge"


class ServiceUnavailable(FaceGateError):
    """A dependency (registry, policy, storage) is unreachable: fail closed."""

    code = "ServiceUnavailable"
