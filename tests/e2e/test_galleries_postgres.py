"""The PostgreSQL gallery store over real HTTP: a customer whose registry record says
``gallery_store: postgres``, on two dev hosts sharing one Azurite and one real PostgreSQL.

Identify and verify find the enrolled person; the erasure races of test_erasure.py run
here too (enrolments and person creations racing person and gallery erasures, on one
instance and on two); a database that cannot be reached is a 503 and nothing is written.
Rounds: FACEGATE_ERASURE_ROUNDS (default 3).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from shared.biometrics import store
from tests.e2e.conftest import ALL_ACTIONS, PURPOSE, Client, _tenant, error_code
from tests.e2e.test_erasure import (
    ASTRONAUT,
    HOPPER,
    PHOTO,
    ROUNDS,
    add_person,
    candidates,
    create_gallery,
    enroll,
    enrolments_race_a_person_erasure,
    everything_races_a_gallery_erasure,
    rows_of_gallery,
)
from tests.support.apphost import AppHost, app_env


@pytest.fixture(scope="module")
def pg_apps(azurite, postgres, tmp_path_factory) -> Iterator[tuple[AppHost, AppHost]]:
    """Two instances of the app, both reaching the session's PostgreSQL (inherited
    FACEGATE_POSTGRES_URL); the default store stays ``table``."""
    hosts = [
        AppHost(tmp_path_factory.mktemp(f"pg-app{i}"), app_env(azurite.connection_string))
        for i in (1, 2)
    ]
    try:
        for host in hosts:
            host.start()
        yield hosts[0], hosts[1]
    finally:
        for host in hosts:
            host.stop()


@pytest.fixture(scope="module")
def hosts(pg_apps) -> tuple[Client, Client]:
    """One customer on PostgreSQL, on instance A and instance B."""
    a = _tenant(
        pg_apps[0], "pg", actions=ALL_ACTIONS, purposes=(PURPOSE,), gallery_store="postgres"
    )
    return a, Client(pg_apps[1].url, a.key, a.customer_id)


@pytest.fixture(scope="module")
def probe(hosts) -> str:
    response = hosts[0].detect(ASTRONAUT, "returnFaceId=true", headers=PHOTO)
    assert response.status_code == 200, response.text
    return response.json()[0]["faceId"]


def test_the_galleries_are_in_postgresql_and_identify_and_verify_work(hosts, probe):
    a, b = hosts
    gallery = create_gallery(a)
    astronaut, hopper = add_person(a, gallery), add_person(a, gallery, HOPPER)
    assert store.get_gallery(a.customer_id, gallery).store == "postgres"
    assert store.backend("table").list_galleries(a.customer_id) == []  # nothing in Tables
    for client in (a, b):
        assert candidates(client, gallery, probe) == [astronaut]
        verified = client.post_json(
            "/verify", {"faceId": probe, "galleryId": gallery, "personId": astronaut},
            headers=PHOTO,
        )  # fmt: skip
        assert verified.status_code == 200 and verified.json()["isIdentical"] is True
        other = client.post_json(
            "/verify", {"faceId": probe, "galleryId": gallery, "personId": hopper}, headers=PHOTO
        )
        assert other.status_code == 200 and other.json()["isIdentical"] is False
    listed = a.request("GET", f"/galleries/{gallery}/persons").json()
    assert sorted(len(p["persistedFaceIds"]) for p in listed) == [1, 1]
    assert a.request("DELETE", f"/galleries/{gallery}").status_code == 200
    assert rows_of_gallery(a.customer_id, gallery) == []


@pytest.mark.parametrize("instances", [1, 2])
@pytest.mark.parametrize("round_", range(ROUNDS))
def test_enrolments_racing_a_person_erasure(hosts, probe, instances, round_):
    enrolments_race_a_person_erasure(hosts, probe, instances, f"pg-person-{instances}-{round_}")


@pytest.mark.parametrize("instances", [1, 2])
@pytest.mark.parametrize("round_", range(ROUNDS))
def test_everything_racing_a_gallery_erasure(hosts, probe, instances, round_):
    everything_races_a_gallery_erasure(hosts, probe, instances, f"pg-gallery-{instances}-{round_}")


def test_an_unreachable_database_is_a_503_and_nothing_is_written(
    azurite, postgres, hosts, probe, tmp_path
):
    owner = hosts[0]
    gallery = create_gallery(owner)
    person = add_person(owner, gallery)
    down = AppHost(
        tmp_path / "down",
        app_env(
            azurite.connection_string,
            FACEGATE_POSTGRES_URL=f"postgresql://facegate@/facegate?host={tmp_path}/nowhere",
        ),
    ).start()
    try:
        client = Client(down.url, owner.key, owner.customer_id)
        for response in (
            client.request("PUT", f"/galleries/{uuid.uuid4().hex[:8]}", json={"name": "x"}),
            client.post_json(f"/galleries/{gallery}/persons", {"name": "late"}),
            enroll(client, gallery, person),
            client.post_json(
                "/identify", {"galleryId": gallery, "faceIds": [probe]}, headers=PHOTO
            ),
            client.request("DELETE", f"/galleries/{gallery}/persons/{person}"),
        ):
            assert (response.status_code, error_code(response)) == (503, "ServiceUnavailable")
            assert response.headers.get("Retry-After")
    finally:
        down.stop()
    listed = owner.request("GET", f"/galleries/{gallery}/persons").json()
    assert [(p["personId"], len(p["persistedFaceIds"])) for p in listed] == [(person, 1)]
    assert candidates(owner, gallery, probe) == [person]
    assert owner.request("DELETE", f"/galleries/{gallery}").status_code == 200


def test_while_the_galleries_move_writes_are_409_and_erasures_reach_both_stores(pg_apps):
    from shared.policy import registry
    from tests.support.apphost import wait_until

    client = _tenant(pg_apps[0], "mv", actions=ALL_ACTIONS, purposes=(PURPOSE,))  # table
    gallery = create_gallery(client)
    person, other = add_person(client, gallery), add_person(client, gallery, HOPPER)
    copy = store.backend("table").export_gallery(client.customer_id, gallery)
    store.backend("postgres").import_gallery(client.customer_id, copy)
    registry.update_customer(client.customer_id, gallery_store_moving=True)
    [late] = wait_until(  # an image that could never be enrolled: 400 until the move shows
        lambda: [
            r for r in [enroll(client, gallery, person, b"not an image")] if r.status_code == 409
        ],
        "the registry change to apply",
    )
    assert error_code(late) == "GalleryStoreMoving" and int(late.headers["Retry-After"]) > 0
    created = client.post_json(f"/galleries/{gallery}/persons", {"name": "x"})
    assert (created.status_code, error_code(created)) == (409, "GalleryStoreMoving")
    refused = enroll(client, gallery, person)
    assert (refused.status_code, error_code(refused)) == (409, "GalleryStoreMoving")
    probe = client.detect(ASTRONAUT, "returnFaceId=true", headers=PHOTO).json()[0]["faceId"]
    assert candidates(client, gallery, probe) == [person]  # reads go on
    erased = client.request("DELETE", f"/galleries/{gallery}/persons/{person}")
    assert erased.status_code == 200 and erased.json()["erasedFaces"] == 1  # once, from both stores
    for name in ("table", "postgres"):
        left = store.backend(name).export_gallery(client.customer_id, gallery)
        assert [p.person_id for p in left.persons] == [other]
    assert client.request("DELETE", f"/galleries/{gallery}").status_code == 200
    assert store.stored_rows(client.customer_id) == []
