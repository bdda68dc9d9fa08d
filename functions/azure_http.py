"""What Azure's route family shares: the API version check and Azure's error answers.

A function body is one call, as in ``http_support``: ``return handle_azure(req, work)``.
The work returns ``(status, body)`` or ``(status, body, headers)``; a FaceGateError
becomes Azure's error body and status (``shared.api.azure_face.errors``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import azure.functions as func

from functions.http_support import Call, json_response
from shared.api.azure_face.errors import azure_error
from shared.api.azure_face.requests import check_api_version
from shared.errors import FaceGateError
from shared.identifiers import new_id

log = logging.getLogger("facegate.azure")

AzureWork = Callable[[Call], tuple[Any, ...]]


def handle_azure(req: func.HttpRequest, work: AzureWork) -> func.HttpResponse:
    request_id = new_id()
    call = Call(req, request_id)
    try:
        check_api_version(call.route("apiVersion"))
        call.customer()  # as Azure: the key (401) and the rate limit (429) come first
        status, body, *rest = work(call)
        return json_response(status, body, request_id, rest[0] if rest else None)
    except FaceGateError as error:
        status, body, headers = azure_error(error)
        log.info("request %s refused: %s %s", request_id, body["error"]["code"], status)
        return json_response(status, body, request_id, headers or None)
    except Exception:
        log.exception("request %s failed", request_id)
        status, body, headers = azure_error(FaceGateError("internal"))
        return json_response(status, body, request_id, headers or None)


def operation_location(req: func.HttpRequest, operation_id: str) -> str:
    """The absolute URL of an operation, on the same host and API version as ``req``."""
    version = req.route_params.get("apiVersion", "")
    url = req.url.split("?", 1)[0]
    marker = f"/face/{version}/"
    base = url[: url.find(marker) + len(marker)] if marker in url else url.rstrip("/") + "/"
    return f"{base}operations/{operation_id}"
