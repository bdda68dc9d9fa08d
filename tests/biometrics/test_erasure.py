"""Erasure in Azurite, in process: resumed after a crash, final under concurrent threads,
the face limit under concurrency, paging, per-customer index bounds, operator erasure.

The same races over real HTTP, on one dev host and on two, are in tests/e2e/test_erasure.py.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest
from azure.data.tables import UpdateMode

from shared.biometrics import faceids, store, table_store
from shared.biometrics.index import IndexCache
from shared.errors import BadArgument, Conflict, FaceGateError, NotFound
from shared.policy import audit_rows
from shared.service import erasure
from shared.storage import clients, names, rows
from tests.biometrics.test_store_and_index import MODEL, make_gallery, unit
from tools.dev.azurite import ROOT

ROUNDS = int(os.environ.get("FACEGATE_ERASURE_ROUNDS", "4"))


@pytest.fixture
def customer(azurite) -> str:
    return f"c{uuid.uuid4().hex[:12]}"


def faces_table():
    return clients.table_service().get_table_client(names.FACES)


def rows_of(customer: str) -> list[dict]:
    """Every row of every face partition of the customer (head rows included)."""
    return store.stored_rows(customer)


def biometric_rows(customer: str) -> list[str]:
    return [r["RowKey"] for r in rows_of(customer) if r.get("kind") != "gallery"]


def outcome(work: Callable[[], object]) -> str:
    """What a racing call ended with: "ok" or the error code (anything else is re-raised)."""
    try:
        work()
        return "ok"
    except FaceGateError as error:
        return error.code


def race(
    *calls: Callable[[], object], late: int = 0, rng: random.Random | None = None
) -> list[str]:
    """Run the calls at once (released together by a barrier); their outcomes in order.

    The last ``late`` calls start after a random pause of up to 50 ms, so some of the
    others commit before them and some after, a different interleaving every round.
    """
    barrier = threading.Barrier(len(calls))
    pauses = [0.0] * (len(calls) - late) + [(rng or random).uniform(0, 0.05) for _ in range(late)]

    def run(call: Callable[[], object], pause: float) -> str:
        barrier.wait()
        time.sleep(pause)
        return outcome(call)

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(run, calls, pauses))


def enrol(customer: str, person: str, seed: int, gallery: str = "staff") -> Callable[[], str]:
    return lambda: store.add_face(customer, gallery, person, unit(seed), MODEL, "", "high")


# --- resumed after a crash ----------------------------------------------------------------


def test_a_person_erasure_that_broke_off_is_finished_by_repeating_it(customer):
    make_gallery(customer)
    ada = store.create_person(customer, "staff", "Ada", "").person_id
    for seed in range(3):
        store.add_face(customer, "staff", ada, unit(seed), MODEL, "", "high")
    gallery = store.get_gallery(customer, "staff")
    first = store.get_person(customer, "staff", ada).persisted_face_ids[0]
    # the crash: marked, one face deleted, then nothing
    table_store._mark_erasing(faces_table(), gallery.partition, ada)
    faces_table().delete_entity(gallery.partition, f"{ada}:{first}")
    with pytest.raises(NotFound):
        store.get_person(customer, "staff", ada)
    with pytest.raises(NotFound):  # no enrolment into a person being erased
        enrol(customer, ada, 9)()
    assert store.delete_person(customer, "staff", ada) == 2
    assert biometric_rows(customer) == []
    with pytest.raises(NotFound):
        store.delete_person(customer, "staff", ada)


def test_a_face_erasure_that_broke_off_is_finished_and_never_matched(customer):
    make_gallery(customer)
    ada = store.create_person(customer, "staff", "Ada", "").person_id
    face = store.add_face(customer, "staff", ada, unit(1), MODEL, "", "high")
    cache = IndexCache()
    assert len(cache.fresh(store.get_gallery(customer, "staff"))) == 1
    gallery = store.get_gallery(customer, "staff")
    faces_table().update_entity(  # the crash: marked erased, epoch not renewed, row kept
        {"PartitionKey": gallery.partition, "RowKey": f"{ada}:{face}", "erased": True},
        mode=UpdateMode.MERGE,
    )
    store.mark_changed(gallery)  # any later enrolment makes the index read the mark
    assert cache.fresh(store.get_gallery(customer, "staff")).search(unit(1), MODEL, 0.5, 5) == []
    assert store.get_person(customer, "staff", ada).persisted_face_ids == ()
    store.delete_face(customer, "staff", ada, face)
    assert biometric_rows(customer) == [ada]
    with pytest.raises(NotFound):
        store.delete_face(customer, "staff", ada, face)


def test_a_gallery_erasure_that_broke_off_is_finished_and_the_id_reused_empty(customer):
    make_gallery(customer)
    ada = store.create_person(customer, "staff", "Ada", "").person_id
    store.add_face(customer, "staff", ada, unit(1), MODEL, "", "high")
    gallery = store.get_gallery(customer, "staff")
    clients.table_service().get_table_client(names.GALLERIES).update_entity(
        {"PartitionKey": customer, "RowKey": "staff", "state": store.ERASING}, mode=UpdateMode.MERGE
    )
    faces_table().delete_entity(gallery.partition, store.HEAD)  # the crash
    with pytest.raises(NotFound):
        store.get_gallery(customer, "staff")
    with pytest.raises(NotFound):
        store.create_person(customer, "staff", "Bob", "")
    with pytest.raises(Conflict):
        make_gallery(customer)
    assert store.list_galleries(customer) == []
    store.delete_gallery(customer, "staff")
    assert rows_of(customer) == []
    make_gallery(customer)
    assert store.list_persons(customer, "staff") == []
    assert len(IndexCache().fresh(store.get_gallery(customer, "staff"))) == 0


# --- final under concurrency (threads, real Azurite) --------------------------------------


@pytest.mark.parametrize("round_", range(ROUNDS))
def test_enrolments_racing_a_person_erasure_leave_no_template(customer, round_):
    make_gallery(customer)
    ada = store.create_person(customer, "staff", "Ada", "").person_id
    store.add_face(customer, "staff", ada, unit(0), MODEL, "", "high")
    bob = store.create_person(customer, "staff", "Bob", "").person_id
    store.add_face(customer, "staff", bob, unit(100), MODEL, "", "high")
    cache = IndexCache()
    assert [
        m.person_id
        for m in cache.fresh(store.get_gallery(customer, "staff")).search(unit(0), MODEL, 0.5, 5)
    ] == [ada]
    erase = lambda: store.delete_person(customer, "staff", ada)  # noqa: E731
    outcomes = race(*(enrol(customer, ada, s) for s in range(1, 7)), erase, erase, late=2)
    assert set(outcomes[:6]) <= {"ok", "NotFound"}
    assert "ok" in outcomes[6:] and set(outcomes[6:]) <= {"ok", "NotFound"}
    assert biometric_rows(customer) == [
        bob,
        f"{bob}:{store.get_person(customer, 'staff', bob).persisted_face_ids[0]}",
    ]
    index = cache.fresh(store.get_gallery(customer, "staff"))
    for seed in range(7):
        assert ada not in [m.person_id for m in index.search(unit(seed), MODEL, 0.0, 5)]
    assert [m.person_id for m in index.search(unit(100), MODEL, 0.5, 5)] == [bob]


@pytest.mark.parametrize("round_", range(ROUNDS))
def test_creations_racing_a_gallery_erasure_leave_nothing_and_a_new_gallery_is_empty(
    customer, round_
):
    make_gallery(customer)
    persons = [store.create_person(customer, "staff", f"p{i}", "").person_id for i in range(3)]
    create = lambda: store.create_person(customer, "staff", "late", "")  # noqa: E731
    erase = lambda: store.delete_gallery(customer, "staff")  # noqa: E731
    drop = lambda: store.delete_person(customer, "staff", persons[2])  # noqa: E731
    calls = [enrol(customer, p, i) for i, p in enumerate(persons)]
    outcomes = race(*calls, create, create, drop, erase, erase, late=2)
    assert set(outcomes) <= {"ok", "NotFound"}, outcomes
    assert "ok" in outcomes[-2:]
    assert rows_of(customer) == []
    make_gallery(customer)
    assert store.list_persons(customer, "staff") == []
    assert biometric_rows(customer) == []


# Twin face deletes racing enrolments and the person's erasure: tests/galleries/test_contract.py
# (test_twin_face_deletes_enrolments_and_the_person_erasure, on this store and PostgreSQL).


def test_the_face_limit_holds_under_concurrent_enrolments(customer):
    make_gallery(customer)
    ada = store.create_person(customer, "staff", "Ada", "").person_id
    gallery = store.get_gallery(customer, "staff")
    table = faces_table()
    filled = store.MAX_FACES_PER_PERSON - 6
    for start in range(0, filled, 100):  # fill in bulk, as the counter says
        batch = [
            ("create", store.face_entity(gallery.partition, ada, str(uuid.uuid4()), unit(i), MODEL))
            for i in range(start, min(filled, start + 100))
        ]
        table.submit_transaction(batch)
    table.update_entity(
        {"PartitionKey": gallery.partition, "RowKey": ada, "faceCount": filled},
        mode=UpdateMode.MERGE,
    )
    outcomes = Counter(race(*(enrol(customer, ada, 1000 + i) for i in range(16))))
    assert outcomes == {"ok": 6, "BadArgument": 10}
    assert len(store.get_person(customer, "staff", ada).persisted_face_ids) == 248
    with pytest.raises(BadArgument):
        enrol(customer, ada, 2000)()


# --- paging, index bounds -----------------------------------------------------------------


def test_persons_and_galleries_page_by_start_and_top(customer):
    make_gallery(customer)
    persons = sorted(
        store.create_person(customer, "staff", f"p{i}", "").person_id for i in range(5)
    )
    store.add_face(customer, "staff", persons[1], unit(1), MODEL, "", "high")
    seen, start = [], ""
    while page := store.list_persons(customer, "staff", start, 2):
        assert len(page) <= 2
        seen += page
        start = page[-1].person_id
    assert [p.person_id for p in seen] == persons
    assert [len(p.persisted_face_ids) for p in seen] == [0, 1, 0, 0, 0]
    for gallery in ("a", "b", "c"):
        make_gallery(customer, gallery)
    assert [g.gallery_id for g in store.list_galleries(customer, "", 2)] == ["a", "b"]
    assert [g.gallery_id for g in store.list_galleries(customer, "b", 2)] == ["c", "staff"]


def test_one_customer_cannot_evict_another_customers_index(azurite):
    victim, noisy = f"v{uuid.uuid4().hex[:10]}", f"n{uuid.uuid4().hex[:10]}"
    cache = IndexCache(per_customer=3)
    make_gallery(victim, "big")
    cache.fresh(store.get_gallery(victim, "big"))
    for i in range(8):
        make_gallery(noisy, f"g{i}")
        cache.fresh(store.get_gallery(noisy, f"g{i}"))
    assert cache.cached(victim) == ["big"]
    assert cache.cached(noisy) == ["g5", "g6", "g7"]  # only its own oldest went


# --- operator erasure ----------------------------------------------------------------------


def test_operator_erases_everything_of_a_customer_with_an_audit_row(customer):
    for gallery in ("a", "b"):
        make_gallery(customer, gallery)
        person = store.create_person(customer, gallery, "Ada", "").person_id
        store.add_face(customer, gallery, person, unit(1), MODEL, "", "high")
    faceids.save(customer, unit(2), MODEL)
    other = f"o{uuid.uuid4().hex[:10]}"
    make_gallery(other, "a")
    kept = store.create_person(other, "a", "Kept", "").person_id
    done = subprocess.run(
        [sys.executable, "-m", "tools.admin", "erase", "customer", "--customer", customer,
         "--actor", "alice@ops"],
        cwd=ROOT, env={**os.environ}, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert sorted(report["galleries"]) == ["a", "b"] and report["faceIds"] == 1
    assert rows_of(customer) == [] and store.all_galleries(customer) == []
    face_ids = clients.table_service().get_table_client(names.FACEIDS)
    assert list(face_ids.query_entities("PartitionKey eq @c", parameters={"c": customer})) == []
    assert store.get_person(other, "a", kept).person_id == kept  # nobody else's data
    trail = audit_rows(customer, dt.datetime.now(dt.UTC).date())
    assert [(r["action"], r["actor"], r["target"]) for r in trail] == [
        ("erase", "alice@ops", "all-biometrics")
    ]
    assert erasure.erase_customer_galleries(customer, "alice@ops")["galleries"] == []


def test_operator_erases_one_gallery(customer):
    make_gallery(customer, "a")
    make_gallery(customer, "b")
    store.create_person(customer, "a", "Ada", "")
    assert erasure.erase_gallery(customer, "a", "bob")["galleryId"] == "a"
    assert [g.gallery_id for g in store.list_galleries(customer)] == ["b"]
    with pytest.raises(NotFound):
        erasure.erase_gallery(customer, "a", "bob")
    with pytest.raises(BadArgument):
        erasure.erase_gallery(customer, "b", " ")
    assert [g.gallery_id for g in store.all_galleries(customer)] == ["b"]


def test_the_delete_path_and_marks_treat_rows_already_gone_as_done(customer):
    table = faces_table()
    partition = f"{customer}:rows:x"
    keys = [f"r{i:03d}" for i in range(150)]
    for start in (0, 100):
        table.submit_transaction(
            [
                ("create", {"PartitionKey": partition, "RowKey": k})
                for k in keys[start : start + 100]
            ]
        )
    table.delete_entity(partition, keys[7])  # erased meanwhile by someone else
    rows.mark_rows(table, partition, keys, {"state": "erasing"})
    found = list(table.query_entities("PartitionKey eq @p", parameters={"p": partition}))
    assert len(found) == 149 and {r["state"] for r in found} == {"erasing"}
    table.delete_entity(partition, keys[120])
    assert rows.delete_rows(table, ((partition, k) for k in keys)) == 150
    assert list(table.query_entities("PartitionKey eq @p", parameters={"p": partition})) == []
