"""A PostgreSQL gallery store that goes away: every call is a 503, nothing is analysed or
half-written, and once the server is back the data is exactly as before the outage.

Runs on a server of its own (stopped and restarted here), not the session's.
"""

from __future__ import annotations

import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from shared.biometrics import store
from shared.biometrics.postgres.connection import Database
from shared.biometrics.postgres.store import PostgresStore
from shared.errors import ServiceUnavailable
from shared.policy import context_from, registry
from shared.policy.context import Caller
from shared.service import engine, galleries
from tests.biometrics.test_store_and_index import MODEL
from tests.galleries.test_contract import face
from tests.support.apphost import wait_until
from tools.dev.postgres import LocalPostgres


@pytest.fixture
def server() -> Iterator[LocalPostgres]:
    directory = Path(tempfile.mkdtemp(prefix="facegate-pg-outage-"))  # see tests/conftest.py
    local = LocalPostgres(directory / "data").start()
    yield local
    local.close()
    shutil.rmtree(directory, ignore_errors=True)


def test_a_stopped_server_is_a_503_and_nothing_is_half_written(server):
    settings = {"FACEGATE_POSTGRES_URL": server.url, "FACEGATE_POSTGRES_POOL_SIZE": "2"}
    database = Database(settings, wait_seconds=1.0)
    pg = PostgresStore(database)
    customer = f"c{uuid.uuid4().hex[:12]}"
    try:
        pg.create_gallery(customer, "staff", "Staff", "", MODEL)
        ada = pg.create_person(customer, "staff", "Ada", "").person_id
        pg.add_face(customer, "staff", ada, face(1), MODEL, "", "high")
        before = pg.export_gallery(customer, "staff").digest()
        server.stop()
        for call in (
            lambda: pg.get_gallery(customer, "staff"),
            lambda: pg.create_person(customer, "staff", "Bob", ""),
            lambda: pg.add_face(customer, "staff", ada, face(2), MODEL, "", "high"),
            lambda: pg.delete_person(customer, "staff", ada),
            lambda: pg.cohort(pg.get_gallery(customer, "staff")),
        ):
            with pytest.raises(ServiceUnavailable):
                call()
        server.restart()
        wait_until(lambda: _answers(pg, customer), "the pool to reconnect", timeout=120)
        assert pg.export_gallery(customer, "staff").digest() == before
        assert [p.person_id for p in pg.list_persons(customer, "staff")] == [ada]
    finally:
        database.close()


def _answers(pg: PostgresStore, customer: str) -> bool:
    try:
        pg.get_gallery(customer, "staff")
        return True
    except ServiceUnavailable:  # as a client retrying after Retry-After would see
        return False


def test_enrolment_into_an_unreachable_store_analyses_nothing(new_customer, monkeypatch, tmp_path):
    customer_id = new_customer("postgres", actions=("enroll",))
    store.create_gallery(customer_id, "staff", "Staff", "", MODEL)
    person = store.create_person(customer_id, "staff", "Ada", "").person_id
    unreachable = f"postgresql://facegate@/facegate?host={tmp_path}/nowhere"
    monkeypatch.setattr(
        "shared.biometrics.postgres.store.POSTGRES_STORE.database",
        Database({"FACEGATE_POSTGRES_URL": unreachable}),
    )
    analysed: list[bytes] = []
    monkeypatch.setattr(engine, "analyzer", lambda: analysed.append(b"") or None)
    caller = Caller(
        registry.get_customer(customer_id), context_from(capture="photo", channel="http")
    )
    with pytest.raises(ServiceUnavailable):
        galleries.add_face(caller, "staff", person, b"not even an image", None)
    assert analysed == []
