"""Renames and userData edits of galleries, persons and enrolled faces (Azure's PATCH routes).

Same tables and keys as ``store`` (see its docstring): persons and faces live in the
gallery generation's partition of ``faces``. Every edit is a Merge that requires the row
to exist (If-Match: *), so an edit racing an erasure can never bring a deleted row back:
it fails with NotFound instead. Templates are never touched here.
"""

from __future__ import annotations

from typing import Any

from azure.core.exceptions import ResourceNotFoundError
from azure.data.tables import UpdateMode

from shared.biometrics import store
from shared.errors import NotFound
from shared.storage import clients, names
from shared.storage.faults import storage_unavailable_as_503


def _merge(table: str, entity: dict[str, Any], missing: str) -> None:
    with storage_unavailable_as_503():
        try:
            # Unconditional here means If-Match: *, so the row must exist
            clients.table_service().get_table_client(table).update_entity(
                entity, mode=UpdateMode.MERGE
            )
        except ResourceNotFoundError:
            raise NotFound(missing) from None


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
    store.get_gallery(customer_id, gallery_id)
    if fields:
        entity = {"PartitionKey": customer_id, "RowKey": gallery_id, **fields}
        _merge(names.GALLERIES, entity, f"Gallery '{gallery_id}' is not found.")


def update_person(
    customer_id: str, gallery_id: str, person_id: str, name: str | None, user_data: str | None
) -> None:
    fields = _fields(name, user_data, store.MAX_USER_DATA)
    gallery = store.get_gallery(customer_id, gallery_id)
    store.get_person(customer_id, gallery_id, person_id)  # not one being erased
    entity = {"PartitionKey": gallery.partition, "RowKey": person_id, **fields}
    _merge(names.FACES, entity, f"Person '{person_id}' is not found.")


def get_face(customer_id: str, gallery_id: str, person_id: str, face_id: str) -> dict[str, str]:
    """An enrolled face's id and userData (never its template); NotFound while it is erased."""
    store.get_person(customer_id, gallery_id, person_id)
    partition = store.get_gallery(customer_id, gallery_id).partition
    with storage_unavailable_as_503():
        try:
            row = (
                clients.table_service()
                .get_table_client(names.FACES)
                .get_entity(partition, f"{person_id}:{face_id}", select=["userData", "erased"])
            )
        except ResourceNotFoundError:
            raise NotFound(f"Face '{face_id}' is not found.") from None
    if row.get("erased"):
        raise NotFound(f"Face '{face_id}' is not found.")
    return {"persistedFaceId": face_id, "userData": row.get("userData") or ""}


def update_face(
    customer_id: str, gallery_id: str, person_id: str, face_id: str, user_data: str | None
) -> None:
    fields = _fields(None, user_data, store.MAX_FACE_USER_DATA)
    get_face(customer_id, gallery_id, person_id, face_id)  # not one being erased
    entity = {
        "PartitionKey": store.get_gallery(customer_id, gallery_id).partition,
        "RowKey": f"{person_id}:{face_id}",
        **fields,
    }
    _merge(names.FACES, entity, f"Face '{face_id}' is not found.")
