"""What every HTTP function shares: request ids, the caller, the context, and error responses.

A function body is one call: ``return handle(req, lambda call: ...)``. The work
returns ``(status, body)``; any FaceGateError becomes
``{"error": {"code", "message", ...}}`` with its status, and anything
unexpected a logged 500 that reveals nothing.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

import azure.functions as func

from shared.errors import (
    BadArgument,
    Conflict,
    FaceGateError,
    Forbidden,
    InvalidImage,
    InvalidImageSize,
    NotFound,
    PayloadTooLarge,
    PolicyDenied,
    RateLimited,
    ServiceUnavailable,
    Unauthorized,
)
from shared.identifiers import new_id
from shared.limits import quota
from shared.policy import Caller, Context, Customer, authenticate, context_from

log = logging.getLogger("facegate.http")

KEY_HEADER = "Ocp-Apim-Subscription-Key"
CAPTURE_HEADER = "X-Capture-Context"
PURPOSE_HEADER = "X-Purpose"

STATUS: tuple[tuple[type[FaceGateError], int], ...] = (
    (PolicyDenied, 403),
    (Forbidden, 403),
    (RateLimited, 429),
    (Unauthorized, 401),
    (NotFound, 404),
    (Conflict, 409),
    (PayloadTooLarge, 413),
    (ServiceUnavailable, 503),
    (InvalidImage, 400),
    (InvalidImageSize, 400),
    (BadArgument, 400),
)


class Call:
    """One HTTP request on its way through the gate."""

    def __init__(self, req: func.HttpRequest, request_id: str) -> None:
        self.req = req
        self.request_id = request_id
        self._customer: Customer | None = None

    def customer(self) -> Customer:
        """The caller, counted against its rate limit (RateLimited past it)."""
        if self._customer is None:
            customer = authenticate(self.req.headers.get(KEY_HEADER))
            quota.admit_request(customer, self.request_id)
            self._customer = customer
        return self._customer

    def context(self) -> Context:
        return context_from(
            capture=self.req.headers.get(CAPTURE_HEADER),
            channel="http",
            purpose=self.req.headers.get(PURPOSE_HEADER),
            request_id=self.request_id,
        )

    def caller(self) -> Caller:
        """The customer (from its key) and the request context: what every use case takes."""
        return Caller(self.customer(), self.context())

    def route(self, name: str) -> str:
        return self.req.route_params.get(name, "")

    @property
    def content_length(self) -> str | None:
        return self.req.headers.get("Content-Length")


def status_of(error: FaceGateError) -> int:
    for kind, status in STATUS:
        if isinstance(error, kind):
            return status
    return 500


def json_response(
    status: int, body: Any, request_id: str, headers: dict[str, str] | None = None
) -> func.HttpResponse:
    all_headers = {"x-request-id": request_id, **(headers or {})}
    if body is None:
        return func.HttpResponse(status_code=status, headers=all_headers)
    return func.HttpResponse(
        json.dumps(body), status_code=status, mimetype="application/json", headers=all_headers
    )


def error_response(error: FaceGateError, request_id: str) -> func.HttpResponse:
    status = status_of(error)
    body = {"error": {"code": error.code, "message": error.message, **error.details}}
    headers = {"WWW-Authenticate": KEY_HEADER} if status == 401 else None
    if status == 503:
        headers = {"Retry-After": "10"}
    retry_after = getattr(error, "retry_after", None)  # RateLimited, GalleryStoreMoving
    if retry_after is not None:
        headers = {"Retry-After": str(retry_after)}
    return json_response(status, body, request_id, headers)


Work = Callable[[Call], tuple[int, Any]]


def handle(req: func.HttpRequest, work: Work) -> func.HttpResponse:
    request_id = new_id()
    call = Call(req, request_id)
    try:
        status, body = work(call)
        return json_response(status, body, request_id)
    except FaceGateError as error:
        log.info("request %s refused: %s %s", request_id, error.code, status_of(error))
        return error_response(error, request_id)
    except Exception:
        log.exception("request %s failed", request_id)
        body = {"error": {"code": "InternalError", "message": "Something went wrong on our side."}}
        return json_response(500, body, request_id)
