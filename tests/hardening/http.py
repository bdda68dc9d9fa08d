"""Raw HTTP for the hardening tests, and what every answer of the app must look like.

``requests`` normalises URLs (dot segments, encoding) before sending them; a fuzzer
must send exactly the bytes it chose, so this uses http.client with the path as is.
"""

from __future__ import annotations

import http.client
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from tests.support import contract

# The stable error codes, by status (shared/errors.py and the specific codes of the
# use cases; the OpenAPI document names the same ones).
KNOWN_CODES: dict[int, frozenset[str]] = {
    400: frozenset(
        {
            "BadArgument",
            "InvalidImage",
            "InvalidImageSize",
            "NoFaceDetected",
            "MultipleFacesDetected",
            "QualityTooLow",
            "PersonHasNoFaces",
        }
    ),
    401: frozenset({"Unauthorized"}),
    403: frozenset({"PolicyDenied"}),
    404: frozenset({"NotFound"}),
    409: frozenset({"Conflict", "RecognitionModelMismatch"}),
    413: frozenset({"PayloadTooLarge"}),
    429: frozenset({"RateLimitExceeded"}),
    503: frozenset({"ServiceUnavailable"}),
}
# On Azure's route family (/api/face/...), Azure's codes (shared/api/azure_face/errors.py).
AZURE_PREFIX = "/api/face/"
AZURE_CODES: dict[int, frozenset[str]] = {
    400: KNOWN_CODES[400],
    401: frozenset({"401"}),
    403: frozenset({"UnsupportedFeature"}),
    404: frozenset(
        {
            "NotFound",
            "LargePersonGroupNotFound",
            "PersonNotFound",
            "PersistedFaceNotFound",
            "FaceNotFound",
            "OperationNotFound",
        }
    ),
    409: frozenset({"LargePersonGroupExists", "RecognitionModelMismatch"}),
    429: frozenset({"429"}),
    503: frozenset({"ServiceUnavailable"}),
}
# What the host itself may answer before the app runs: no route (404), wrong method
# (405), body over the host's limit (413), a malformed request (400).
HOST_ANSWERS = {400: "BadRequest", 404: "NotFound", 405: "MethodNotAllowed", 413: "PayloadTooLarge"}


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def from_app(self) -> bool:
        """Every response the app builds carries x-request-id; the host's own do not."""
        return "x-request-id" in self.headers

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None

    @property
    def code(self) -> str | None:
        data = self.json()
        return data.get("error", {}).get("code") if isinstance(data, dict) else None


def send(
    base: str,
    method: str,
    raw_path: str,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    timeout: float = 120,
) -> Answer:
    """One request with ``raw_path`` sent byte for byte (it must already be ASCII)."""
    url = urlsplit(base)
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=timeout)
    try:
        connection.request(method, raw_path, body=body, headers=headers or {})
        response = connection.getresponse()
        data = response.read()
        return Answer(response.status, {k.lower(): v for k, v in response.getheaders()}, data)
    finally:
        connection.close()


def check_answer(method: str, raw_path: str, answer: Answer) -> str:
    """No 5xx; the app's answers match the OpenAPI document and carry a known code.

    Returns a label for the figures (status and code).
    """
    assert answer.status < 500, f"{method} {raw_path} -> {answer.status} {answer.body[:300]!r}"
    path = raw_path.split("?", 1)[0]
    if answer.from_app:
        body = answer.json()
        azure = path.startswith(AZURE_PREFIX)
        if answer.status >= 400:
            codes = AZURE_CODES if azure else KNOWN_CODES
            assert answer.code in codes.get(answer.status, ()), (
                f"{method} {path} -> {answer.status} with unknown code {answer.code!r}"
            )
        if not azure:  # Azure's routes keep Azure's contract (the SDK tests hold them to it)
            contract.check(method, path, answer.status, body)
    else:
        assert answer.status in HOST_ANSWERS, f"host answered {answer.status} to {method} {path}"
        if answer.body:
            assert answer.code == HOST_ANSWERS[answer.status]
    return f"{answer.status} {answer.code or ''}".strip()
