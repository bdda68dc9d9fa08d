"""The PostgreSQL gallery store: galleries, persons and faces in three tables (schema.sql).

Why erasure is final here under any concurrency: every write that changes a gallery's
templates is one transaction that first takes the gallery row (``UPDATE galleries ...
version = version + 1``), so enrolments and erasures of one gallery are serialised on it
and always lock in the same order (gallery, then person, then face: no deadlocks).

- A gallery erasure deletes the gallery row; persons and faces go with it (ON DELETE
  CASCADE), in the same transaction. An enrolment waiting on the row finds it gone and
  answers NotFound; a person created concurrently fails its foreign key (NotFound), or
  is deleted by the cascade if it committed first.
- An enrolment increments its person's ``face_count`` only while it is below 248
  (a conditional update on the locked person row), so the limit holds under any
  concurrency; the gallery's ``version``, ``face_count`` and ``person_count`` change in
  the same transaction as the faces.
- A re-created galleryId is a new ``gallery_key``: nothing of the old one can be read.
- Searches read the committed rows, so a search that starts after a delete answered
  never sees an erased template.

A failure to reach the database is a 503 (``connection.Database``); a transaction that
breaks off is rolled back, so nothing is ever half-written.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import psycopg
from psycopg.rows import dict_row

from shared.biometrics import templates, transfer
from shared.biometrics.postgres.connection import DATABASE, Database
from shared.biometrics.postgres.search import PgCohort, ensure_index
from shared.biometrics.records import (
    ACTIVE,
    MAX_FACES_PER_PERSON,
    MAX_PAGE,
    POSTGRES,
    Gallery,
    Person,
    iso,
    partition,
)
from shared.errors import BadArgument, Conflict, NotFound
from shared.identifiers import new_id
from shared.matching import Searchable

_SELECT_GALLERY = (
    "SELECT gallery_key, customer_id, gallery_id, name, user_data, recognition_model, created,"
    " version, person_count, face_count FROM galleries WHERE customer_id = %s"
)
# a person with the ids of its faces (in id order)
_SELECT_PERSONS = """SELECT p.person_id, p.name, p.user_data,
        array(SELECT f.face_id FROM faces f
              WHERE f.gallery_key = p.gallery_key AND f.person_id = p.person_id
              ORDER BY f.face_id) AS face_ids
    FROM persons p WHERE p.gallery_key = %s AND p.customer_id = %s"""


def _gallery_missing(gallery_id: str) -> NotFound:
    return NotFound(f"Gallery '{gallery_id}' is not found.")


def _person_missing(person_id: str) -> NotFound:
    return NotFound(f"Person '{person_id}' is not found.")


def _gallery_from(row: dict[str, Any]) -> Gallery:
    version = str(row["version"])
    return Gallery(
        customer_id=row["customer_id"],
        gallery_id=row["gallery_id"],
        name=row["name"],
        user_data=row["user_data"],
        recognition_model=row["recognition_model"],
        created=iso(row["created"]),
        version=version,
        epoch=version,  # every change of templates is a new version here
        generation=str(row["gallery_key"]),
        state=ACTIVE,
        store=POSTGRES,
        person_count=int(row["person_count"]),
        face_count=int(row["face_count"]),
    )


def _array(embedding: Any) -> np.ndarray:
    """A stored embedding (pgvector's Vector) as float32: the exact values enrolled."""
    return np.array(embedding.to_numpy(), np.float32)


def _created(text: str) -> dt.datetime:
    """A creation time from an export (ISO 8601), or now when it has none."""
    if not text:
        return dt.datetime.now(dt.UTC)
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


class PostgresStore:
    """Galleries of the customers whose store is ``postgres``; the same calls as the facade."""

    name = POSTGRES

    def __init__(self, database: Database = DATABASE) -> None:
        self.database = database
        self._indexed: set[tuple[str, int]] = set()  # (model, dimension) with an HNSW index

    def _ensure_index(self, model: str, dimension: int) -> None:
        """The model's approximate-search index exists (search.ensure_index), checked once
        per process and model, before the first template of that model is written."""
        if (model, dimension) in self._indexed:
            return
        with self.database.connection() as connection:
            ensure_index(connection, model, dimension)
        self._indexed.add((model, dimension))

    @contextmanager
    def _cursor(self, *, transaction: bool = False) -> Iterator[psycopg.Cursor]:
        with self.database.connection() as connection:
            if transaction:
                with connection.transaction(), connection.cursor(row_factory=dict_row) as cur:
                    yield cur
            else:
                with connection.cursor(row_factory=dict_row) as cur:
                    yield cur

    # --- galleries ------------------------------------------------------------------------

    def create_gallery(
        self,
        customer_id: str,
        gallery_id: str,
        name: str,
        user_data: str,
        recognition_model: str,
        *,
        created: str = "",
    ) -> Gallery:
        """Create a gallery (a new gallery_key); Conflict if the customer has one of this id."""
        with self._cursor() as cur:
            row = cur.execute(
                """INSERT INTO galleries
                        (customer_id, gallery_id, name, user_data, recognition_model, created)
                    VALUES (%s, %s, %s, %s, %s, %s)
                    ON CONFLICT (customer_id, gallery_id) DO NOTHING
                    RETURNING gallery_key, customer_id, gallery_id, name, user_data,
                        recognition_model, created, version, person_count, face_count""",
                (customer_id, gallery_id, name, user_data, recognition_model, _created(created)),
            ).fetchone()
        if row is None:
            raise Conflict(f"Gallery '{gallery_id}' already exists.")
        return _gallery_from(row)

    def get_gallery(self, customer_id: str, gallery_id: str) -> Gallery:
        with self._cursor() as cur:
            row = cur.execute(
                _SELECT_GALLERY + " AND gallery_id = %s",
                (customer_id, gallery_id),
            ).fetchone()
        if row is None:
            raise _gallery_missing(gallery_id)
        return _gallery_from(row)

    def list_galleries(self, customer_id: str, start: str = "", top: int = MAX_PAGE) -> list:
        """Galleries whose id sorts after ``start``, in id order, at most ``top``."""
        with self._cursor() as cur:
            rows = cur.execute(
                _SELECT_GALLERY + " AND gallery_id > %s ORDER BY gallery_id LIMIT %s",
                (customer_id, start, max(0, min(top, MAX_PAGE))),
            ).fetchall()
        return [_gallery_from(row) for row in rows]

    def all_galleries(self, customer_id: str) -> list[Gallery]:
        with self._cursor() as cur:
            rows = cur.execute(
                _SELECT_GALLERY + " ORDER BY gallery_id",
                (customer_id,),
            ).fetchall()
        return [_gallery_from(row) for row in rows]

    def delete_gallery(self, customer_id: str, gallery_id: str) -> None:
        """Erase a gallery with every person and template in it (one transaction)."""
        with self._cursor(transaction=True) as cur:
            row = cur.execute(
                "DELETE FROM galleries WHERE customer_id = %s AND gallery_id = %s"
                " RETURNING gallery_key",
                (customer_id, gallery_id),
            ).fetchone()
            if row is None:
                raise _gallery_missing(gallery_id)

    def mark_changed(self, gallery: Gallery) -> None:
        """After faces were written in bulk (benchmarks): recount and announce them."""
        with self._cursor(transaction=True) as cur:
            cur.execute(
                """UPDATE galleries g SET version = version + 1,
                       face_count = (SELECT count(*) FROM faces f
                                     WHERE f.gallery_key = g.gallery_key),
                       person_count = (SELECT count(DISTINCT person_id) FROM faces f
                                       WHERE f.gallery_key = g.gallery_key)
                   WHERE gallery_key = %s AND customer_id = %s""",
                (int(gallery.generation), gallery.customer_id),
            )

    def _lock_gallery(self, cur: psycopg.Cursor, customer_id: str, gallery_id: str) -> dict:
        """Take the gallery row for this transaction (version + 1); NotFound if it is gone."""
        row = cur.execute(
            "UPDATE galleries SET version = version + 1"
            " WHERE customer_id = %s AND gallery_id = %s"
            " RETURNING gallery_key, recognition_model",
            (customer_id, gallery_id),
        ).fetchone()
        if row is None:
            raise _gallery_missing(gallery_id)
        return row

    @staticmethod
    def _count(cur: psycopg.Cursor, gallery_key: int, faces: int, persons: int) -> None:
        cur.execute(
            "UPDATE galleries SET face_count = face_count + %s,"
            " person_count = person_count + %s WHERE gallery_key = %s",
            (faces, persons, gallery_key),
        )

    # --- persons --------------------------------------------------------------------------

    def create_person(self, customer_id: str, gallery_id: str, name: str, user_data: str):
        gallery = self.get_gallery(customer_id, gallery_id)
        person_id = new_id()
        try:
            with self._cursor() as cur:
                cur.execute(
                    "INSERT INTO persons (gallery_key, person_id, customer_id, name, user_data)"
                    " VALUES (%s, %s, %s, %s, %s)",
                    (int(gallery.generation), person_id, customer_id, name, user_data),
                )
        except psycopg.errors.ForeignKeyViolation:  # the gallery was erased meanwhile
            raise _gallery_missing(gallery_id) from None
        return Person(person_id, name, user_data, ())

    def get_person(self, customer_id: str, gallery_id: str, person_id: str) -> Person:
        gallery = self.get_gallery(customer_id, gallery_id)
        persons = self._persons(gallery, " AND p.person_id = %s", person_id, 1)
        if not persons:
            raise _person_missing(person_id)
        return persons[0]

    def _persons(self, gallery: Gallery, condition: str, value: str, top: int) -> list[Person]:
        """Persons of the gallery matching ``condition`` (one of two fixed SQL fragments)."""
        with self._cursor() as cur:
            rows = cur.execute(
                _SELECT_PERSONS + condition + " LIMIT %s",
                (int(gallery.generation), gallery.customer_id, value, top),
            ).fetchall()
        return [
            Person(r["person_id"], r["name"], r["user_data"], tuple(r["face_ids"])) for r in rows
        ]

    def list_persons(
        self, customer_id: str, gallery_id: str, start: str = "", top: int = MAX_PAGE
    ) -> list[Person]:
        gallery = self.get_gallery(customer_id, gallery_id)
        top = max(0, min(top, MAX_PAGE))
        return self._persons(gallery, " AND p.person_id > %s ORDER BY p.person_id", start, top)

    def delete_person(self, customer_id: str, gallery_id: str, person_id: str) -> int:
        """Erase a person and every template of theirs; returns how many faces were erased."""
        with self._cursor(transaction=True) as cur:
            key = self._lock_gallery(cur, customer_id, gallery_id)["gallery_key"]
            erased = len(
                cur.execute(
                    "DELETE FROM faces WHERE gallery_key = %s AND person_id = %s"
                    " AND customer_id = %s RETURNING face_id",
                    (key, person_id, customer_id),
                ).fetchall()
            )
            gone = cur.execute(
                "DELETE FROM persons WHERE gallery_key = %s AND person_id = %s"
                " AND customer_id = %s RETURNING person_id",
                (key, person_id, customer_id),
            ).fetchone()
            if gone is None:
                raise _person_missing(person_id)  # rolls the version back too
            self._count(cur, key, -erased, -1 if erased else 0)
        return erased

    # --- faces ----------------------------------------------------------------------------

    def add_face(
        self,
        customer_id: str,
        gallery_id: str,
        person_id: str,
        template: np.ndarray,
        model: str,
        user_data: str,
        quality: str,
    ) -> str:
        """Store one template for a person; NotFound when the person or gallery is gone,
        BadArgument at the face limit, Conflict for another model's template."""
        face_id = new_id()
        vector = np.asarray(template, np.float32).ravel()
        self._ensure_index(model, len(vector))
        with self._cursor(transaction=True) as cur:
            gallery = self._lock_gallery(cur, customer_id, gallery_id)
            templates.require_same_model(gallery["recognition_model"], model)
            key = gallery["gallery_key"]
            counted = cur.execute(
                "UPDATE persons SET face_count = face_count + 1"
                " WHERE gallery_key = %s AND person_id = %s AND customer_id = %s"
                " AND face_count < %s RETURNING face_count",
                (key, person_id, customer_id, MAX_FACES_PER_PERSON),
            ).fetchone()
            if counted is None:
                exists = cur.execute(
                    "SELECT 1 FROM persons WHERE gallery_key = %s AND person_id = %s"
                    " AND customer_id = %s",
                    (key, person_id, customer_id),
                ).fetchone()
                if exists is None:
                    raise _person_missing(person_id)
                raise BadArgument(f"A person can have at most {MAX_FACES_PER_PERSON} faces.")
            cur.execute(
                "INSERT INTO faces (gallery_key, person_id, face_id, customer_id, model,"
                " embedding, user_data, quality) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
                (key, person_id, face_id, customer_id, model, vector, user_data, quality),
            )
            self._count(cur, key, 1, 1 if counted["face_count"] == 1 else 0)
        return face_id

    def delete_face(self, customer_id: str, gallery_id: str, person_id: str, face_id: str):
        with self._cursor(transaction=True) as cur:
            key = self._lock_gallery(cur, customer_id, gallery_id)["gallery_key"]
            gone = cur.execute(
                "DELETE FROM faces WHERE gallery_key = %s AND person_id = %s AND face_id = %s"
                " AND customer_id = %s RETURNING face_id",
                (key, person_id, face_id, customer_id),
            ).fetchone()
            if gone is None:
                raise NotFound(f"Face '{face_id}' is not found.")
            left = cur.execute(
                "UPDATE persons SET face_count = face_count - 1"
                " WHERE gallery_key = %s AND person_id = %s RETURNING face_count",
                (key, person_id),
            ).fetchone()
            self._count(cur, key, -1, -1 if left and left["face_count"] == 0 else 0)

    def stored_rows(self, customer_id: str, gallery_id: str = "") -> list[dict[str, Any]]:
        """Every row of the customer (of one galleryId, when given), keyed like the Table
        store's: a ``gallery`` row per gallery, then its ``person`` and ``face`` rows."""
        with self._cursor() as cur:
            rows = cur.execute(
                """SELECT g.gallery_id, g.gallery_key, 'gallery' AS kind, '' AS person_id,
                          '' AS face_id
                   FROM galleries g WHERE g.customer_id = %(c)s
                   UNION ALL
                   SELECT g.gallery_id, p.gallery_key, 'person', p.person_id, ''
                   FROM persons p LEFT JOIN galleries g USING (gallery_key)
                   WHERE p.customer_id = %(c)s
                   UNION ALL
                   SELECT g.gallery_id, f.gallery_key, 'face', f.person_id, f.face_id
                   FROM faces f LEFT JOIN galleries g USING (gallery_key)
                   WHERE f.customer_id = %(c)s""",
                {"c": customer_id},
            ).fetchall()
        found = []
        for row in rows:
            if gallery_id and row["gallery_id"] != gallery_id:
                continue
            key = {"gallery": "~gallery", "person": row["person_id"]}.get(
                row["kind"], f"{row['person_id']}:{row['face_id']}"
            )
            found.append(
                {
                    "PartitionKey": partition(
                        customer_id, row["gallery_id"] or "", str(row["gallery_key"])
                    ),
                    "RowKey": key,
                    "kind": row["kind"],
                }
            )
        return sorted(found, key=lambda r: (r["PartitionKey"], r["RowKey"]))

    def erase_orphans(self, customer_id: str) -> int:
        """Persons and faces of the customer outside any gallery (the foreign keys make
        them impossible; this makes sure)."""
        with self._cursor(transaction=True) as cur:
            faces = cur.execute(
                "DELETE FROM faces f WHERE customer_id = %s AND NOT EXISTS"
                " (SELECT 1 FROM galleries g WHERE g.gallery_key = f.gallery_key"
                " AND g.customer_id = f.customer_id)",
                (customer_id,),
            ).rowcount
            persons = cur.execute(
                "DELETE FROM persons p WHERE customer_id = %s AND NOT EXISTS"
                " (SELECT 1 FROM galleries g WHERE g.gallery_key = p.gallery_key"
                " AND g.customer_id = p.customer_id)",
                (customer_id,),
            ).rowcount
        return faces + persons

    # --- edits (Azure's PATCH routes): never a template -----------------------------------

    def update_gallery(self, customer_id: str, gallery_id: str, fields: dict[str, str]) -> None:
        with self._cursor() as cur:
            found = cur.execute(
                "UPDATE galleries SET name = coalesce(%s, name),"
                " user_data = coalesce(%s, user_data)"
                " WHERE customer_id = %s AND gallery_id = %s RETURNING gallery_key",
                (fields.get("name"), fields.get("userData"), customer_id, gallery_id),
            ).fetchone()
        if found is None:
            raise _gallery_missing(gallery_id)

    def update_person(
        self, customer_id: str, gallery_id: str, person_id: str, fields: dict[str, str]
    ) -> None:
        gallery = self.get_gallery(customer_id, gallery_id)
        with self._cursor() as cur:
            found = cur.execute(
                "UPDATE persons SET name = coalesce(%s, name),"
                " user_data = coalesce(%s, user_data)"
                " WHERE gallery_key = %s AND person_id = %s AND customer_id = %s"
                " RETURNING person_id",
                (
                    fields.get("name"),
                    fields.get("userData"),
                    int(gallery.generation),
                    person_id,
                    customer_id,
                ),
            ).fetchone()
        if found is None:
            raise _person_missing(person_id)

    def get_face(
        self, customer_id: str, gallery_id: str, person_id: str, face_id: str
    ) -> dict[str, str]:
        self.get_person(customer_id, gallery_id, person_id)
        gallery = self.get_gallery(customer_id, gallery_id)
        with self._cursor() as cur:
            row = cur.execute(
                "SELECT user_data FROM faces WHERE gallery_key = %s AND person_id = %s"
                " AND face_id = %s AND customer_id = %s",
                (int(gallery.generation), person_id, face_id, customer_id),
            ).fetchone()
        if row is None:
            raise NotFound(f"Face '{face_id}' is not found.")
        return {"persistedFaceId": face_id, "userData": row["user_data"]}

    def update_face(
        self,
        customer_id: str,
        gallery_id: str,
        person_id: str,
        face_id: str,
        fields: dict[str, str],
    ) -> None:
        self.get_face(customer_id, gallery_id, person_id, face_id)
        gallery = self.get_gallery(customer_id, gallery_id)
        with self._cursor() as cur:
            found = cur.execute(
                "UPDATE faces SET user_data = coalesce(%s, user_data)"
                " WHERE gallery_key = %s AND person_id = %s AND face_id = %s"
                " AND customer_id = %s RETURNING face_id",
                (fields.get("userData"), int(gallery.generation), person_id, face_id, customer_id),
            ).fetchone()
        if found is None:
            raise NotFound(f"Face '{face_id}' is not found.")

    # --- moving galleries between stores (shared/biometrics/transfer.py) -------------------

    def export_gallery(self, customer_id: str, gallery_id: str) -> transfer.GalleryExport:
        """Every person and template of a gallery, read in one snapshot."""
        with self.database.connection() as connection, connection.transaction():
            connection.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            with connection.cursor(row_factory=dict_row) as cur:
                gallery = cur.execute(
                    _SELECT_GALLERY + " AND gallery_id = %s",
                    (customer_id, gallery_id),
                ).fetchone()
                if gallery is None:
                    raise _gallery_missing(gallery_id)
                key = gallery["gallery_key"]
                persons = cur.execute(
                    "SELECT person_id, name, user_data, created FROM persons"
                    " WHERE gallery_key = %s AND customer_id = %s ORDER BY person_id",
                    (key, customer_id),
                ).fetchall()
                faces: dict[str, list[transfer.ExportedFace]] = {}
                cur.execute(
                    "SELECT person_id, face_id, model, embedding, user_data, quality,"
                    " created FROM faces WHERE gallery_key = %s AND customer_id = %s"
                    " ORDER BY person_id, face_id",
                    (key, customer_id),
                )
                for row in cur:
                    faces.setdefault(row["person_id"], []).append(
                        transfer.ExportedFace(
                            row["face_id"],
                            _array(row["embedding"]),
                            row["model"],
                            row["user_data"],
                            row["quality"],
                            iso(row["created"]),
                        )
                    )
        return transfer.GalleryExport(
            customer_id,
            gallery_id,
            gallery["name"],
            gallery["user_data"],
            gallery["recognition_model"],
            iso(gallery["created"]),
            tuple(
                transfer.ExportedPerson(
                    p["person_id"],
                    p["name"],
                    p["user_data"],
                    iso(p["created"]),
                    tuple(faces.get(p["person_id"], ())),
                )
                for p in persons
            ),
        )

    def import_gallery(self, customer_id: str, export: transfer.GalleryExport) -> None:
        """Write an exported gallery with the same ids, all in one transaction (nothing of
        it is visible until every row is in); Conflict if the galleryId exists here."""
        for model, dimension in {
            (f.model, int(np.asarray(f.template).size)) for p in export.persons for f in p.faces
        }:
            self._ensure_index(model, dimension)
        with self._cursor(transaction=True) as cur:
            row = cur.execute(
                """INSERT INTO galleries (customer_id, gallery_id, name, user_data,
                       recognition_model, created, face_count, person_count)
                   VALUES (%s, %s, %s, %s, %s, %s, %s, %s)
                   ON CONFLICT (customer_id, gallery_id) DO NOTHING RETURNING gallery_key""",
                (
                    customer_id,
                    export.gallery_id,
                    export.name,
                    export.user_data,
                    export.recognition_model,
                    _created(export.created),
                    export.face_count,
                    sum(1 for p in export.persons if p.faces),
                ),
            ).fetchone()
            if row is None:
                raise Conflict(f"Gallery '{export.gallery_id}' already exists.")
            key = row["gallery_key"]
            cur.executemany(
                "INSERT INTO persons (gallery_key, person_id, customer_id, name, user_data,"
                " face_count, created) VALUES (%s, %s, %s, %s, %s, %s, %s)",
                [
                    (
                        key,
                        p.person_id,
                        customer_id,
                        p.name,
                        p.user_data,
                        len(p.faces),
                        _created(p.created),
                    )
                    for p in export.persons
                ],
            )
            columns = (
                "gallery_key, person_id, face_id, customer_id, model, embedding, user_data,"
                " quality, created"
            )
            with cur.copy(f"COPY faces ({columns}) FROM STDIN") as copy:
                for person in export.persons:
                    for face in person.faces:
                        copy.write_row(
                            (
                                key,
                                person.person_id,
                                face.persisted_face_id,
                                customer_id,
                                face.model,
                                np.asarray(face.template, np.float32).ravel(),
                                face.user_data,
                                face.quality,
                                _created(face.created),
                            )
                        )

    # --- search ---------------------------------------------------------------------------

    def cohort(self, gallery: Gallery) -> Searchable:
        """The gallery as a normalisation cohort, searched in the database (PgCohort), at the
        version and counts read with the gallery (its faces are queried live: an erasure that
        answered before the search began is never matched)."""
        return PgCohort(
            self.database,
            int(gallery.generation),
            gallery.customer_id,
            gallery.recognition_model,
            int(gallery.version),
            gallery.person_count,
            gallery.face_count,
        )

    def forget(self, customer_id: str, gallery_id: str | None = None) -> None:
        """Nothing of a gallery is kept between searches that a delete must drop."""


POSTGRES_STORE = PostgresStore()
