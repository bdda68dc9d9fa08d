"""Galleries, persons and enrolled faces in Azure Tables, isolated per customer.

Layout (every key starts with the owning customer, so one customer's ids can
never reach another's rows):

- ``galleries``: PartitionKey = customerId, RowKey = galleryId. Carries
  ``version`` (bumped after every enrolment) and ``epoch`` (bumped after every
  erasure), which the identify index uses to refresh itself.
- ``persons``: PartitionKey = ``{customerId}:{galleryId}``, RowKey = personId.
- ``faces``: PartitionKey = ``{customerId}:{galleryId}``,
  RowKey = ``{personId}:{persistedFaceId}``; the template bytes and model id.

Erasure deletes every face row of a person before the person row, so a
failed erasure can be retried and never leaves a template behind a 404.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
from azure.core import MatchConditions
from azure.core.exceptions import ResourceExistsError, ResourceModifiedError, ResourceNotFoundError
from azure.data.tables import TableClient, UpdateMode

from shared.biometrics import templates
from shared.errors import BadArgument, Conflict, NotFound, ServiceUnavailable
from shared.identifiers import new_id
from shared.storage import clients, names
from shared.storage.faults import storage_unavailable_as_503

MAX_NAME = 128
MAX_USER_DATA = 16 * 1024
MAX_FACE_USER_DATA = 1024
MAX_FACES_PER_PERSON = 248  # as Azure Face
_BATCH = 100  # the Table service's transaction limit
_CONCURRENCY_RETRIES = 20


@dataclass(frozen=True)
class Gallery:
    customer_id: str
    gallery_id: str
    name: str
    user_data: str
    recognition_model: str
    created: str
    version: int
    epoch: int
    generation: str  # new for every gallery created, so a re-created id never reuses an index

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


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _table(name: str) -> TableClient:
    return clients.table_service().get_table_client(name)


def _partition(customer_id: str, gallery_id: str) -> str:
    return f"{customer_id}:{gallery_id}"


def check_text(value: object, field: str, limit: int, *, required: bool = False) -> str:
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value.strip()):
        raise BadArgument(
            f"{field} must be a non-empty string." if required else f"{field} must be a string."
        )
    if len(value) > limit:
        raise BadArgument(f"{field} must be at most {limit} characters.")
    return value


def _gallery_from(entity: dict[str, Any]) -> Gallery:
    return Gallery(
        customer_id=entity["PartitionKey"],
        gallery_id=entity["RowKey"],
        name=entity.get("name", ""),
        user_data=entity.get("userData", ""),
        recognition_model=entity.get("recognitionModel", ""),
        created=entity.get("createdDateTime", ""),
        version=int(entity.get("version", 0)),
        epoch=int(entity.get("epoch", 0)),
        generation=entity.get("generation", ""),
    )


# --- galleries ----------------------------------------------------------------------------


def create_gallery(
    customer_id: str, gallery_id: str, name: str, user_data: str, recognition_model: str
) -> Gallery:
    """Create a gallery; Conflict if the customer already has one with this id."""
    entity = {
        "PartitionKey": customer_id,
        "RowKey": gallery_id,
        "name": name,
        "userData": user_data,
        "recognitionModel": recognition_model,
        "createdDateTime": _now(),
        "version": 0,
        "epoch": 0,
        "generation": new_id(),
    }
    with storage_unavailable_as_503():
        try:
            _table(names.GALLERIES).create_entity(entity)
        except ResourceExistsError:
            raise Conflict(f"Gallery '{gallery_id}' already exists.") from None
    return _gallery_from(entity)


def get_gallery(customer_id: str, gallery_id: str) -> Gallery:
    with storage_unavailable_as_503():
        try:
            entity = _table(names.GALLERIES).get_entity(customer_id, gallery_id)
        except ResourceNotFoundError:
            raise NotFound(f"Gallery '{gallery_id}' is not found.") from None
    return _gallery_from(entity)


def list_galleries(customer_id: str, top: int = 1000) -> list[Gallery]:
    with storage_unavailable_as_503():
        rows = _table(names.GALLERIES).query_entities(
            "PartitionKey eq @pk", parameters={"pk": customer_id}, results_per_page=top
        )
        galleries = []
        for row in rows:
            galleries.append(_gallery_from(row))
            if len(galleries) >= top:
                break
    return galleries


def _bump(customer_id: str, gallery_id: str, *, erasure: bool) -> None:
    """Advance the gallery's version (and epoch, after an erasure), with optimistic concurrency."""
    table = _table(names.GALLERIES)
    for _ in range(_CONCURRENCY_RETRIES):
        try:
            entity = table.get_entity(customer_id, gallery_id)
        except ResourceNotFoundError:
            return  # the gallery itself is gone: nothing left to refresh
        entity["version"] = int(entity.get("version", 0)) + 1
        if erasure:
            entity["epoch"] = int(entity.get("epoch", 0)) + 1
        try:
            table.update_entity(
                entity,
                mode=UpdateMode.MERGE,
                etag=entity.metadata["etag"],
                match_condition=MatchConditions.IfNotModified,
            )
            return
        except ResourceModifiedError:
            continue
    raise ServiceUnavailable("The gallery is busy; try again.")


def _delete_rows(table: TableClient, rows: Iterator[dict[str, Any]]) -> int:
    """Delete rows of one partition in transactions of at most 100."""
    deleted = 0
    batch: list[tuple[str, dict[str, Any]]] = []
    for row in rows:
        batch.append(("delete", {"PartitionKey": row["PartitionKey"], "RowKey": row["RowKey"]}))
        if len(batch) == _BATCH:
            table.submit_transaction(batch)
            deleted += len(batch)
            batch = []
    if batch:
        table.submit_transaction(batch)
        deleted += len(batch)
    return deleted


def delete_gallery(customer_id: str, gallery_id: str) -> None:
    """Erase a gallery with every person and template in it."""
    get_gallery(customer_id, gallery_id)
    partition = _partition(customer_id, gallery_id)
    keys_only = ["PartitionKey", "RowKey"]
    with storage_unavailable_as_503():
        faces = _table(names.FACES)
        _delete_rows(
            faces,
            faces.query_entities(
                "PartitionKey eq @pk", parameters={"pk": partition}, select=keys_only
            ),
        )
        _bump(customer_id, gallery_id, erasure=True)
        persons = _table(names.PERSONS)
        _delete_rows(
            persons,
            persons.query_entities(
                "PartitionKey eq @pk", parameters={"pk": partition}, select=keys_only
            ),
        )
        with contextlib.suppress(ResourceNotFoundError):
            _table(names.GALLERIES).delete_entity(customer_id, gallery_id)


# --- persons ------------------------------------------------------------------------------


def _face_ids_of(customer_id: str, gallery_id: str, person_id: str) -> list[str]:
    rows = _table(names.FACES).query_entities(
        "PartitionKey eq @pk and RowKey ge @lo and RowKey lt @hi",
        parameters={
            "pk": _partition(customer_id, gallery_id),
            "lo": f"{person_id}:",
            "hi": f"{person_id};",  # ';' sorts right after ':'
        },
        select=["RowKey"],
    )
    return [row["RowKey"].split(":", 1)[1] for row in rows]


def create_person(customer_id: str, gallery_id: str, name: str, user_data: str) -> Person:
    get_gallery(customer_id, gallery_id)
    person_id = new_id()
    with storage_unavailable_as_503():
        _table(names.PERSONS).create_entity(
            {
                "PartitionKey": _partition(customer_id, gallery_id),
                "RowKey": person_id,
                "name": name,
                "userData": user_data,
                "createdDateTime": _now(),
            }
        )
    return Person(person_id, name, user_data, ())


def get_person(customer_id: str, gallery_id: str, person_id: str) -> Person:
    get_gallery(customer_id, gallery_id)
    with storage_unavailable_as_503():
        try:
            row = _table(names.PERSONS).get_entity(_partition(customer_id, gallery_id), person_id)
        except ResourceNotFoundError:
            raise NotFound(f"Person '{person_id}' is not found.") from None
        face_ids = _face_ids_of(customer_id, gallery_id, person_id)
    return Person(person_id, row.get("name", ""), row.get("userData", ""), tuple(face_ids))


def list_persons(customer_id: str, gallery_id: str, top: int = 1000) -> list[Person]:
    get_gallery(customer_id, gallery_id)
    partition = _partition(customer_id, gallery_id)
    with storage_unavailable_as_503():
        faces_by_person: dict[str, list[str]] = {}
        for row in _table(names.FACES).query_entities(
            "PartitionKey eq @pk", parameters={"pk": partition}, select=["RowKey"]
        ):
            person_id, face_id = row["RowKey"].split(":", 1)
            faces_by_person.setdefault(person_id, []).append(face_id)
        persons = []
        for row in _table(names.PERSONS).query_entities(
            "PartitionKey eq @pk", parameters={"pk": partition}
        ):
            person_id = row["RowKey"]
            persons.append(
                Person(
                    person_id,
                    row.get("name", ""),
                    row.get("userData", ""),
                    tuple(faces_by_person.get(person_id, ())),
                )
            )
            if len(persons) >= top:
                break
    return persons


def delete_person(customer_id: str, gallery_id: str, person_id: str) -> int:
    """Erase a person and every template of theirs; returns how many faces were erased."""
    get_person(customer_id, gallery_id, person_id)
    partition = _partition(customer_id, gallery_id)
    with storage_unavailable_as_503():
        faces = _table(names.FACES)
        erased = _delete_rows(
            faces,
            iter(
                [
                    {"PartitionKey": partition, "RowKey": f"{person_id}:{face_id}"}
                    for face_id in _face_ids_of(customer_id, gallery_id, person_id)
                ]
            ),
        )
        _bump(customer_id, gallery_id, erasure=True)
        with contextlib.suppress(ResourceNotFoundError):
            _table(names.PERSONS).delete_entity(partition, person_id)
    return erased


# --- faces --------------------------------------------------------------------------------


def add_face(
    customer_id: str,
    gallery_id: str,
    person_id: str,
    template: np.ndarray,
    model: str,
    user_data: str,
    quality: str,
) -> str:
    """Store one template for a person; returns its persistedFaceId."""
    gallery = get_gallery(customer_id, gallery_id)
    templates.require_same_model(gallery.recognition_model, model)
    person = get_person(customer_id, gallery_id, person_id)
    if len(person.persisted_face_ids) >= MAX_FACES_PER_PERSON:
        raise BadArgument(f"A person can have at most {MAX_FACES_PER_PERSON} faces.")
    face_id = new_id()
    partition = _partition(customer_id, gallery_id)
    row_key = f"{person_id}:{face_id}"
    with storage_unavailable_as_503():
        faces = _table(names.FACES)
        faces.create_entity(
            {
                "PartitionKey": partition,
                "RowKey": row_key,
                "template": templates.encode(template),
                "model": model,
                "userData": user_data,
                "quality": quality,
                "createdDateTime": _now(),
            }
        )
        try:
            _bump(customer_id, gallery_id, erasure=False)
        except Exception:
            # without the bump other instances would not see the face: undo, let the caller retry
            faces.delete_entity(partition, row_key)
            raise
    return face_id


def delete_face(customer_id: str, gallery_id: str, person_id: str, face_id: str) -> None:
    get_person(customer_id, gallery_id, person_id)
    partition, row_key = _partition(customer_id, gallery_id), f"{person_id}:{face_id}"
    with storage_unavailable_as_503():
        faces = _table(names.FACES)
        try:  # delete_entity does not raise for a missing row: look first
            faces.get_entity(partition, row_key, select=["RowKey"])
        except ResourceNotFoundError:
            raise NotFound(f"Face '{face_id}' is not found.") from None
        faces.delete_entity(partition, row_key)
        _bump(customer_id, gallery_id, erasure=True)


def person_templates(customer_id: str, gallery_id: str, person_id: str) -> list[EnrolledFace]:
    get_person(customer_id, gallery_id, person_id)
    with storage_unavailable_as_503():
        rows = _table(names.FACES).query_entities(
            "PartitionKey eq @pk and RowKey ge @lo and RowKey lt @hi",
            parameters={
                "pk": _partition(customer_id, gallery_id),
                "lo": f"{person_id}:",
                "hi": f"{person_id};",
            },
        )
        return [_face_from(row) for row in rows]


def _face_from(row: dict[str, Any]) -> EnrolledFace:
    person_id, face_id = row["RowKey"].split(":", 1)
    return EnrolledFace(person_id, face_id, templates.decode(row["template"]), row.get("model", ""))


def templates_since(
    customer_id: str, gallery_id: str, since: dt.datetime | None
) -> tuple[list[EnrolledFace], dt.datetime | None]:
    """Templates of a gallery written after ``since`` (all when None), and the newest timestamp."""
    with storage_unavailable_as_503():
        query = "PartitionKey eq @pk"
        parameters: dict[str, Any] = {"pk": _partition(customer_id, gallery_id)}
        if since is not None:
            query += " and Timestamp ge @since"
            parameters["since"] = since
        newest = since
        found = []
        for row in _table(names.FACES).query_entities(
            query, parameters=parameters, select=["RowKey", "template", "model"]
        ):
            found.append(_face_from(row))
            stamp = row.metadata.get("timestamp")
            if stamp is not None and (newest is None or stamp > newest):
                newest = stamp
    return found, newest
