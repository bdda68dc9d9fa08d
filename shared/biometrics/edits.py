"""Renames and userData edits of galleries, persons and enrolled faces (Azure's PATCH routes).

Validated here, applied by the customer's gallery store (``store``): an edit racing an
erasure can never bring a deleted row back (it fails with NotFound), and templates are
never touched. Edits are writes: refused (409 GalleryStoreMoving) while the customer's
galleries move between stores.
"""

from __future__ import annotations

from shared.biometrics import store


def _fields(name: str | None, user_data: str | None, data_limit: int) -> dict[str, str]:
    fields: dict[str, str] = {}
    if name is not None:
        fields["name"] = store.check_text(name, "name", store.MAX_NAME, required=True)
    if user_data is not None:
        fields["userData"] = store.check_text(user_data, "userData", data_limit)
    return fields


def update_gallery(
    customer_id: str, gallery_id: str, name: str | None, user_data: str | None
) -> None:
    fields = _fields(name, user_data, store.MAX_USER_DATA)
    store.require_writable(customer_id).update_gallery(customer_id, gallery_id, fields)


def update_person(
    customer_id: str, gallery_id: str, person_id: str, name: str | None, user_data: str | None
) -> None:
    fields = _fields(name, user_data, store.MAX_USER_DATA)
    backend = store.require_writable(customer_id)
    backend.update_person(customer_id, gallery_id, person_id, fields)


def get_face(customer_id: str, gallery_id: str, person_id: str, face_id: str) -> dict[str, str]:
    """An enrolled face's id and userData (never its template); NotFound while it is erased."""
    return store.backend_of(customer_id).get_face(customer_id, gallery_id, person_id, face_id)


def update_face(
    customer_id: str, gallery_id: str, person_id: str, face_id: str, user_data: str | None
) -> None:
    fields = _fields(None, user_data, store.MAX_FACE_USER_DATA)
    backend = store.require_writable(customer_id)
    backend.update_face(customer_id, gallery_id, person_id, face_id, fields)
