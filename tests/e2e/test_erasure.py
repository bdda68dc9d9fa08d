"""Erasure over real HTTP, on one dev host and on two sharing one Azurite: races run for real.

Each round starts enrolments, person creations and deletes at once (the deletes a random
moment later, so some enrolments commit before them and some after) and then checks what
a customer relies on: no 5xx; every racing call answered with a documented status (the
Client checks each against the OpenAPI document); no person or face row left in storage;
no identify on either instance returns an erased person; a re-created gallery is empty.
Rounds: FACEGATE_ERASURE_ROUNDS (default 3; `make load` runs more). An erasure killed
(kill -9) at a random moment is finished by repeating it.
Also: erasing one's own data is allowed whatever the registry says, and audited.
"""

from __future__ import annotations

import datetime as dt
import os
import random
import threading
import time
import uuid
from collections.abc import Iterator

import numpy as np
import pytest
import requests

from shared.biometrics import store
from shared.policy import audit_rows, registry
from shared.storage import clients, names
from tests.data import make_photos as photos
from tests.e2e.conftest import ALL_ACTIONS, PURPOSE, Client, _tenant, error_code
from tests.support.apphost import AppHost, app_env, wait_until
from tools.load.erasure import race

ROUNDS = int(os.environ.get("FACEGATE_ERASURE_ROUNDS", "3"))
ASTRONAUT = photos.ASTRONAUT.read_bytes()
HOPPER = photos.GRACE_HOPPER.read_bytes()
PHOTO = {"X-Capture-Context": "photo"}
IMAGE = {"Content-Type": "application/octet-stream", **PHOTO}


@pytest.fixture(scope="module")
def second_app(azurite, tmp_path_factory) -> Iterator[AppHost]:
    """Another instance of the app on the same storage (as two Azure instances would be)."""
    host = AppHost(tmp_path_factory.mktemp("app2"), app_env(azurite.connection_string))
    host.start()
    yield host
    host.stop()


@pytest.fixture(scope="module")
def owner(app) -> Client:
    return _tenant(app, "erase", actions=ALL_ACTIONS, purposes=(PURPOSE,))


@pytest.fixture(scope="module")
def hosts(owner, second_app) -> tuple[Client, Client]:
    """The same customer on instance A and instance B."""
    return owner, Client(second_app.url, owner.key, owner.customer_id)


@pytest.fixture(scope="module")
def probe(owner) -> str:
    """A faceId of the astronaut, whom the erased persons are enrolled with."""
    response = owner.detect(ASTRONAUT, "returnFaceId=true", headers=PHOTO)
    assert response.status_code == 200, response.text
    return response.json()[0]["faceId"]


# --- helpers --------------------------------------------------------------------------------


def create_gallery(client: Client) -> str:
    gallery = f"er-{uuid.uuid4().hex[:10]}"
    created = client.request("PUT", f"/galleries/{gallery}", json={"name": "erasure"})
    assert created.status_code == 200, created.text
    return gallery


def add_person(client: Client, gallery: str, image: bytes | None = ASTRONAUT) -> str:
    response = client.post_json(f"/galleries/{gallery}/persons", {"name": "p"})
    assert response.status_code == 200, response.text
    person = response.json()["personId"]
    if image is not None:
        assert enroll(client, gallery, person, image).status_code == 200
    return person


def enroll(client: Client, gallery: str, person: str, image: bytes = ASTRONAUT):
    return client.request(
        "POST", f"/galleries/{gallery}/persons/{person}/faces", data=image, headers=IMAGE
    )


def candidates(client: Client, gallery: str, face_id: str) -> list[str]:
    response = client.post_json(
        "/identify",
        {"galleryId": gallery, "faceIds": [face_id], "maxNumOfCandidatesReturned": 10},
        headers=PHOTO,
    )
    assert response.status_code == 200, response.text
    return [c["personId"] for c in response.json()[0]["candidates"]]


def stored_rows(customer_id: str) -> list[tuple[str, str, str]]:
    """(PartitionKey, RowKey, kind) of every row in the customer's face partitions."""
    return [
        (r["PartitionKey"], r["RowKey"], r.get("kind", "")) for r in store.stored_rows(customer_id)
    ]


def rows_of_gallery(customer_id: str, gallery: str) -> list[tuple[str, str, str]]:
    rows = store.stored_rows(customer_id, gallery)
    return [(r["PartitionKey"], r["RowKey"], r.get("kind", "")) for r in rows]


# --- erasing is the owner's right -----------------------------------------------------------


@pytest.mark.parametrize(
    ("who", "change", "headers"),
    [
        pytest.param({}, {"actions": "detect"}, PHOTO, id="enroll withdrawn"),
        pytest.param({}, {"status": "suspended"}, PHOTO, id="customer suspended"),
        pytest.param(
            {"sector": "law_enforcement", "country": "FR", "purposes": ("investigation",)},
            {},
            {},
            id="police without a capture context",
        ),
    ],
)
def test_the_owner_may_always_erase_and_it_is_audited(app, who, change, headers):
    client = _tenant(app, "own", **{"actions": ALL_ACTIONS, "purposes": (PURPOSE,), **who})
    gallery = f"er-{uuid.uuid4().hex[:10]}"
    put = client.request("PUT", f"/galleries/{gallery}", json={"name": "x"}, headers=PHOTO)
    assert put.status_code == 200, put.text
    person = client.post_json(f"/galleries/{gallery}/persons", {"name": "p"}, headers=PHOTO)
    person_id = person.json()["personId"]
    faces = [enroll(client, gallery, person_id).json()["persistedFaceId"] for _ in range(2)]
    if change:
        registry.update_customer(client.customer_id, **change)
        wait_until(  # the registry cache has caught up: enroll-gated reads are refused
            lambda: (
                client.request("GET", f"/galleries/{gallery}", headers=PHOTO).status_code == 403
            ),
            "the registry change to apply",
        )
    person_path = f"/galleries/{gallery}/persons/{person_id}"
    for path in (f"{person_path}/faces/{faces[0]}", person_path, f"/galleries/{gallery}"):
        erased = client.request("DELETE", path, headers=headers)
        assert erased.status_code == 200, erased.text
    assert stored_rows(client.customer_id) == []
    rows = audit_rows(client.customer_id, dt.datetime.now(dt.UTC).date())
    erases = [r for r in rows if r["action"] == "erase"]
    assert len(erases) == 3
    assert {(r["decision"], tuple(r["policyIds"])) for r in erases} == {
        ("allow", ("owner-may-erase",))
    }


def test_erasure_still_needs_the_key_and_the_owner(app, owner, anonymous):
    gallery = create_gallery(owner)
    person = add_person(owner, gallery, image=None)
    stranger = _tenant(app, "stranger", actions=ALL_ACTIONS, purposes=(PURPOSE,))
    assert anonymous.request("DELETE", f"/galleries/{gallery}").status_code == 401
    assert stranger.request("DELETE", f"/galleries/{gallery}").status_code == 404
    assert stranger.request("DELETE", f"/galleries/{gallery}/persons/{person}").status_code == 404
    assert owner.request("GET", f"/galleries/{gallery}/persons/{person}").status_code == 200
    assert owner.request("DELETE", f"/galleries/{gallery}").status_code == 200


# --- races, one instance and two ------------------------------------------------------------


@pytest.mark.parametrize("instances", [1, 2])
@pytest.mark.parametrize("round_", range(ROUNDS))
def test_enrolments_racing_a_person_erasure(hosts, probe, instances, round_):
    enrolments_race_a_person_erasure(hosts, probe, instances, f"person-{instances}-{round_}")


@pytest.mark.parametrize("instances", [1, 2])
@pytest.mark.parametrize("round_", range(ROUNDS))
def test_everything_racing_a_gallery_erasure(hosts, probe, instances, round_):
    everything_races_a_gallery_erasure(hosts, probe, instances, f"gallery-{instances}-{round_}")


def enrolments_race_a_person_erasure(
    hosts: tuple[Client, Client], probe: str, instances: int, seed: str
) -> None:
    """Four enrolments on one or two instances race two erasures of the same person: the
    person is gone from storage and from every instance's identify, the other stays.
    (Shared with the PostgreSQL store's e2e tests.)"""
    a, b = hosts[0], hosts[instances - 1]
    rng = random.Random(seed)
    gallery = create_gallery(a)
    person = add_person(a, gallery)
    other = add_person(a, gallery, HOPPER)
    for client in (a, b):  # both indexes hold the person before the race
        assert candidates(client, gallery, probe) == [person]
    enrolments = [lambda c=c: enroll(c, gallery, person) for c in (a, b, a, b)]
    erasures = [
        lambda: a.request("DELETE", f"/galleries/{gallery}/persons/{person}"),
        lambda: b.request("DELETE", f"/galleries/{gallery}/persons/{person}"),
    ]
    enrolled, erased = race(enrolments, erasures, rng)
    assert set(enrolled) <= {200, 404}, enrolled
    assert 200 in erased and set(erased) <= {200, 404}, erased
    assert [r for r in rows_of_gallery(a.customer_id, gallery) if person in r[1]] == []
    for client in (a, b):
        assert person not in candidates(client, gallery, probe)
        assert client.request("GET", f"/galleries/{gallery}/persons/{person}").status_code == 404
    assert a.request("GET", f"/galleries/{gallery}/persons/{other}").status_code == 200
    assert a.request("DELETE", f"/galleries/{gallery}").status_code == 200


def everything_races_a_gallery_erasure(
    hosts: tuple[Client, Client], probe: str, instances: int, seed: str
) -> None:
    """Enrolments, creations and a person erasure race two erasures of the gallery: nothing
    of it is left, identify answers 404, a re-created gallery of the same id is empty."""
    a, b = hosts[0], hosts[instances - 1]
    rng = random.Random(seed)
    gallery = create_gallery(a)
    person, second = add_person(a, gallery), add_person(a, gallery, image=None)
    for client in (a, b):
        assert candidates(client, gallery, probe) == [person]
    busy = [
        lambda: enroll(a, gallery, person),
        lambda: enroll(b, gallery, second),
        lambda: b.post_json(f"/galleries/{gallery}/persons", {"name": "late"}),
        lambda: a.post_json(f"/galleries/{gallery}/persons", {"name": "late"}),
        lambda: b.request("DELETE", f"/galleries/{gallery}/persons/{second}"),
    ]
    erasures = [
        lambda: a.request("DELETE", f"/galleries/{gallery}"),
        lambda: b.request("DELETE", f"/galleries/{gallery}"),
    ]
    during, erased = race(busy, erasures, rng)
    assert set(during) <= {200, 404}, during
    assert 200 in erased and set(erased) <= {200, 404}, erased
    assert rows_of_gallery(a.customer_id, gallery) == []
    for client in (a, b):
        gone = client.post_json("/identify", {"galleryId": gallery, "faceIds": [probe]})
        assert (gone.status_code, error_code(gone)) == (404, "NotFound")
    again = b.request("PUT", f"/galleries/{gallery}", json={"name": "again"})
    assert again.status_code == 200, again.text
    for client in (a, b):
        assert client.request("GET", f"/galleries/{gallery}/persons").json() == []
        assert candidates(client, gallery, probe) == []
    assert [r[2] for r in rows_of_gallery(a.customer_id, gallery)] == ["gallery"]
    assert a.request("DELETE", f"/galleries/{gallery}").status_code == 200


def test_a_burst_of_enrolments_into_one_gallery_never_answers_503(hosts):
    a, b = hosts
    gallery = create_gallery(a)
    persons = [add_person(a, gallery, image=None) for _ in range(4)]
    calls = [
        lambda c=c, p=p: enroll(c, gallery, p) for p in persons for c in (a, b, a, b)
    ]  # 16 at once, four into each person, over both instances
    statuses, _ = race(calls, [], random.Random(0))
    assert statuses == [200] * len(calls)
    listed = a.request("GET", f"/galleries/{gallery}/persons").json()
    assert sorted(len(p["persistedFaceIds"]) for p in listed) == [4, 4, 4, 4]
    assert a.request("DELETE", f"/galleries/{gallery}").status_code == 200
    assert rows_of_gallery(a.customer_id, gallery) == []


# --- paging ---------------------------------------------------------------------------------


def test_persons_and_galleries_page_by_start_and_top(owner):
    gallery = create_gallery(owner)
    persons = sorted(add_person(owner, gallery, image=None) for _ in range(5))
    seen, start = [], ""
    while True:
        page = owner.request("GET", f"/galleries/{gallery}/persons?top=2&start={start}").json()
        if not page:
            break
        assert len(page) <= 2
        seen += [p["personId"] for p in page]
        start = page[-1]["personId"]
    assert seen == persons
    listed = owner.request("GET", f"/galleries?start={gallery[:-1]}&top=1").json()
    assert [g["galleryId"] for g in listed] == [gallery]
    for query in ("top=0", "top=1001", "top=x", "start=not%20an%20id", f"start={'a' * 65}"):
        for path in ("/galleries", f"/galleries/{gallery}/persons"):
            bad = owner.request("GET", f"{path}?{query}")
            assert (bad.status_code, error_code(bad)) == (400, "BadArgument"), (path, query)
    assert owner.request("DELETE", f"/galleries/{gallery}").status_code == 200


# --- a crash mid-erasure ----------------------------------------------------------------------


def _fill(customer_id: str, gallery: str, persons: int, faces_each: int) -> None:
    """Persons and faces written straight to storage, enough for an erasure to take a while."""
    partition = store.get_gallery(customer_id, gallery).partition
    table = clients.table_service().get_table_client(names.FACES)
    vectors = np.random.default_rng(0).normal(size=(faces_each, 128)).astype(np.float32)
    operations: list[tuple[str, dict]] = []
    for _ in range(persons):
        person = str(uuid.uuid4())
        operations.append(
            ("create", {"PartitionKey": partition, "RowKey": person, "kind": store.PERSON,
                        "state": store.ACTIVE, "faceCount": faces_each})
        )  # fmt: skip
        operations += [
            ("create", store.face_entity(partition, person, str(uuid.uuid4()), v, "x"))
            for v in vectors
        ]
        if len(operations) + faces_each + 1 > 100:
            table.submit_transaction(operations)
            operations = []
    if operations:
        table.submit_transaction(operations)


def _status(client: Client, method: str, path: str) -> int:
    """The status, or 0 when the instance died before it answered."""
    try:
        return client.request(method, path, check_contract=False).status_code
    except requests.RequestException:
        return 0


@pytest.mark.parametrize("round_", range(max(1, ROUNDS - 1)))  # two processes start per round
def test_an_erasure_killed_mid_way_is_finished_by_repeating_it(azurite, tmp_path, round_):
    host = AppHost(tmp_path / "host", app_env(azurite.connection_string)).start()
    client = _tenant(host, "crash", actions=ALL_ACTIONS, purposes=(PURPOSE,))
    gallery = create_gallery(client)
    _fill(client.customer_id, gallery, persons=250, faces_each=3)
    first: list[int] = []
    erase = threading.Thread(
        target=lambda: first.append(_status(client, "DELETE", f"/galleries/{gallery}"))
    )
    try:
        erase.start()
        time.sleep(random.Random(round_).uniform(0.3, 3.0))  # before, during or after the deletes
    finally:
        host.kill()  # kill -9, wherever the erasure is
    erase.join(60)
    client.base = host.start().url  # a new process, on a new port
    try:
        if first == [200]:  # it finished before the kill
            assert client.request("GET", f"/galleries/{gallery}").status_code == 404
        again = client.request("DELETE", f"/galleries/{gallery}")
        assert again.status_code in (200, 404), again.text  # 404: the first one had finished
        assert rows_of_gallery(client.customer_id, gallery) == []
        assert client.request("PUT", f"/galleries/{gallery}", json={"name": "x"}).status_code == 200
        assert client.request("GET", f"/galleries/{gallery}/persons").json() == []
    finally:
        host.stop()
