"""Biometric data in Azurite: isolation, erasure, and an identify index that stays fresh."""

from __future__ import annotations

import datetime as dt
import uuid

import numpy as np
import pytest

from shared.biometrics import faceids, store
from shared.biometrics.index import IndexCache
from shared.errors import BadArgument, Conflict, NotFound
from shared.vision import RECOGNITION_MODEL as MODEL


def unit(seed: int) -> np.ndarray:
    v = np.random.default_rng(seed).normal(size=128).astype(np.float32)
    return v / np.linalg.norm(v)


@pytest.fixture
def customer(azurite) -> str:
    return f"c{uuid.uuid4().hex[:12]}"


def make_gallery(customer: str, gallery: str = "staff") -> store.Gallery:
    return store.create_gallery(customer, gallery, "Staff", "", MODEL)


def test_gallery_lifecycle_and_isolation(customer):
    other = f"c{uuid.uuid4().hex[:12]}"
    make_gallery(customer)
    with pytest.raises(Conflict):
        make_gallery(customer)
    make_gallery(other)  # same id, another customer: independent
    person = store.create_person(customer, "staff", "Ada", "")
    face = store.add_face(customer, "staff", person.person_id, unit(1), MODEL, "", "high")
    assert store.get_person(customer, "staff", person.person_id).persisted_face_ids == (face,)
    # the other customer cannot see or touch it, even knowing the ids
    with pytest.raises(NotFound):
        store.get_person(other, "staff", person.person_id)
    with pytest.raises(NotFound):
        store.delete_face(other, "staff", person.person_id, face)
    with pytest.raises(NotFound):
        store.delete_person(other, "staff", person.person_id)
    assert [g.gallery_id for g in store.list_galleries(customer)] == ["staff"]
    store.delete_gallery(customer, "staff")
    with pytest.raises(NotFound):
        store.get_gallery(customer, "staff")
    assert store.get_gallery(other, "staff").gallery_id == "staff"


def test_person_erasure_removes_every_template(customer):
    make_gallery(customer)
    person = store.create_person(customer, "staff", "Ada", "")
    for seed in range(3):
        store.add_face(customer, "staff", person.person_id, unit(seed), MODEL, "", "high")
    assert len(store.get_person(customer, "staff", person.person_id).persisted_face_ids) == 3
    assert store.delete_person(customer, "staff", person.person_id) == 3
    with pytest.raises(NotFound):
        store.get_person(customer, "staff", person.person_id)
    assert store.templates_since(store.get_gallery(customer, "staff"), None).added == []


def test_other_model_templates_are_refused(customer):
    make_gallery(customer)
    person = store.create_person(customer, "staff", "Ada", "")
    with pytest.raises(Conflict) as raised:
        store.add_face(customer, "staff", person.person_id, unit(1), "other-model", "", "high")
    assert raised.value.code == "RecognitionModelMismatch"


def test_text_limits():
    with pytest.raises(BadArgument):
        store.check_text("x" * 129, "name", store.MAX_NAME)
    with pytest.raises(BadArgument):
        store.check_text("  ", "name", store.MAX_NAME, required=True)
    with pytest.raises(BadArgument):
        store.check_text(5, "userData", store.MAX_USER_DATA)
    assert store.check_text(None, "userData", store.MAX_USER_DATA) == ""


def test_index_sees_enrolments_at_once_and_forgets_erasures(customer):
    make_gallery(customer)
    cache = IndexCache()
    ada = store.create_person(customer, "staff", "Ada", "")
    bob = store.create_person(customer, "staff", "Bob", "")
    store.add_face(customer, "staff", ada.person_id, unit(1), MODEL, "", "high")
    index = cache.fresh(store.get_gallery(customer, "staff"))
    assert len(index) == 1
    hits = index.search(unit(1), MODEL, threshold=0.5, limit=5)
    assert [h.person_id for h in hits] == [ada.person_id]

    # a new enrolment counts at once (incremental refresh)
    store.add_face(customer, "staff", bob.person_id, unit(2), MODEL, "", "high")
    index = cache.fresh(store.get_gallery(customer, "staff"))
    assert len(index) == 2
    assert [h.person_id for h in index.search(unit(2), MODEL, 0.5, 5)] == [bob.person_id]

    # nobody close enough: no candidate, not the nearest neighbour
    assert index.search(unit(99), MODEL, 0.5, 5) == []

    # after erasure the template can never match again
    store.delete_person(customer, "staff", bob.person_id)
    index = cache.fresh(store.get_gallery(customer, "staff"))
    assert len(index) == 1
    assert index.search(unit(2), MODEL, 0.5, 5) == []


def test_index_ranks_persons_by_their_best_face(customer):
    make_gallery(customer)
    ada = store.create_person(customer, "staff", "Ada", "")
    bob = store.create_person(customer, "staff", "Bob", "")
    query = unit(7)
    noise = unit(8)
    near = (query + 0.2 * noise) / np.linalg.norm(query + 0.2 * noise)
    far = (query + 0.6 * noise) / np.linalg.norm(query + 0.6 * noise)
    store.add_face(customer, "staff", ada.person_id, far, MODEL, "", "high")
    store.add_face(customer, "staff", ada.person_id, unit(50), MODEL, "", "high")
    store.add_face(customer, "staff", bob.person_id, near, MODEL, "", "high")
    index = IndexCache().fresh(store.get_gallery(customer, "staff"))
    hits = index.search(query, MODEL, threshold=0.0, limit=5)  # every person, ranked
    assert [h.person_id for h in hits] == [bob.person_id, ada.person_id]
    assert hits[0].confidence > hits[1].confidence
    assert len(index.search(query, MODEL, threshold=0.0, limit=1)) == 1


def test_recreated_gallery_does_not_reuse_the_old_index(customer):
    make_gallery(customer)
    cache = IndexCache()
    ada = store.create_person(customer, "staff", "Ada", "")
    store.add_face(customer, "staff", ada.person_id, unit(1), MODEL, "", "high")
    assert len(cache.fresh(store.get_gallery(customer, "staff"))) == 1
    store.delete_gallery(customer, "staff")
    make_gallery(customer)
    assert len(cache.fresh(store.get_gallery(customer, "staff"))) == 0


def test_faceids_are_scoped_and_expire(customer):
    other = f"c{uuid.uuid4().hex[:12]}"
    now = dt.datetime.now(dt.UTC)
    face_id = faceids.save(customer, unit(3), MODEL, now=now)
    stored = faceids.load(customer, face_id)
    assert np.allclose(stored.template, unit(3))
    with pytest.raises(NotFound):
        faceids.load(other, face_id)
    with pytest.raises(NotFound):
        faceids.load(customer, face_id, now=now + faceids.TTL + dt.timedelta(seconds=1))
    old = faceids.save(customer, unit(4), MODEL, now=now - faceids.TTL - dt.timedelta(minutes=1))
    assert faceids.purge_expired() >= 1
    with pytest.raises(NotFound):
        faceids.load(customer, old, now=now - dt.timedelta(hours=1))
    assert faceids.load(customer, face_id).face_id == face_id
