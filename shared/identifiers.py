"""Identifiers callers see: validated on the way in, generated on the way out.

Gallery ids are chosen by the caller (like Azure's personGroupId: lowercase
letters, digits, '-' and '_', at most 64). Person, face and faceIds are ours:
random UUIDs, so they cannot be guessed across customers. A malformed id is a
BadArgument; a well-formed id that is not the caller's is NotFound.
"""

from __future__ import annotations

import re
import uuid

from shared.errors import BadArgument

_GALLERY_ID = re.compile(r"^[a-z0-9_-]{1,64}$")


def new_id() -> str:
    return str(uuid.uuid4())


def gallery_id(value: object, field: str = "galleryId") -> str:
    if not isinstance(value, str) or not _GALLERY_ID.fullmatch(value):
        raise BadArgument(
            f"{field} must be 1-64 characters of lowercase letters, digits, '-' or '_'."
        )
    return value


def uuid_id(value: object, field: str) -> str:
    """A canonical lowercase UUID string, or BadArgument."""
    if not isinstance(value, str) or len(value) > 64:
        raise BadArgument(f"{field} must be a UUID string.")
    try:
        parsed = uuid.UUID(value)
    except ValueError:
        raise BadArgument(f"{field} must be a UUID string.") from None
    return str(parsed)
