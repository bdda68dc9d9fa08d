"""Event Grid deliveries to the blob extension's webhook (``/runtime/webhooks/blobs``).

Both delivery schemas are read: Event Grid (a JSON array of events with
``eventType``) and CloudEvents 1.0 (an object or array with ``type``). The
``aeg-event-type`` header says what a POST is, as in the host:
``SubscriptionValidation`` (answer with the validation code),
``Notification`` (events), ``Unsubscribe`` (202); anything else is a 400.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

BLOB_CREATED = "Microsoft.Storage.BlobCreated"
_SUBJECT = re.compile(r"^/blobServices/default/containers/([^/]+)/blobs/(.+)$")


@dataclass(frozen=True)
class BlobEvent:
    container: str
    blob_name: str


class EventGridError(ValueError):
    """A delivery the host would answer with 400."""


def _events(body: bytes) -> list[dict[str, Any]]:
    try:
        parsed = json.loads(body or b"null")
    except ValueError as exc:
        raise EventGridError("the request body is not JSON") from exc
    if isinstance(parsed, dict):
        return [parsed]
    if isinstance(parsed, list) and all(isinstance(e, dict) for e in parsed):
        return parsed
    raise EventGridError("the request body should be a JSON object or array of events")


def validation_response(body: bytes) -> bytes:
    """The handshake answer: ``{"validationResponse": code}``."""
    event = _events(body)[0]
    data = event.get("data") or {}
    if isinstance(data, str):  # CloudEvents deliver the data double-encoded
        data = json.loads(data)
    code = data.get("validationCode") if isinstance(data, dict) else None
    if not code:
        raise EventGridError("no validationCode in the subscription validation event")
    return json.dumps({"validationResponse": code}).encode()


def _blob_from_url(url: str, account_url: str | None) -> BlobEvent | None:
    path = unquote(urlsplit(url).path).lstrip("/")
    if account_url:  # path-style (Azurite): /<account>/<container>/<blob>
        prefix = urlsplit(account_url).path.strip("/")
        if prefix and path.startswith(prefix + "/"):
            path = path[len(prefix) + 1 :]
    container, _, blob = path.partition("/")
    return BlobEvent(container, blob) if container and blob else None


def blob_created_events(body: bytes, account_url: str | None = None) -> list[BlobEvent]:
    """The BlobCreated events of a Notification delivery (other event types are ignored)."""
    found = []
    for event in _events(body):
        kind = event.get("eventType") or event.get("type")
        if kind != BLOB_CREATED:
            continue
        match = _SUBJECT.match(event.get("subject") or "")
        if match:
            found.append(BlobEvent(match.group(1), match.group(2)))
            continue
        data = event.get("data") or {}
        blob = _blob_from_url(data.get("url", ""), account_url) if isinstance(data, dict) else None
        if blob is None:
            raise EventGridError("a BlobCreated event names no blob (subject or data.url)")
        found.append(blob)
    return found
