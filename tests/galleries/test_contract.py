"""One contract for every gallery store: galleries, persons, enrolment, identify, verify,
erasure (also under concurrency, many rounds) and isolation, through the facade
``shared.biometrics.store``, run against the Table store (Azurite) and PostgreSQL.

Races: FACEGATE_ERASURE_ROUNDS rounds (default 4) of real threads on the real store.
"""

from __future__ import annotations

import os
import random
from collections import Counter

import numpy as np
import pytest

from shared.biometrics import store, transfer
from shared.errors import BadArgument, Conflict, NotFound
from shared.service import erasure, recognition
from tests.biometrics.test_erasure import race
from tests.biometrics.test_store_and_index import MODEL, unit

ROUNDS = int(os.environ.get("FACEGATE_ERASURE_ROUNDS", "4"))


def face(seed: int) -> np.ndarray:
    """A template of person ``seed``: as far from the others as real faces of different
    people are (random directions at half length), so identify has a real decision."""
    return 0.5 * unit(seed)


def make_gallery(customer: str, gallery: str = "staff") -> store.Gallery:
    return store.create_gallery(customer, gallery, "Staff", "", MODEL)


def person_with_faces(customer: str, seeds: list[int], gallery: str = "staff") -> str:
    person = store.create_person(customer, gallery, "p", "").person_id
    for seed in seeds:
        store.add_face(customer, gallery, person, face(seed), MODEL, "", "high")
    return person


def enrol(customer: str, person: str, seed: int, gallery: str = "staff"):
    return lambda: store.add_face(customer, gallery, person, face(seed), MODEL, "", "high")


def biometric_rows(customer: str, gallery: str = "") -> list[str]:
    """RowKeys of every person and face row the customer has left, in any state."""
    return sorted(
        r["RowKey"] for r in store.stored_rows(customer, gallery) if r.get("kind") != "gallery"
    )


def identify(customer: str, probe: np.ndarray, gallery: str = "staff", threshold=None):
    found = recognition.identify_templates(customer, gallery, [("probe", probe)], 10, threshold)
    return [c["personId"] for c in found[0]["candidates"]]


# --- galleries and persons ------------------------------------------------------------------


def test_galleries_live_in_the_customers_store(customer, store_name):
    assert make_gallery(customer).store == store_name
    assert store.get_gallery(customer, "staff").store == store_name
    with pytest.raises(Conflict):
        make_gallery(customer)


def test_gallery_lifecycle_paging_and_isolation(customer, other_customer):
    made = make_gallery(customer)
    assert made.to_json()["recognitionModel"] == MODEL
    make_gallery(other_customer)  # same id, another customer: independent
    for gallery in ("a", "b-1", "b_2", "c"):
        make_gallery(customer, gallery)
    listed = [g.gallery_id for g in store.list_galleries(customer)]
    assert listed == sorted(listed) == ["a", "b-1", "b_2", "c", "staff"]  # byte order
    assert [g.gallery_id for g in store.list_galleries(customer, "", 2)] == ["a", "b-1"]
    assert [g.gallery_id for g in store.list_galleries(customer, "b-1", 2)] == ["b_2", "c"]
    person = person_with_faces(customer, [1])
    face_id = store.get_person(customer, "staff", person).persisted_face_ids[0]
    # the other customer cannot see or touch any of it, even knowing the ids
    for call in (
        lambda: store.get_person(other_customer, "staff", person),
        lambda: store.delete_face(other_customer, "staff", person, face_id),
        lambda: store.delete_person(other_customer, "staff", person),
        lambda: store.get_gallery(other_customer, "a"),
        lambda: store.add_face(other_customer, "staff", person, face(2), MODEL, "", "high"),
    ):
        with pytest.raises(NotFound):
            call()
    assert store.list_persons(other_customer, "staff") == []
    assert identify(other_customer, face(1), threshold=0.0) == []
    store.delete_gallery(customer, "staff")
    with pytest.raises(NotFound):
        store.get_gallery(customer, "staff")
    with pytest.raises(NotFound):
        store.delete_gallery(customer, "staff")
    assert store.get_gallery(other_customer, "staff").gallery_id == "staff"


def test_persons_page_with_their_faces(customer):
    make_gallery(customer)
    persons = sorted(
        store.create_person(customer, "staff", f"p{i}", "").person_id for i in range(5)
    )
    faces = [
        store.add_face(customer, "staff", persons[1], face(s), MODEL, "", "high") for s in (1, 2)
    ]
    seen, start = [], ""
    while page := store.list_persons(customer, "staff", start, 2):
        assert len(page) <= 2
        seen += page
        start = page[-1].person_id
    assert [p.person_id for p in seen] == persons
    assert [sorted(p.persisted_face_ids) for p in seen][1] == sorted(faces)
    assert [len(p.persisted_face_ids) for p in seen] == [0, 2, 0, 0, 0]
    assert store.delete_person(customer, "staff", persons[1]) == 2
    with pytest.raises(NotFound):
        store.get_person(customer, "staff", persons[1])
    with pytest.raises(NotFound):
        store.delete_person(customer, "staff", persons[1])


def test_edits_change_names_and_user_data_never_templates(customer):
    from shared.biometrics import edits

    make_gallery(customer)
    person = person_with_faces(customer, [1])
    face_id = store.get_person(customer, "staff", person).persisted_face_ids[0]
    edits.update_gallery(customer, "staff", "Renamed", "gallery data")
    edits.update_person(customer, "staff", person, "Ada", None)
    edits.update_face(customer, "staff", person, face_id, "face data")
    gallery = store.get_gallery(customer, "staff")
    assert (gallery.name, gallery.user_data) == ("Renamed", "gallery data")
    assert store.get_person(customer, "staff", person).name == "Ada"
    assert edits.get_face(customer, "staff", person, face_id)["userData"] == "face data"
    assert identify(customer, face(1)) == [person]
    store.delete_face(customer, "staff", person, face_id)
    with pytest.raises(NotFound):
        edits.get_face(customer, "staff", person, face_id)
    with pytest.raises(NotFound):
        edits.update_face(customer, "staff", person, face_id, "x")


# --- enrolment ------------------------------------------------------------------------------


def test_a_template_of_another_model_is_refused(customer):
    make_gallery(customer)
    person = store.create_person(customer, "staff", "Ada", "").person_id
    with pytest.raises(Conflict) as raised:
        store.add_face(customer, "staff", person, face(1), "other-model", "", "high")
    assert raised.value.code == "RecognitionModelMismatch"
    assert biometric_rows(customer) == [person]


def test_the_face_limit_holds_under_concurrent_enrolments(customer):
    filled = store.MAX_FACES_PER_PERSON - 6
    person = "00000000-0000-4000-8000-000000000001"
    store.backend_of(customer).import_gallery(  # the person with 242 faces, in bulk
        customer,
        transfer.GalleryExport(
            customer, "staff", "Staff", "", MODEL, "",
            (transfer.ExportedPerson(person, "Ada", faces=tuple(
                transfer.ExportedFace(f"00000000-0000-4000-9000-{i:012d}", face(i), MODEL)
                for i in range(filled)
            )),),
        ),
    )  # fmt: skip
    outcomes = Counter(race(*(enrol(customer, person, 1000 + i) for i in range(16))))
    assert outcomes == {"ok": 6, "BadArgument": 10}
    assert len(store.get_person(customer, "staff", person).persisted_face_ids) == 248
    with pytest.raises(BadArgument):
        enrol(customer, person, 2000)()
    assert store.delete_person(customer, "staff", person) == 248
    assert biometric_rows(customer) == []


# --- identify and verify --------------------------------------------------------------------


def test_identify_and_verify_find_the_enrolled_person_and_nobody_else(customer):
    make_gallery(customer)
    ada = person_with_faces(customer, [1])
    bob = person_with_faces(customer, [2])
    person_with_faces(customer, [3])
    assert identify(customer, face(1)) == [ada]
    assert identify(customer, face(2)) == [bob]
    assert identify(customer, face(99)) == []  # nobody close enough: no candidate
    ranked = identify(customer, face(2), threshold=0.0)
    assert ranked[0] == bob and len(ranked) == 3
    cohort = store.cohort(store.get_gallery(customer, "staff"))
    assert cohort.person_count == 3
    assert cohort.verify(face(1), ada) > 0.5 > cohort.verify(face(1), bob)
    assert cohort.verify(face(1), "00000000-0000-4000-8000-000000000000") is None
    mean, spread = cohort.probe_stats(face(1))
    assert np.isfinite(mean) and spread > 0


def test_both_stores_score_one_gallery_exactly_alike(new_customer):
    """The same templates give the same confidences whichever store holds them."""
    source = new_customer("table")
    make_gallery(source)
    for i in range(12):
        person_with_faces(source, [i, 100 + i] if i % 3 == 0 else [i])
    export = store.backend("table").export_gallery(source, "staff")
    copy = new_customer("postgres")
    store.backend("postgres").import_gallery(copy, _for(export, copy))
    probes = [face(i) + 0.3 * face(500 + i) for i in range(12)]
    table = store.cohort(store.get_gallery(source, "staff"))
    pg = store.cohort(store.get_gallery(copy, "staff"))
    assert table.person_count == pg.person_count == 12
    # alike to float32 rounding: pgvector sums squared differences, numpy expands them
    for probe in probes:
        in_table, in_pg = table.search(probe, 0.0, 5), pg.search(probe, 0.0, 5)
        assert [m.person_id for m in in_table] == [m.person_id for m in in_pg]
        for a, b in zip(in_table, in_pg, strict=True):
            assert a.confidence == pytest.approx(b.confidence, abs=1e-6)
        assert table.probe_stats(probe) == pytest.approx(pg.probe_stats(probe), abs=1e-6)
    person = export.persons[0].person_id
    assert table.verify(probes[0], person) == pytest.approx(pg.verify(probes[0], person), abs=1e-6)


def _for(export: transfer.GalleryExport, customer: str) -> transfer.GalleryExport:
    from dataclasses import replace

    return replace(export, customer_id=customer)


# --- moving between stores ------------------------------------------------------------------


@pytest.mark.parametrize("target", ["table", "postgres"])
def test_a_gallery_moves_with_its_ids_and_templates(customer, store_name, target, postgres):
    make_gallery(customer)
    ada = person_with_faces(customer, [1, 2])
    store.create_person(customer, "staff", "No faces yet", "data")
    export = store.backend(store_name).export_gallery(customer, "staff")
    assert (export.person_count, export.face_count) == (2, 2)
    if target == store_name:
        with pytest.raises(Conflict):
            store.backend(target).import_gallery(customer, export)
        return
    store.backend(target).import_gallery(customer, export)
    copied = store.backend(target).export_gallery(customer, "staff")
    assert copied.digest() == export.digest()
    assert copied.created == export.created
    assert store.backend(target).get_person(customer, "staff", ada).persisted_face_ids == (
        store.get_person(customer, "staff", ada).persisted_face_ids
    )
    store.backend(target).delete_gallery(customer, "staff")


def test_while_moving_only_erasures_are_accepted_and_they_reach_both_stores(new_customer):
    from shared.biometrics import edits
    from shared.errors import GalleryStoreMoving
    from shared.policy import registry

    customer = new_customer("table")
    make_gallery(customer)
    ada, bob = person_with_faces(customer, [1, 2]), person_with_faces(customer, [3])
    store.backend("postgres").import_gallery(
        customer, store.backend("table").export_gallery(customer, "staff")
    )
    registry.update_customer(customer, gallery_store_moving=True)
    registry.reset_caches()
    for write in (
        lambda: make_gallery(customer, "new"),
        lambda: store.create_person(customer, "staff", "x", ""),
        enrol(customer, ada, 9),
        lambda: edits.update_gallery(customer, "staff", "x", None),
    ):
        with pytest.raises(GalleryStoreMoving) as raised:
            write()
        assert raised.value.code == "GalleryStoreMoving" and raised.value.retry_after > 0
    assert identify(customer, face(3)) == [bob]  # reads go on
    face_id = store.get_person(customer, "staff", ada).persisted_face_ids[0]
    store.delete_face(customer, "staff", ada, face_id)
    assert store.delete_person(customer, "staff", bob) == 1  # one face (a copy in each store)
    for name in ("table", "postgres"):
        left = store.backend(name).export_gallery(customer, "staff")
        assert [(p.person_id, len(p.faces)) for p in left.persons] == [(ada, 1)]
    store.delete_gallery(customer, "staff")
    assert store.stored_rows(customer) == []
    with pytest.raises(NotFound):
        store.delete_gallery(customer, "staff")


def test_an_unknown_store_is_a_503_before_anything_is_done(registry_tables, monkeypatch):
    from shared.errors import ServiceUnavailable

    monkeypatch.setenv("FACEGATE_GALLERY_STORE", "mongodb")
    unregistered = "c-no-record"  # a customer without a record has the default store
    with pytest.raises(ServiceUnavailable, match="misconfigured"):
        store.get_gallery(unregistered, "staff")
    with pytest.raises(ServiceUnavailable):
        make_gallery(unregistered)


# --- erasure --------------------------------------------------------------------------------


def test_a_re_created_gallery_is_new_and_empty(customer):
    make_gallery(customer)
    ada = person_with_faces(customer, [1])
    first = store.get_gallery(customer, "staff")
    assert identify(customer, face(1)) == [ada]
    store.delete_gallery(customer, "staff")
    assert biometric_rows(customer) == []
    again = make_gallery(customer)
    assert again.generation != first.generation
    assert store.list_persons(customer, "staff") == []
    assert identify(customer, face(1), threshold=0.0) == []
    with pytest.raises(NotFound):
        store.get_person(customer, "staff", ada)


@pytest.mark.parametrize("round_", range(ROUNDS))
def test_enrolments_racing_a_person_erasure_leave_no_template(customer, round_):
    make_gallery(customer)
    ada = person_with_faces(customer, [0])
    bob = person_with_faces(customer, [100])
    assert identify(customer, face(0)) == [ada]
    erase = lambda: store.delete_person(customer, "staff", ada)  # noqa: E731
    outcomes = race(*(enrol(customer, ada, s) for s in range(1, 7)), erase, erase, late=2)
    assert set(outcomes[:6]) <= {"ok", "NotFound"}, outcomes
    assert "ok" in outcomes[6:] and set(outcomes[6:]) <= {"ok", "NotFound"}, outcomes
    bob_face = store.get_person(customer, "staff", bob).persisted_face_ids[0]
    assert biometric_rows(customer) == [bob, f"{bob}:{bob_face}"]
    for seed in range(7):
        assert ada not in identify(customer, face(seed), threshold=0.0)
    assert identify(customer, face(100)) == [bob]


@pytest.mark.parametrize("round_", range(ROUNDS))
def test_twin_face_deletes_enrolments_and_the_person_erasure(customer, round_):
    make_gallery(customer)
    ada = store.create_person(customer, "staff", "Ada", "").person_id
    faces = [enrol(customer, ada, seed)() for seed in range(3)]
    drop = lambda face_id: lambda: store.delete_face(customer, "staff", ada, face_id)  # noqa: E731
    erase = lambda: store.delete_person(customer, "staff", ada)  # noqa: E731
    calls = [drop(faces[0]), drop(faces[0]), drop(faces[1]), enrol(customer, ada, 7)]
    outcomes = race(*calls, erase, late=1, rng=random.Random(round_))
    assert set(outcomes) <= {"ok", "NotFound"}, outcomes
    assert outcomes[-1] == "ok"  # the person existed when its erasure began
    assert biometric_rows(customer) == []
    assert identify(customer, face(0), threshold=0.0) == []


@pytest.mark.parametrize("round_", range(ROUNDS))
def test_creations_racing_a_gallery_erasure_leave_nothing(customer, round_):
    make_gallery(customer)
    persons = [store.create_person(customer, "staff", f"p{i}", "").person_id for i in range(3)]
    create = lambda: store.create_person(customer, "staff", "late", "")  # noqa: E731
    erase = lambda: store.delete_gallery(customer, "staff")  # noqa: E731
    drop = lambda: store.delete_person(customer, "staff", persons[2])  # noqa: E731
    calls = [enrol(customer, p, i) for i, p in enumerate(persons)]
    outcomes = race(*calls, create, create, drop, erase, erase, late=2)
    assert set(outcomes) <= {"ok", "NotFound"}, outcomes
    assert "ok" in outcomes[-2:]
    assert store.stored_rows(customer) == []
    make_gallery(customer)
    assert store.list_persons(customer, "staff") == []
    assert biometric_rows(customer) == []


def test_operator_erasure_reaches_every_gallery_and_nobody_else(customer, other_customer):
    for gallery in ("a", "b"):
        make_gallery(customer, gallery)
        person_with_faces(customer, [1], gallery)
    make_gallery(other_customer, "a")
    kept = person_with_faces(other_customer, [1], "a")
    report = erasure.erase_customer_galleries(customer, "alice@ops")
    assert report["galleries"] == ["a", "b"] and report["leftoverRows"] == 0
    assert store.stored_rows(customer) == [] and store.all_galleries(customer) == []
    assert store.get_person(other_customer, "a", kept).person_id == kept
    assert erasure.erase_customer_galleries(customer, "alice@ops")["galleries"] == []


def test_text_no_store_can_keep_is_refused_before_any_store_sees_it():
    for bad in ("a\x00b", "\ud800"):
        with pytest.raises(BadArgument):
            store.check_text(bad, "name", store.MAX_NAME, required=True)
    assert store.check_text("Zoë 🙂", "name", store.MAX_NAME) == "Zoë 🙂"
