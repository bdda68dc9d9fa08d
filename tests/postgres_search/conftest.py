"""The search tests' view of the session's real PostgreSQL with pgvector (tests/conftest.py):
a pool with the store's schema applied, a plain connection, and galleries written with
plain SQL; each test uses its own customers and galleries."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Iterator

import numpy as np
import psycopg
import pytest
from pgvector.psycopg import register_vector

from shared.biometrics.postgres.connection import Database
from shared.biometrics.postgres.search import TemplateStatsCache
from tools.dev.postgres import LocalPostgres


@pytest.fixture(scope="session")
def postgres_uri(postgres: LocalPostgres) -> str:
    return postgres.url


@pytest.fixture(scope="session")
def database(postgres_uri: str) -> Iterator[Database]:
    db = Database({"FACEGATE_POSTGRES_URL": postgres_uri, "FACEGATE_POSTGRES_POOL_SIZE": "2"})
    with db.connection():  # opens the pool, applies the schema
        pass
    yield db
    db.close()


@pytest.fixture
def connection(postgres_uri: str, database: Database) -> Iterator[psycopg.Connection]:
    with psycopg.connect(postgres_uri, autocommit=True) as conn:
        register_vector(conn)
        yield conn


@pytest.fixture
def cache() -> TemplateStatsCache:
    return TemplateStatsCache()


_keys = itertools.count()


class Galleries:
    """Writes galleries with plain SQL (schema.sql's columns), independent of any store."""

    def __init__(self, connection: psycopg.Connection) -> None:
        self.connection = connection

    def create(self, customer: str, model: str) -> int:
        row = self.connection.execute(
            "INSERT INTO galleries (customer_id, gallery_id, name, recognition_model)"
            " VALUES (%s, %s, 'test', %s) RETURNING gallery_key",
            [customer, f"g{next(_keys)}-{uuid.uuid4().hex[:8]}", model],
        ).fetchone()
        assert row is not None
        return int(row[0])

    def fill(
        self,
        customer: str,
        key: int,
        model: str,
        matrix: np.ndarray,
        persons: np.ndarray,
        faces: list[str] | None = None,
    ) -> list[str]:
        faces = faces or [str(uuid.uuid4()) for _ in range(len(matrix))]
        with self.connection.transaction(), self.connection.cursor() as cur:
            cur.executemany(
                "INSERT INTO persons (gallery_key, person_id, customer_id, name)"
                " VALUES (%s, %s, %s, 'p') ON CONFLICT DO NOTHING",
                [(key, str(p), customer) for p in dict.fromkeys(persons)],
            )
            with cur.copy(
                "COPY faces (gallery_key, person_id, face_id, customer_id, model, embedding)"
                " FROM STDIN WITH (FORMAT BINARY)"
            ) as copy:
                copy.set_types(["int8", "text", "text", "text", "text", "vector"])
                for row, person, face in zip(matrix, persons, faces, strict=True):
                    copy.write_row((key, str(person), face, customer, model, row))
            cur.execute(
                "UPDATE galleries SET version = version + 1,"
                " face_count = (SELECT count(*) FROM faces WHERE gallery_key = %(k)s),"
                " person_count = (SELECT count(DISTINCT person_id) FROM faces"
                "                 WHERE gallery_key = %(k)s) WHERE gallery_key = %(k)s",
                {"k": key},
            )
        return faces

    def counts(self, key: int) -> tuple[int, int, int]:
        """(version, person_count, face_count) of a gallery."""
        row = self.connection.execute(
            "SELECT version, person_count, face_count FROM galleries WHERE gallery_key = %s",
            [key],
        ).fetchone()
        assert row is not None
        return int(row[0]), int(row[1]), int(row[2])


@pytest.fixture
def galleries(connection: psycopg.Connection) -> Galleries:
    return Galleries(connection)
