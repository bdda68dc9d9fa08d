"""What every gallery store returns and checks: galleries, persons, enrolled faces, limits.

Shared by the facade (``store``) and its backends (``table_store``, ``postgres.store``), so
callers see the same records whichever store holds a customer's galleries.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import numpy as np

from shared.errors import BadArgument

MAX_NAME = 128
MAX_USER_DATA = 16 * 1024
MAX_FACE_USER_DATA = 1024
MAX_FACES_PER_PERSON = 248  # as Azure Face
MAX_PAGE = 1000  # as Azure Face's `top`
ACTIVE, ERASING = "active", "erasing"
TABLE, POSTGRES = "table", "postgres"  # the gallery stores
STORES = (TABLE, POSTGRES)


def now() -> str:
    return iso(dt.datetime.now(dt.UTC))


def iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def partition(customer_id: str, gallery_id: str, generation: str) -> str:
    return f"{customer_id}:{gallery_id}:{generation}"


@dataclass(frozen=True)
class Gallery:
    customer_id: str
    gallery_id: str
    name: str
    user_data: str
    recognition_model: str
    created: str
    version: str  # changes with every enrolment (PostgreSQL: every change of templates)
    epoch: str  # changes with every erasure
    generation: str  # new for every gallery created, so a re-created id starts empty
    state: str = ACTIVE
    store: str = TABLE  # which store holds it
    # PostgreSQL only (read with the row, so a search needs no second read): persons with
    # at least one face, and faces, at ``version``
    person_count: int = 0
    face_count: int = 0

    @property
    def partition(self) -> str:
        """The Table store's face partition of this gallery generation."""
        return partition(self.customer_id, self.gallery_id, self.generation)

    def to_json(self) -> dict[str, Any]:
        return {
            "galleryId": self.gallery_id,
            "name": self.name,
            "userData": self.user_data,
            "recognitionModel": self.recognition_model,
            "createdDateTime": self.created,
        }


@dataclass(frozen=True)
class Person:
    person_id: str
    name: str
    user_data: str
    persisted_face_ids: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "personId": self.person_id,
            "name": self.name,
            "userData": self.user_data,
            "persistedFaceIds": list(self.persisted_face_ids),
        }


@dataclass(frozen=True)
class EnrolledFace:
    person_id: str
    persisted_face_id: str
    template: np.ndarray
    model: str


def check_text(value: object, field: str, limit: int, *, required: bool = False) -> str:
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value.strip()):
        raise BadArgument(
            f"{field} must be a non-empty string." if required else f"{field} must be a string."
        )
    if len(value) > limit:
        raise BadArgument(f"{field} must be at most {limit} characters.")
    # what no store can keep: PostgreSQL text holds no NUL, and UTF-8 no lone surrogate
    if "\x00" in value:
        raise BadArgument(f"{field} must not contain NUL characters.")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise BadArgument(f"{field} must be valid Unicode text.") from None
    return value
