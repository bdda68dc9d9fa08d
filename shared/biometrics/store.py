"""Galleries, persons and enrolled faces, in the store the customer's registry record names.

Callers use these functions and never a store directly. Each call goes to the customer's
backend: ``table`` (``table_store``: Azure Tables, searched in memory) or ``postgres``
(``postgres.store``: PostgreSQL with pgvector, searched in the database). The record's
``gallery_store`` names it; "" (and a customer not in the registry) means the
FACEGATE_GALLERY_STORE setting. The lookup is the registry's cached one.

While a customer's galleries move between stores (``gallery_store_moving``), writes other
than erasure are refused with 409 ``GalleryStoreMoving`` (and Retry-After), reads go to the
store the record names, and every erasure is applied to both stores, so nothing erased
survives in the copy. An unknown store name is a misconfiguration: 503, nothing analysed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, TypeVar

import numpy as np

from shared import settings
from shared.biometrics import transfer
from shared.biometrics.records import (
    ACTIVE,
    ERASING,
    MAX_FACE_USER_DATA,
    MAX_FACES_PER_PERSON,
    MAX_NAME,
    MAX_PAGE,
    MAX_USER_DATA,
    POSTGRES,
    STORES,
    TABLE,
    EnrolledFace,
    Gallery,
    Person,
    check_text,
)
from shared.biometrics.table_store import (
    FACE,
    HEAD,
    PERSON,
    TABLE_STORE,
    FaceChanges,
    face_entity,
    templates_since,
)
from shared.errors import GalleryStoreMoving, NotFound, ServiceUnavailable
from shared.matching import Searchable

__all__ = [
    "ACTIVE",
    "ERASING",
    "FACE",
    "HEAD",
    "MAX_FACES_PER_PERSON",
    "MAX_FACE_USER_DATA",
    "MAX_NAME",
    "MAX_PAGE",
    "MAX_USER_DATA",
    "PERSON",
    "EnrolledFace",
    "FaceChanges",
    "Gallery",
    "GalleryBackend",
    "Person",
    "check_text",
    "face_entity",
    "templates_since",
]

MOVING_RETRY_SECONDS = 60
T = TypeVar("T")


class GalleryBackend(Protocol):
    """What each store implements (``table_store.TableStore``, ``postgres.store``)."""

    name: str

    def create_gallery(self, customer_id: str, gallery_id: str, name: str, user_data: str,
                       recognition_model: str) -> Gallery: ...  # fmt: skip
    def get_gallery(self, customer_id: str, gallery_id: str) -> Gallery: ...
    def list_galleries(self, customer_id: str, start: str, top: int) -> list[Gallery]: ...
    def all_galleries(self, customer_id: str) -> list[Gallery]: ...
    def delete_gallery(self, customer_id: str, gallery_id: str) -> None: ...
    def mark_changed(self, gallery: Gallery) -> None: ...
    def create_person(self, customer_id: str, gallery_id: str, name: str,
                      user_data: str) -> Person: ...  # fmt: skip
    def get_person(self, customer_id: str, gallery_id: str, person_id: str) -> Person: ...
    def list_persons(self, customer_id: str, gallery_id: str, start: str,
                     top: int) -> list[Person]: ...  # fmt: skip
    def delete_person(self, customer_id: str, gallery_id: str, person_id: str) -> int: ...
    def add_face(self, customer_id: str, gallery_id: str, person_id: str, template: np.ndarray,
                 model: str, user_data: str, quality: str) -> str: ...  # fmt: skip
    def delete_face(self, customer_id: str, gallery_id: str, person_id: str,
                    face_id: str) -> None: ...  # fmt: skip
    def stored_rows(self, customer_id: str, gallery_id: str = "") -> list[dict[str, Any]]: ...
    def erase_orphans(self, customer_id: str) -> int: ...
    def update_gallery(self, customer_id: str, gallery_id: str,
                       fields: dict[str, str]) -> None: ...  # fmt: skip
    def update_person(self, customer_id: str, gallery_id: str, person_id: str,
                      fields: dict[str, str]) -> None: ...  # fmt: skip
    def get_face(self, customer_id: str, gallery_id: str, person_id: str,
                 face_id: str) -> dict[str, str]: ...  # fmt: skip
    def update_face(self, customer_id: str, gallery_id: str, person_id: str, face_id: str,
                    fields: dict[str, str]) -> None: ...  # fmt: skip
    def export_gallery(self, customer_id: str, gallery_id: str) -> transfer.GalleryExport: ...
    def import_gallery(self, customer_id: str, export: transfer.GalleryExport) -> None: ...
    def cohort(self, gallery: Gallery) -> Searchable: ...
    def forget(self, customer_id: str, gallery_id: str | None = None) -> None: ...


# --- which store ------------------------------------------------------------------------------


def backend(name: str) -> GalleryBackend:
    """The store of this name (``table`` or ``postgres``); 503 for any other name."""
    if name == TABLE:
        return TABLE_STORE
    if name == POSTGRES:
        from shared.biometrics.postgres.store import POSTGRES_STORE

        return POSTGRES_STORE
    raise ServiceUnavailable(
        f"The gallery store {name!r} is not one of {', '.join(STORES)} "
        "(FACEGATE_GALLERY_STORE or the customer's record is misconfigured); nothing was analysed."
    )


def default_store() -> str:
    return settings.get("FACEGATE_GALLERY_STORE").strip().lower()


def placement(customer_id: str) -> tuple[str, bool]:
    """(the customer's store name, whether its galleries are moving), from the cached
    registry; a customer not in the registry has the default store."""
    from shared.policy import registry

    try:
        customer = registry.get_customer(customer_id)
    except NotFound:
        return default_store(), False
    return customer.gallery_store or default_store(), customer.gallery_store_moving


def backend_of(customer_id: str) -> GalleryBackend:
    """The store holding the customer's galleries (reads and writes go here)."""
    return backend(placement(customer_id)[0])


def require_writable(customer_id: str) -> GalleryBackend:
    """The customer's store, for a write that is not an erasure; 409 while moving."""
    name, moving = placement(customer_id)
    if moving:
        raise GalleryStoreMoving(
            "This customer's galleries are being moved to another store; only erasures are "
            f"accepted meanwhile. Try again in {MOVING_RETRY_SECONDS} seconds.",
            retry_after=MOVING_RETRY_SECONDS,
        )
    return backend(name)


def _erasing_backends(customer_id: str) -> list[GalleryBackend]:
    """Where an erasure goes: the customer's store, and while moving the other one too."""
    name, moving = placement(customer_id)
    primary = backend(name)
    if not moving:
        return [primary]
    return [primary, *(backend(other) for other in STORES if other != primary.name)]


def _erase_everywhere(customer_id: str, erase: Callable[[GalleryBackend], T]) -> T:
    """Apply an erasure to every store it must reach; NotFound only if none had it."""
    results: list[T] = []
    missing: NotFound | None = None
    for store in _erasing_backends(customer_id):
        try:
            results.append(erase(store))
        except NotFound as error:
            missing = missing or error
    if not results:
        assert missing is not None
        raise missing
    return results[0] if len(results) == 1 else _one_answer(results)


def _one_answer(results: list[Any]) -> Any:
    """One answer for an erasure applied to both stores: a count is of the person's faces,
    held once in each store while a move copies them, so the larger, not the sum."""
    return max(results) if all(isinstance(r, int) for r in results) else results[0]


# --- galleries --------------------------------------------------------------------------------


def create_gallery(
    customer_id: str, gallery_id: str, name: str, user_data: str, recognition_model: str
) -> Gallery:
    """Create a gallery; Conflict if the customer has one with this id."""
    store = require_writable(customer_id)
    return store.create_gallery(customer_id, gallery_id, name, user_data, recognition_model)


def get_gallery(customer_id: str, gallery_id: str) -> Gallery:
    """The customer's gallery; NotFound when it does not exist or is being erased."""
    return backend_of(customer_id).get_gallery(customer_id, gallery_id)


def list_galleries(customer_id: str, start: str = "", top: int = MAX_PAGE) -> list[Gallery]:
    """Galleries whose id sorts after ``start``, in id order, at most ``top`` (as Azure Face)."""
    return backend_of(customer_id).list_galleries(customer_id, start, top)


def all_galleries(customer_id: str) -> list[Gallery]:
    """Every gallery of the customer in its store (and, while moving, in the other), those
    being erased included: for operator erasure."""
    found: list[Gallery] = []
    for store in _erasing_backends(customer_id):
        found += store.all_galleries(customer_id)
    return found


def delete_gallery(customer_id: str, gallery_id: str) -> None:
    """Erase a gallery with every person and template in it; repeat it to finish a broken one."""
    _erase_everywhere(customer_id, lambda store: store.delete_gallery(customer_id, gallery_id))
    forget(customer_id, gallery_id)


def mark_changed(gallery: Gallery) -> None:
    """Tell every instance that faces were written in bulk (benchmarks, tools)."""
    backend(gallery.store).mark_changed(gallery)


def forget(customer_id: str, gallery_id: str | None = None) -> None:
    """Drop this process's in-memory index of a gallery (or of every gallery of the
    customer). PostgreSQL keeps nothing between searches that a delete must drop."""
    TABLE_STORE.forget(customer_id, gallery_id)


# --- persons ----------------------------------------------------------------------------------


def create_person(customer_id: str, gallery_id: str, name: str, user_data: str) -> Person:
    """Add a person; NotFound if the gallery is gone or being erased."""
    return require_writable(customer_id).create_person(customer_id, gallery_id, name, user_data)


def get_person(customer_id: str, gallery_id: str, person_id: str) -> Person:
    return backend_of(customer_id).get_person(customer_id, gallery_id, person_id)


def list_persons(
    customer_id: str, gallery_id: str, start: str = "", top: int = MAX_PAGE
) -> list[Person]:
    """Persons whose id sorts after ``start``, in id order, at most ``top``, with their faces."""
    return backend_of(customer_id).list_persons(customer_id, gallery_id, start, top)


def delete_person(customer_id: str, gallery_id: str, person_id: str) -> int:
    """Erase a person and every template of theirs; returns how many faces were erased."""
    return _erase_everywhere(
        customer_id, lambda store: store.delete_person(customer_id, gallery_id, person_id)
    )


# --- faces ------------------------------------------------------------------------------------


def add_face(
    customer_id: str,
    gallery_id: str,
    person_id: str,
    template: np.ndarray,
    model: str,
    user_data: str,
    quality: str,
) -> str:
    """Store one template for a person; returns its persistedFaceId.

    NotFound when the person or gallery is gone or being erased; BadArgument at the face
    limit; 409 GalleryStoreMoving while the customer's galleries move.
    """
    store = require_writable(customer_id)
    return store.add_face(customer_id, gallery_id, person_id, template, model, user_data, quality)


def delete_face(customer_id: str, gallery_id: str, person_id: str, face_id: str) -> None:
    """Erase one face; repeating it finishes an erasure that broke off."""
    _erase_everywhere(
        customer_id, lambda store: store.delete_face(customer_id, gallery_id, person_id, face_id)
    )


def stored_rows(customer_id: str, gallery_id: str = "") -> list[dict[str, Any]]:
    """Keys and kind of every stored row of the customer (of one galleryId, when given), in
    its store and, while moving, the other one: for erasure and its checks."""
    found: list[dict[str, Any]] = []
    for store in _erasing_backends(customer_id):
        found += store.stored_rows(customer_id, gallery_id)
    return found


def erase_customer(customer_id: str) -> tuple[list[str], int]:
    """Every gallery of a customer in every store it may have used (see
    ``configured_backends``), then any row left outside a gallery (none should exist).
    Returns (the galleryIds erased, the rows left over that were erased)."""
    erased: list[str] = []
    stores = configured_backends(customer_id)
    for store in stores:
        for gallery in store.all_galleries(customer_id):
            try:
                store.delete_gallery(customer_id, gallery.gallery_id)
                erased.append(gallery.gallery_id)
            except NotFound:  # erased meanwhile by someone else
                pass
    leftover = sum(store.erase_orphans(customer_id) for store in stores)
    forget(customer_id)
    return sorted(set(erased)), leftover


def configured_backends(customer_id: str) -> list[GalleryBackend]:
    """The customer's stores (both while moving) and PostgreSQL whenever it is configured:
    what a complete erasure of a customer must reach."""
    from shared.biometrics.postgres import connection

    stores = _erasing_backends(customer_id)
    if connection.configured() and POSTGRES not in [s.name for s in stores]:
        stores.append(backend(POSTGRES))
    return stores


# --- search -----------------------------------------------------------------------------------


def cohort(gallery: Gallery) -> Searchable:
    """The gallery, fresh, as the cohort identify and verify search and normalise against:
    the in-memory index (Table store) or PgCohort (PostgreSQL)."""
    return backend(gallery.store).cohort(gallery)
