"""The Table gallery store: galleries, persons and faces in Azure Tables, erasable for good.

Layout (every key starts with the owning customer, so one customer's ids can
never reach another's rows):

- ``galleries``: PartitionKey = customerId, RowKey = galleryId. Carries the
  gallery's ``generation`` (new at every creation), ``state`` (``active`` or
  ``erasing``), ``version`` (a new token after every enrolment) and ``epoch``
  (a new token after every erasure); the identify index refreshes from them.
- ``faces``: one partition per gallery generation,
  PartitionKey = ``{customerId}:{galleryId}:{generation}``, holding
  a head row (RowKey ``~gallery``), one row per person (RowKey = personId, with
  ``faceCount`` and ``state``) and one per face (RowKey = ``{personId}:{faceId}``,
  the template bytes and model id).

Why erasure is final under any concurrency (all writes that could race one are
conditional, and every erasure first closes the door, then empties the room):

- A person is created in one transaction with a MERGE of the head row, which
  fails when the head is gone. A gallery erasure deletes the head first, so no
  person can appear in the partition after it lists them.
- A face is added in one transaction with an ETag-conditional update of its
  person's row (``faceCount`` + 1, so the 248-face limit holds under any number
  of concurrent enrolments). A person erasure first marks the person row
  ``erasing`` (changing its ETag), so no face can be added after it lists them.
- A re-created gallery gets a new generation, hence a new, empty partition.
- Every erasure leaves its mark (the ``erasing`` state, the face's ``erased``
  flag) until its last step, so a crash or fault mid-way is finished by
  repeating the call; the gallery's ``epoch`` is renewed after the templates
  are gone and before the call answers, so every instance's identify index
  drops them before its next search.
- Enrolments never contend on the gallery row: its ``version`` and ``epoch``
  are set by unconditional MERGEs of fresh tokens, so there is no "gallery is
  busy" after an image was analysed.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
from azure.core import MatchConditions
from azure.core.exceptions import ResourceExistsError, ResourceModifiedError, ResourceNotFoundError
from azure.data.tables import TableClient, TableTransactionError, UpdateMode

from shared.biometrics import templates, transfer
from shared.biometrics.records import (
    ACTIVE,
    ERASING,
    MAX_FACES_PER_PERSON,
    MAX_PAGE,
    TABLE,
    EnrolledFace,
    Gallery,
    Person,
    now,
)
from shared.biometrics.records import partition as _partition
from shared.errors import BadArgument, Conflict, NotFound, ServiceUnavailable
from shared.identifiers import new_id
from shared.matching import Searchable
from shared.storage import clients, names, rows
from shared.storage.faults import storage_unavailable_as_503

HEAD = "~gallery"  # sorts after every personId (hex UUIDs)
PERSON, FACE = "person", "face"
# How long an enrolment or face erasure keeps retrying a lost race on one person's row
# before it gives up with 503 (each try is one point read and one transaction).
_CONTENTION_SECONDS = 30.0
_KEYS = ["PartitionKey", "RowKey"]
_now = now


def _table(name: str) -> TableClient:
    return clients.table_service().get_table_client(name)


def stored_rows(customer_id: str, gallery_id: str = "") -> list[dict[str, Any]]:
    """Keys and kind of every row in the customer's face partitions (of every generation of
    one gallery, when given), whatever state they are in: for erasure and its checks."""
    prefix = f"{customer_id}:{gallery_id}:" if gallery_id else f"{customer_id}:"
    with storage_unavailable_as_503():
        found = _table(names.FACES).query_entities(
            "PartitionKey ge @low and PartitionKey lt @high",
            parameters={"low": prefix, "high": prefix[:-1] + ";"},  # ';' sorts after ':'
            select=["PartitionKey", "RowKey", "kind"],
        )
        return list(found)


def _gallery_from(entity: dict[str, Any]) -> Gallery:
    return Gallery(
        customer_id=entity["PartitionKey"],
        gallery_id=entity["RowKey"],
        name=entity.get("name", ""),
        user_data=entity.get("userData", ""),
        recognition_model=entity.get("recognitionModel", ""),
        created=entity.get("createdDateTime", ""),
        version=str(entity.get("version", "")),
        epoch=str(entity.get("epoch", "")),
        generation=entity.get("generation", ""),
        state=entity.get("state", ACTIVE),
        store=TABLE,
    )


# --- galleries ----------------------------------------------------------------------------


def create_gallery(
    customer_id: str,
    gallery_id: str,
    name: str,
    user_data: str,
    recognition_model: str,
    *,
    created: str = "",
) -> Gallery:
    """Create a gallery; Conflict if the customer has one with this id (or one being erased).
    ``created``: the creation time of a gallery moved here from another store."""
    generation = new_id()
    entity = {
        "PartitionKey": customer_id,
        "RowKey": gallery_id,
        "name": name,
        "userData": user_data,
        "recognitionModel": recognition_model,
        "createdDateTime": created or _now(),
        "version": new_id(),
        "epoch": new_id(),
        "generation": generation,
        "state": ACTIVE,
    }
    partition = _partition(customer_id, gallery_id, generation)
    with storage_unavailable_as_503():
        faces = _table(names.FACES)
        faces.create_entity({"PartitionKey": partition, "RowKey": HEAD, "kind": "gallery"})
        try:
            _table(names.GALLERIES).create_entity(entity)
        except ResourceExistsError:
            faces.delete_entity(partition, HEAD)
            raise Conflict(
                f"Gallery '{gallery_id}' already exists (or is being erased: repeat its DELETE)."
            ) from None
    return _gallery_from(entity)


def _gallery_row(customer_id: str, gallery_id: str) -> dict[str, Any]:
    try:
        return _table(names.GALLERIES).get_entity(customer_id, gallery_id)
    except ResourceNotFoundError:
        raise NotFound(f"Gallery '{gallery_id}' is not found.") from None


def get_gallery(customer_id: str, gallery_id: str) -> Gallery:
    """The customer's gallery; NotFound when it does not exist or is being erased."""
    with storage_unavailable_as_503():
        gallery = _gallery_from(_gallery_row(customer_id, gallery_id))
    if gallery.state != ACTIVE:
        raise NotFound(f"Gallery '{gallery_id}' is not found.")
    return gallery


def list_galleries(customer_id: str, start: str = "", top: int = MAX_PAGE) -> list[Gallery]:
    """Galleries whose id sorts after ``start``, in id order, at most ``top`` (as Azure Face)."""
    galleries: list[Gallery] = []
    with storage_unavailable_as_503():
        found = _table(names.GALLERIES).query_entities(
            "PartitionKey eq @pk and RowKey gt @start",
            parameters={"pk": customer_id, "start": start},
            results_per_page=min(top, MAX_PAGE),
        )
        for row in found:
            gallery = _gallery_from(row)
            if gallery.state == ACTIVE:
                galleries.append(gallery)
                if len(galleries) >= top:
                    break
    return galleries


def all_galleries(customer_id: str) -> list[Gallery]:
    """Every gallery of the customer, those being erased included (for operator erasure)."""
    with storage_unavailable_as_503():
        found = _table(names.GALLERIES).query_entities(
            "PartitionKey eq @pk", parameters={"pk": customer_id}
        )
        return [_gallery_from(row) for row in found]


def _renew(customer_id: str, gallery_id: str, field: str) -> None:
    """Give the gallery a fresh ``version`` or ``epoch`` token: an unconditional MERGE, so
    concurrent enrolments and erasures never contend on it. NotFound if the row is gone."""
    try:
        _table(names.GALLERIES).update_entity(
            {"PartitionKey": customer_id, "RowKey": gallery_id, field: new_id()},
            mode=UpdateMode.MERGE,
        )
    except ResourceNotFoundError:
        raise NotFound(f"Gallery '{gallery_id}' is not found.") from None


def mark_changed(gallery: Gallery) -> None:
    """Tell every instance's identify index that faces were added (benchmarks fill in bulk)."""
    with storage_unavailable_as_503():
        _renew(gallery.customer_id, gallery.gallery_id, "version")


def delete_gallery(customer_id: str, gallery_id: str) -> None:
    """Erase a gallery with every person and template in it; repeat it to finish a broken one.

    NotFound only when no such gallery exists (not even one being erased).
    """
    with storage_unavailable_as_503():
        galleries = _table(names.GALLERIES)
        for attempt in range(1000):  # mark first: from now on it reads as gone, and a crash
            row = _gallery_row(customer_id, gallery_id)  # leaves the mark to resume from
            if row.get("state") == ERASING:
                break
            try:
                galleries.update_entity(
                    {"PartitionKey": customer_id, "RowKey": gallery_id, "state": ERASING},
                    mode=UpdateMode.MERGE,
                    etag=row.metadata["etag"],
                    match_condition=MatchConditions.IfNotModified,
                )
                break
            except ResourceModifiedError:  # an enrolment renewed the version: read again
                rows.pause(attempt)
            except ResourceNotFoundError:
                raise NotFound(f"Gallery '{gallery_id}' is not found.") from None
        else:
            raise ServiceUnavailable("The gallery is changing too fast; repeat the DELETE.")
        generation = row.get("generation", "")
        _erase_partition(_partition(customer_id, gallery_id, generation))
        _delete_gallery_row(customer_id, gallery_id, generation)


def _erase_partition(partition: str) -> int:
    """Empty one gallery generation's partition for good; returns how many rows went."""
    faces = _table(names.FACES)
    faces.delete_entity(partition, HEAD)  # no person can be created any more
    persons = faces.query_entities(
        "PartitionKey eq @pk and kind eq @person",
        parameters={"pk": partition, "person": PERSON},
        select=["RowKey", "state"],
    )
    active = [p["RowKey"] for p in persons if p.get("state") != ERASING]
    rows.mark_rows(faces, partition, active, {"state": ERASING})  # no face can be added now
    every_row = faces.query_entities(
        "PartitionKey eq @pk", parameters={"pk": partition}, select=_KEYS
    )
    return rows.delete_rows(faces, ((r["PartitionKey"], r["RowKey"]) for r in every_row))


def _delete_gallery_row(customer_id: str, gallery_id: str, generation: str) -> None:
    """Delete the gallery row if it still is this generation's (a new one may exist by now)."""
    galleries = _table(names.GALLERIES)
    for attempt in range(1000):
        try:
            row = galleries.get_entity(customer_id, gallery_id)
        except ResourceNotFoundError:
            return
        if row.get("generation", "") != generation:
            return
        try:
            galleries.delete_entity(
                customer_id,
                gallery_id,
                etag=row.metadata["etag"],
                match_condition=MatchConditions.IfNotModified,
            )
            return
        except ResourceModifiedError:  # a late enrolment renewed the version: look again
            rows.pause(attempt)
    raise ServiceUnavailable("The gallery is still changing; repeat the DELETE to finish.")


# --- persons ------------------------------------------------------------------------------


def _face_range(partition: str, person_id: str) -> tuple[str, dict[str, Any]]:
    return (
        "PartitionKey eq @pk and RowKey ge @lo and RowKey lt @hi",
        {"pk": partition, "lo": f"{person_id}:", "hi": f"{person_id};"},
    )


def _live_face_ids(partition: str, person_id: str) -> list[str]:
    query, parameters = _face_range(partition, person_id)
    found = _table(names.FACES).query_entities(
        query, parameters=parameters, select=["RowKey", "erased"]
    )
    return [row["RowKey"].split(":", 1)[1] for row in found if not row.get("erased")]


def _person_row(partition: str, person_id: str) -> dict[str, Any]:
    """The person's row; NotFound if it does not exist or is being erased."""
    try:
        row = _table(names.FACES).get_entity(partition, person_id)
    except ResourceNotFoundError:
        raise NotFound(f"Person '{person_id}' is not found.") from None
    if row.get("kind") != PERSON or row.get("state", ACTIVE) != ACTIVE:
        raise NotFound(f"Person '{person_id}' is not found.")
    return row


def create_person(customer_id: str, gallery_id: str, name: str, user_data: str) -> Person:
    """Add a person; NotFound if the gallery is gone or being erased, even mid-way."""
    gallery = get_gallery(customer_id, gallery_id)
    person_id = new_id()
    with storage_unavailable_as_503():
        try:
            _table(names.FACES).submit_transaction(
                [
                    # fails when the head row is gone: the gallery is being erased
                    ("update", {"PartitionKey": gallery.partition, "RowKey": HEAD}),
                    (
                        "create",
                        {
                            "PartitionKey": gallery.partition,
                            "RowKey": person_id,
                            "kind": PERSON,
                            "state": ACTIVE,
                            "faceCount": 0,
                            "name": name,
                            "userData": user_data,
                            "createdDateTime": _now(),
                        },
                    ),
                ]
            )
        except TableTransactionError as error:
            if error.status_code == rows.STATUS_NOT_FOUND:
                raise NotFound(f"Gallery '{gallery_id}' is not found.") from None
            raise
    return Person(person_id, name, user_data, ())


def get_person(customer_id: str, gallery_id: str, person_id: str) -> Person:
    gallery = get_gallery(customer_id, gallery_id)
    with storage_unavailable_as_503():
        row = _person_row(gallery.partition, person_id)
        face_ids = _live_face_ids(gallery.partition, person_id)
    return Person(person_id, row.get("name", ""), row.get("userData", ""), tuple(face_ids))


def list_persons(
    customer_id: str, gallery_id: str, start: str = "", top: int = MAX_PAGE
) -> list[Person]:
    """Persons whose id sorts after ``start``, in id order, at most ``top``, with their faces.

    Person rows and their face rows sort together (``p`` < ``p:f``), so one range
    query reads a page.
    """
    gallery = get_gallery(customer_id, gallery_id)
    persons: list[Person] = []
    current: dict[str, Any] | None = None
    faces: list[str] = []

    def close() -> None:
        if current is not None:
            persons.append(
                Person(
                    current["RowKey"],
                    current.get("name", ""),
                    current.get("userData", ""),
                    tuple(faces),
                )
            )

    with storage_unavailable_as_503():
        found = _table(names.FACES).query_entities(
            "PartitionKey eq @pk and RowKey gt @start and RowKey lt @head",
            parameters={"pk": gallery.partition, "start": start, "head": HEAD},
            select=["RowKey", "kind", "state", "erased", "name", "userData"],
        )
        for row in found:
            if row.get("kind") == PERSON:
                close()
                current, faces = None, []
                if row.get("state", ACTIVE) != ACTIVE:
                    continue
                if len(persons) >= top:
                    break
                current = row
            elif row.get("kind") == FACE and current is not None and not row.get("erased"):
                person_id, face_id = row["RowKey"].split(":", 1)
                if person_id == current["RowKey"]:
                    faces.append(face_id)
        else:
            close()
    return persons[:top]


def _mark_erasing(faces: TableClient, partition: str, person_id: str) -> bool:
    """Mark a person ``erasing`` (its ETag changes, so no enrolment in flight can commit).
    False when the person row is already gone."""
    try:
        faces.update_entity(
            {"PartitionKey": partition, "RowKey": person_id, "state": ERASING},
            mode=UpdateMode.MERGE,
        )
        return True
    except ResourceNotFoundError:
        return False


def delete_person(customer_id: str, gallery_id: str, person_id: str) -> int:
    """Erase a person and every template of theirs; returns how many faces were erased.

    Repeating it finishes an erasure that broke off; NotFound once nothing is left.
    """
    gallery = get_gallery(customer_id, gallery_id)
    partition = gallery.partition
    with storage_unavailable_as_503():
        faces = _table(names.FACES)
        try:
            row = faces.get_entity(partition, person_id, select=["kind", "state"])
        except ResourceNotFoundError:
            raise NotFound(f"Person '{person_id}' is not found.") from None
        if row.get("kind") != PERSON:
            raise NotFound(f"Person '{person_id}' is not found.")
        if row.get("state") != ERASING:
            _mark_erasing(faces, partition, person_id)
        query, parameters = _face_range(partition, person_id)
        keys = [
            (r["PartitionKey"], r["RowKey"])
            for r in faces.query_entities(query, parameters=parameters, select=_KEYS)
        ]
        erased = rows.delete_rows(faces, keys)
        _renew_epoch_unless_gone(customer_id, gallery_id)
        faces.delete_entity(partition, person_id)  # last: until here a repeat call resumes
    return erased


def _renew_epoch_unless_gone(customer_id: str, gallery_id: str) -> None:
    """After an erasure: every identify index rebuilds before its next search. A gallery
    that is gone needs nothing (identify answers 404, a new one has a new generation)."""
    with contextlib.suppress(NotFound):
        _renew(customer_id, gallery_id, "epoch")


# --- faces --------------------------------------------------------------------------------


def face_entity(
    partition: str, person_id: str, face_id: str, template: np.ndarray, model: str
) -> dict[str, Any]:
    """The stored row of one enrolled face (its template bytes and model)."""
    return {
        "PartitionKey": partition,
        "RowKey": f"{person_id}:{face_id}",
        "kind": FACE,
        "template": templates.encode(template),
        "model": model,
        "createdDateTime": _now(),
    }


def _contended(started: float, attempt: int) -> None:
    if time.monotonic() - started > _CONTENTION_SECONDS:
        raise ServiceUnavailable("The person is changed by too many calls at once; try again.")
    rows.pause(attempt)


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

    NotFound when the person or gallery is gone or being erased (also when the
    erasure started after this call did); BadArgument at the face limit.
    """
    gallery = get_gallery(customer_id, gallery_id)
    templates.require_same_model(gallery.recognition_model, model)
    face_id = new_id()
    face = face_entity(gallery.partition, person_id, face_id, template, model)
    face.update(userData=user_data, quality=quality)
    started = time.monotonic()
    with storage_unavailable_as_503():
        faces = _table(names.FACES)
        for attempt in range(10_000):
            person = _person_row(gallery.partition, person_id)
            count = int(person.get("faceCount", 0))
            if count >= MAX_FACES_PER_PERSON:
                raise BadArgument(f"A person can have at most {MAX_FACES_PER_PERSON} faces.")
            counted = {
                "PartitionKey": gallery.partition,
                "RowKey": person_id,
                "faceCount": count + 1,
            }
            condition = {
                "mode": UpdateMode.MERGE,
                "etag": person.metadata["etag"],
                "match_condition": MatchConditions.IfNotModified,
            }
            try:
                faces.submit_transaction([("update", counted, condition), ("create", face)])
                break
            except TableTransactionError as error:
                if error.status_code == rows.STATUS_NOT_FOUND:
                    raise NotFound(f"Person '{person_id}' is not found.") from None
                if error.status_code != rows.STATUS_PRECONDITION_FAILED:
                    raise
                _contended(started, attempt)  # another call changed the person: read again
        try:
            _renew(customer_id, gallery_id, "version")
        except Exception:
            # Unannounced, other instances would not see the face: take it back, let the
            # caller retry. (A gallery already gone has erased the face itself.)
            _erase_face(customer_id, gallery_id, gallery.partition, person_id, face_id)
            raise
    return face_id


def delete_face(customer_id: str, gallery_id: str, person_id: str, face_id: str) -> None:
    """Erase one face; repeating it finishes an erasure that broke off."""
    gallery = get_gallery(customer_id, gallery_id)
    with storage_unavailable_as_503():
        if not _erase_face(customer_id, gallery_id, gallery.partition, person_id, face_id):
            raise NotFound(f"Face '{face_id}' is not found.")


def _erase_face(
    customer_id: str, gallery_id: str, partition: str, person_id: str, face_id: str
) -> bool:
    """Mark the face ``erased`` (with the person's count, in one transaction), renew the
    epoch, delete the row. False when there was no such face."""
    faces = _table(names.FACES)
    key = f"{person_id}:{face_id}"
    started = time.monotonic()
    for attempt in range(10_000):
        try:
            face = faces.get_entity(partition, key, select=["kind", "erased"])
        except ResourceNotFoundError:
            return False
        if face.get("kind") != FACE:
            return False
        if face.get("erased"):
            break
        mark = {"PartitionKey": partition, "RowKey": key, "erased": True}
        face_unchanged = {
            "mode": UpdateMode.MERGE,
            "etag": face.metadata["etag"],
            "match_condition": MatchConditions.IfNotModified,
        }
        try:
            person = faces.get_entity(partition, person_id, select=["faceCount", "state"])
        except ResourceNotFoundError:
            person = None
        try:
            if person is None or person.get("state") == ERASING:
                faces.update_entity(mark, **face_unchanged)  # the person's erasure counts no more
            else:
                count = max(0, int(person.get("faceCount", 0)) - 1)
                counted = {"PartitionKey": partition, "RowKey": person_id, "faceCount": count}
                person_unchanged = {**face_unchanged, "etag": person.metadata["etag"]}
                faces.submit_transaction(
                    [("update", counted, person_unchanged), ("update", mark, face_unchanged)]
                )
            break
        except (ResourceModifiedError, ResourceNotFoundError):
            _contended(started, attempt)
        except TableTransactionError as error:
            if error.status_code not in (rows.STATUS_PRECONDITION_FAILED, rows.STATUS_NOT_FOUND):
                raise
            _contended(started, attempt)
    _renew_epoch_unless_gone(customer_id, gallery_id)
    faces.delete_entity(partition, key)  # last: until here a repeat call resumes
    return True


def _face_from(row: dict[str, Any]) -> EnrolledFace:
    person_id, face_id = row["RowKey"].split(":", 1)
    return EnrolledFace(person_id, face_id, templates.decode(row["template"]), row.get("model", ""))


@dataclass(frozen=True)
class FaceChanges:
    """What a refresh of the identify index reads: faces written, and faces being erased."""

    added: list[EnrolledFace]
    erased: list[tuple[str, str]]  # (personId, persistedFaceId)
    newest: dt.datetime | None


def templates_since(gallery: Gallery, since: dt.datetime | None) -> FaceChanges:
    """Face rows of a gallery written after ``since`` (all when None), and the newest timestamp."""
    query = "PartitionKey eq @pk and kind eq @face"
    parameters: dict[str, Any] = {"pk": gallery.partition, "face": FACE}
    if since is not None:
        query += " and Timestamp ge @since"
        parameters["since"] = since
    newest = since
    added: list[EnrolledFace] = []
    erased: list[tuple[str, str]] = []
    with storage_unavailable_as_503():
        found: Iterator[dict[str, Any]] = _table(names.FACES).query_entities(
            query, parameters=parameters, select=["RowKey", "template", "model", "erased"]
        )
        for row in found:
            if row.get("erased"):
                person_id, face_id = row["RowKey"].split(":", 1)
                erased.append((person_id, face_id))
            else:
                added.append(_face_from(row))
            stamp = row.metadata.get("timestamp")
            if stamp is not None and (newest is None or stamp > newest):
                newest = stamp
    return FaceChanges(added, erased, newest)


# --- edits (Azure's PATCH routes) -----------------------------------------------------------
# Every edit is a Merge that requires the row to exist (If-Match: *), so an edit racing an
# erasure can never bring a deleted row back: it fails with NotFound instead.


def _merge(table: str, entity: dict[str, Any], missing: str) -> None:
    with storage_unavailable_as_503():
        try:
            _table(table).update_entity(entity, mode=UpdateMode.MERGE)
        except ResourceNotFoundError:
            raise NotFound(missing) from None


def update_gallery(customer_id: str, gallery_id: str, fields: dict[str, str]) -> None:
    """Set ``name`` and/or ``userData`` of a gallery."""
    get_gallery(customer_id, gallery_id)
    if fields:
        entity = {"PartitionKey": customer_id, "RowKey": gallery_id, **fields}
        _merge(names.GALLERIES, entity, f"Gallery '{gallery_id}' is not found.")


def update_person(
    customer_id: str, gallery_id: str, person_id: str, fields: dict[str, str]
) -> None:
    gallery = get_gallery(customer_id, gallery_id)
    get_person(customer_id, gallery_id, person_id)  # not one being erased
    entity = {"PartitionKey": gallery.partition, "RowKey": person_id, **fields}
    _merge(names.FACES, entity, f"Person '{person_id}' is not found.")


def get_face(customer_id: str, gallery_id: str, person_id: str, face_id: str) -> dict[str, str]:
    """An enrolled face's id and userData (never its template); NotFound while it is erased."""
    get_person(customer_id, gallery_id, person_id)
    partition = get_gallery(customer_id, gallery_id).partition
    with storage_unavailable_as_503():
        try:
            row = _table(names.FACES).get_entity(
                partition, f"{person_id}:{face_id}", select=["userData", "erased"]
            )
        except ResourceNotFoundError:
            raise NotFound(f"Face '{face_id}' is not found.") from None
    if row.get("erased"):
        raise NotFound(f"Face '{face_id}' is not found.")
    return {"persistedFaceId": face_id, "userData": row.get("userData") or ""}


def update_face(
    customer_id: str, gallery_id: str, person_id: str, face_id: str, fields: dict[str, str]
) -> None:
    get_face(customer_id, gallery_id, person_id, face_id)  # not one being erased
    entity = {
        "PartitionKey": get_gallery(customer_id, gallery_id).partition,
        "RowKey": f"{person_id}:{face_id}",
        **fields,
    }
    _merge(names.FACES, entity, f"Face '{face_id}' is not found.")


# --- moving galleries between stores (shared/biometrics/transfer.py) -------------------------


def export_gallery(customer_id: str, gallery_id: str) -> transfer.GalleryExport:
    """Every person and live template of a gallery (persons being erased left out)."""
    gallery = get_gallery(customer_id, gallery_id)
    persons: dict[str, dict[str, Any]] = {}
    faces: dict[str, list[transfer.ExportedFace]] = {}
    with storage_unavailable_as_503():
        found = _table(names.FACES).query_entities(
            "PartitionKey eq @pk", parameters={"pk": gallery.partition}
        )
        for row in found:
            if row.get("kind") == PERSON and row.get("state", ACTIVE) == ACTIVE:
                persons[row["RowKey"]] = row
            elif row.get("kind") == FACE and not row.get("erased"):
                person_id, face_id = row["RowKey"].split(":", 1)
                faces.setdefault(person_id, []).append(
                    transfer.ExportedFace(
                        face_id,
                        templates.decode(row["template"]),
                        row.get("model", ""),
                        row.get("userData") or "",
                        row.get("quality") or "",
                        row.get("createdDateTime", ""),
                    )
                )
    return transfer.GalleryExport(
        customer_id,
        gallery_id,
        gallery.name,
        gallery.user_data,
        gallery.recognition_model,
        gallery.created,
        tuple(
            transfer.ExportedPerson(
                person_id,
                row.get("name", ""),
                row.get("userData") or "",
                row.get("createdDateTime", ""),
                tuple(faces.get(person_id, ())),
            )
            for person_id, row in sorted(persons.items())
        ),
    )


def import_gallery(customer_id: str, export: transfer.GalleryExport) -> None:
    """Write an exported gallery here with the same ids; Conflict if the id is taken.

    Persons and their faces go in transactions of at most 100 rows of the new gallery's
    partition (a person with its faces together while they fit in one), then the gallery's
    version is renewed so every instance's identify index loads them.
    """
    gallery = create_gallery(
        customer_id,
        export.gallery_id,
        export.name,
        export.user_data,
        export.recognition_model,
        created=export.created,
    )
    operations: list[tuple[str, dict[str, Any]]] = []
    with storage_unavailable_as_503():
        table = _table(names.FACES)
        for person in export.persons:
            rows_of_person: list[tuple[str, dict[str, Any]]] = [
                (
                    "create",
                    {
                        "PartitionKey": gallery.partition,
                        "RowKey": person.person_id,
                        "kind": PERSON,
                        "state": ACTIVE,
                        "faceCount": len(person.faces),
                        "name": person.name,
                        "userData": person.user_data,
                        "createdDateTime": person.created or _now(),
                    },
                )
            ]
            for face in person.faces:
                entity = face_entity(
                    gallery.partition, person.person_id, face.persisted_face_id, face.template,
                    face.model,
                )  # fmt: skip
                entity.update(userData=face.user_data, quality=face.quality)
                entity["createdDateTime"] = face.created or entity["createdDateTime"]
                rows_of_person.append(("create", entity))
            for row in rows_of_person:
                operations.append(row)
                if len(operations) == 100:
                    table.submit_transaction(operations)
                    operations = []
        if operations:
            table.submit_transaction(operations)
        _renew(customer_id, export.gallery_id, "version")


class TableStore:
    """The Table store as a backend object of the facade (its functions, unchanged)."""

    name = TABLE
    create_gallery = staticmethod(create_gallery)
    get_gallery = staticmethod(get_gallery)
    list_galleries = staticmethod(list_galleries)
    all_galleries = staticmethod(all_galleries)
    delete_gallery = staticmethod(delete_gallery)
    mark_changed = staticmethod(mark_changed)
    create_person = staticmethod(create_person)
    get_person = staticmethod(get_person)
    list_persons = staticmethod(list_persons)
    delete_person = staticmethod(delete_person)
    add_face = staticmethod(add_face)
    delete_face = staticmethod(delete_face)
    stored_rows = staticmethod(stored_rows)
    update_gallery = staticmethod(update_gallery)
    update_person = staticmethod(update_person)
    get_face = staticmethod(get_face)
    update_face = staticmethod(update_face)
    export_gallery = staticmethod(export_gallery)
    import_gallery = staticmethod(import_gallery)

    @staticmethod
    def cohort(gallery: Gallery) -> Searchable:
        """The gallery's in-memory index, fresh, as a normalisation cohort."""
        from shared.biometrics.index import INDEXES

        return INDEXES.fresh(gallery).cohort(gallery.recognition_model)

    @staticmethod
    def forget(customer_id: str, gallery_id: str | None = None) -> None:
        """Drop this process's index of a gallery (or of every gallery of the customer)."""
        from shared.biometrics.index import INDEXES

        INDEXES.forget(customer_id, gallery_id)

    @staticmethod
    def erase_orphans(customer_id: str) -> int:
        """Person and face rows left in face partitions that no gallery refers to (none
        should exist; this makes sure). Head rows hold nothing personal and may belong to
        a gallery being created right now, so they stay."""
        live = {gallery.partition for gallery in all_galleries(customer_id)}
        orphans = [
            (row["PartitionKey"], row["RowKey"])
            for row in stored_rows(customer_id)
            if row["PartitionKey"] not in live and row.get("kind") != "gallery"
        ]
        with storage_unavailable_as_503():
            return rows.delete_rows(_table(names.FACES), orphans)


TABLE_STORE = TableStore()
