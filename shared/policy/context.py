"""The request context a decision is made in: what the caller says, plus configuration.

The capture context comes from the caller (``X-Capture-Context`` on HTTP, blob
metadata ``capturecontext`` on uploads). An absent one becomes ``"unknown"``:
ordinary detection and attributes work without it, but it never counts as a
still photo, so law-enforcement recognition without a stated ``photo`` capture
is refused (fail safe). A value that is present but not one of the four is a
BadArgument, never silently ``unknown``.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from shared import settings
from shared.errors import BadArgument
from shared.policy import model
from shared.policy.model import Customer

FEDERAL_LAW_FLAG = "FACEGATE_US_FEDERAL_FACE_LAW_IN_FORCE"
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


@dataclass(frozen=True)
class Context:
    """Everything about a request that the policies may look at, besides the customer."""

    capture: str  # one of model.CAPTURES, or model.UNKNOWN_CAPTURE
    channel: str  # "http" or "blob"
    purpose: str | None
    request_id: str
    us_federal_face_law_in_force: bool

    def cedar(self) -> dict[str, Any]:
        """The context record for Cedar (see ``RequestContext`` in the schema)."""
        data: dict[str, Any] = {
            "capture": self.capture,
            "channel": self.channel,
            "usFederalFaceLawInForce": self.us_federal_face_law_in_force,
        }
        if self.purpose is not None:
            data["purpose"] = self.purpose
        return data


@dataclass(frozen=True)
class Caller:
    """Who asks (the customer, from its key or its upload path) and in which context:
    the first argument of every use case, and what the gate decides on."""

    customer: Customer
    context: Context


def capture_from(value: str | None) -> str:
    """Validate a caller's capture context; absent or blank -> ``"unknown"``."""
    if value is None or not value.strip():
        return model.UNKNOWN_CAPTURE
    text = value.strip().lower()
    if text not in model.CAPTURES:
        raise BadArgument(
            f"capture context must be one of {', '.join(model.CAPTURES)} "
            f"(or absent); got {value[:40]!r}."
        )
    return text


def context_from(
    capture: str | None = None,
    channel: str = "http",
    purpose: str | None = None,
    request_id: str | None = None,
    *,
    env: Mapping[str, str] | None = None,
) -> Context:
    """Build a validated Context; configuration flags are read from settings (or ``env``)."""
    if channel not in model.CHANNELS:
        raise BadArgument(f"channel must be one of {', '.join(model.CHANNELS)}.")
    stated = None if purpose is None or not purpose.strip() else model.purpose(purpose)
    if request_id is None or not request_id.strip():
        request_id = str(uuid.uuid4())
    elif not _REQUEST_ID.fullmatch(request_id.strip()):
        raise BadArgument("request id must be 1-128 letters, digits, '.', '_', ':' or '-'.")
    return Context(
        capture=capture_from(capture),
        channel=channel,
        purpose=stated,
        request_id=request_id.strip(),
        us_federal_face_law_in_force=settings.get_bool(FEDERAL_LAW_FLAG, env),
    )
