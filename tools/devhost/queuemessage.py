"""Storage-queue messages the way the Functions host reads and writes them.

Names: a queue name is lowercased and must be a valid storage queue name; a
trigger queue ``q`` has the poison queue ``q-poison``, unless ``q`` already ends
in ``-poison`` or the longer name would be invalid (then failed messages stay
in ``q``). Encoding: host.json ``extensions.queues.messageEncoding`` is
``base64`` by default (message text = base64 of the body) or ``none``.
The trigger parameter is built with the library's own ``queueTrigger``
converter from the host's trigger metadata (``Id``, ``DequeueCount``,
``InsertionTime``, ``ExpirationTime``, ``NextVisibleTime``, ``PopReceipt``).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from datetime import UTC, datetime
from typing import Any

from azure.functions import meta

POISON_SUFFIX = "-poison"
_QUEUE_NAME = re.compile(r"[a-z0-9](?:[a-z0-9]|-(?!-))*[a-z0-9]")


class QueueNameError(ValueError):
    """A queue name the host would refuse at indexing."""


class MessageDecodeError(ValueError):
    """Message text that is not valid base64 on a base64 queue."""


def normalize_queue_name(name: str) -> str:
    """Lowercase (the host coerces) and check: 3-63 of a-z, 0-9 and single hyphens."""
    lowered = name.strip().lower()
    if not (3 <= len(lowered) <= 63 and _QUEUE_NAME.fullmatch(lowered)):
        raise QueueNameError(
            f"{name!r} is not a valid queue name (3-63 lowercase letters, digits and single "
            "hyphens, starting and ending with a letter or digit)"
        )
    return lowered


def poison_queue_name(queue: str) -> str | None:
    """``<queue>-poison``; None for a queue that is itself a poison queue or too long for one."""
    if queue.endswith(POISON_SUFFIX):
        return None
    candidate = queue + POISON_SUFFIX
    return candidate if len(candidate) <= 63 else None


def decode_body(text: str, encoding: str) -> bytes:
    """Message text -> body bytes."""
    if encoding == "none":
        return text.encode("utf-8")
    try:
        return base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise MessageDecodeError("the message text is not valid base64") from exc


def encode_body(body: str | bytes, encoding: str) -> str:
    """Body -> message text (what the host's queue client sends)."""
    data = body.encode("utf-8") if isinstance(body, str) else bytes(body)
    if encoding == "none":
        return data.decode("utf-8")
    return base64.b64encode(data).decode("ascii")


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat() if value is not None else None


def body_datum(body: bytes) -> meta.Datum:
    """The host passes the body as a string when it is UTF-8 text, else as bytes."""
    try:
        return meta.Datum(body.decode("utf-8"), "string")
    except UnicodeDecodeError:
        return meta.Datum(body, "bytes")


def trigger_metadata(message: Any, body: bytes) -> dict[str, meta.Datum]:
    """The host's queue trigger metadata for an SDK ``QueueMessage``."""
    text = body_datum(body)
    values: dict[str, meta.Datum] = {
        "Id": meta.Datum(message.id, "string"),
        "DequeueCount": meta.Datum(int(message.dequeue_count or 0), "int"),
        "PopReceipt": meta.Datum(message.pop_receipt, "string"),
    }
    for key, value in (
        ("InsertionTime", message.inserted_on),
        ("ExpirationTime", message.expires_on),
        ("NextVisibleTime", message.next_visible_on),
    ):
        stamp = _iso(value)
        if stamp is not None:
            values[key] = meta.Datum(stamp, "string")
    if text.type == "string":
        values["QueueTrigger"] = text
    return values


def binding_data(message: Any, body: bytes) -> dict[str, Any]:
    """Values for ``{...}`` in other bindings' paths: the metadata, plus a JSON body's fields."""
    data: dict[str, Any] = {
        "Id": message.id,
        "DequeueCount": message.dequeue_count,
        "PopReceipt": message.pop_receipt,
        "InsertionTime": _iso(message.inserted_on),
        "ExpirationTime": _iso(message.expires_on),
        "NextVisibleTime": _iso(message.next_visible_on),
    }
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return data
    data["QueueTrigger"] = text
    try:
        parsed = json.loads(text)
    except ValueError:
        return data
    if isinstance(parsed, dict):
        for key, value in parsed.items():
            if isinstance(value, str | int | float | bool | dict):  # dict: for {a.b}
                data.setdefault(key, value)
    return data


def trigger_value(message: Any, body: bytes, annotation: Any) -> Any:
    """``func.QueueMessage`` by default; the body as ``str`` or ``bytes`` when annotated so."""
    if annotation is bytes:
        return body
    if annotation is str:
        return body.decode("utf-8")
    converter = meta.get_binding_registry().get("queueTrigger")
    return converter.decode(body_datum(body), trigger_metadata=trigger_metadata(message, body))
