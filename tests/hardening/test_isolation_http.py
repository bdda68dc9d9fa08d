"""Tenant isolation over HTTP: mixed ids, and no existence oracle.

tests/e2e/test_isolation.py sends another customer's whole set of ids to every
route. Here the attacker (globex) mixes: its own gallery with the victim's person,
its own person with the victim's face, its own faceId with the victim's in one
identify. Every route template comes from the app's metadata, and every
substitution of a victim's id for an attacker's own is tried. Each must be 404,
change nothing, and read exactly like the 404 for an id that exists nowhere (so
nobody learns that an id exists for another customer).
"""

from __future__ import annotations

import itertools
import re
import uuid

import pytest

from tests.data import make_photos as photos
from tests.support.metadata import http_routes
from tests.support.resources import customer_resources

PHOTO = {"X-Capture-Context": "photo"}
PARAM = re.compile(r"\{([^}:?*=]+)[^}]*\}")


AZURE_VERSION = "v1.2-preview.1"
# Azure's route family names FaceGate's ids its own way.
ALIASES = {"largePersonGroupId": "galleryId"}


def _with_operation(client, things: dict[str, str]) -> dict[str, str]:
    """Add an Azure training operation id of the customer's gallery (Azure's routes)."""
    trained = client.request(
        "POST", f"/face/{AZURE_VERSION}/largepersongroups/{things['galleryId']}/train",
        check_contract=False,
    )  # fmt: skip
    assert trained.status_code == 202, trained.text
    return {**things, "operationId": trained.headers["Operation-Location"].rsplit("/", 1)[1]}


@pytest.fixture(scope="module")
def victim(acme) -> dict[str, str]:
    return _with_operation(acme, customer_resources(acme, "vic"))


@pytest.fixture(scope="module")
def attacker(globex) -> dict[str, str]:
    return _with_operation(globex, customer_resources(globex, "att"))


def _nowhere(name: str) -> str:
    return f"nowhere-{uuid.uuid4().hex[:8]}" if name == "galleryId" else str(uuid.uuid4())


def _mixed_paths(victim: dict, attacker: dict):
    """(function, method, path with victim ids, same path with ids that exist nowhere)."""
    for name, (template, methods) in sorted(http_routes().items()):
        template = template.replace("{apiVersion}", AZURE_VERSION)
        params = PARAM.findall(template)
        if not params or name in ("gallery_put", "azure_group_create"):  # the caller's own
            continue
        for count in range(1, len(params) + 1):
            for swapped in itertools.combinations(params, count):
                own = {p: attacker[ALIASES.get(p, p)] for p in params}
                theirs = {**own, **{p: victim[ALIASES.get(p, p)] for p in swapped}}
                nowhere = {**own, **{p: _nowhere(ALIASES.get(p, p)) for p in swapped}}
                for method in methods:
                    yield (
                        name,
                        method,
                        "/" + PARAM.sub(lambda m, ids=theirs: ids[m.group(1)], template),
                        "/" + PARAM.sub(lambda m, ids=nowhere: ids[m.group(1)], template),
                        [theirs[p] for p in swapped],
                        [nowhere[p] for p in swapped],
                    )


def _same_error(a: dict, b: dict, a_ids: list[str], b_ids: list[str]) -> bool:
    def masked(body: dict, ids: list[str]) -> dict:
        text = body["error"]["message"]
        for value in ids:
            text = text.replace(value, "<id>")
        return {**body["error"], "message": text}

    return masked(a, a_ids) == masked(b, b_ids)


def _request(client, name: str, method: str, path: str):
    # Azure's routes follow Azure's contract, not FaceGate's OpenAPI document
    kw = {"headers": PHOTO, "check_contract": not name.startswith("azure_")}
    if name in ("faces_add", "azure_face_add"):
        return client.request(method, path, data=photos.ASTRONAUT.read_bytes(), **kw)
    if method in ("POST", "PUT", "PATCH"):
        return client.request(method, path, json={"name": "intruder"}, **kw)
    return client.request(method, path, **kw)


def test_every_mix_of_own_and_victim_ids_is_not_found(acme, globex, victim, attacker) -> None:
    cases = list(_mixed_paths(victim, attacker))
    assert len(cases) >= 15
    for name, method, path, nowhere_path, ids, nowhere_ids in cases:
        response = _request(globex, name, method, path)
        assert response.status_code == 404, f"{name} {method} {path}: {response.text}"
        control = _request(globex, name, method, nowhere_path)
        assert control.status_code == 404, f"{name} {method} {nowhere_path}: {control.text}"
        assert _same_error(response.json(), control.json(), ids, nowhere_ids), (
            f"{name}: the answer tells an existing id of another customer from a missing one:"
            f"\n{response.text}\n{control.text}"
        )
    _victim_intact(acme, victim)
    _victim_intact(globex, attacker)


def _victim_intact(client, things: dict) -> None:
    persons = client.request("GET", f"/galleries/{things['galleryId']}/persons").json()
    assert [p["personId"] for p in persons] == [things["personId"]]
    assert persons[0]["persistedFaceIds"] == [things["persistedFaceId"]]


def test_faceids_in_bodies_never_cross_customers(acme, globex, victim, attacker) -> None:
    mine, theirs, nowhere = attacker["faceId"], victim["faceId"], str(uuid.uuid4())
    g, p = attacker["galleryId"], attacker["personId"]
    cases = [
        ("/verify", {"faceId": theirs, "galleryId": g, "personId": p}, theirs),
        ("/verify", {"faceId": mine, "galleryId": g, "personId": victim["personId"]},
         victim["personId"]),
        ("/verify", {"faceId1": mine, "faceId2": theirs}, theirs),
        ("/identify", {"galleryId": g, "faceIds": [mine, theirs]}, theirs),
        ("/identify", {"galleryId": g, "faceIds": [theirs, mine]}, theirs),
        ("/identify", {"galleryId": victim["galleryId"], "faceIds": [mine]}, victim["galleryId"]),
    ]  # fmt: skip
    for path, body, foreign in cases:
        response = globex.post_json(path, body, headers=PHOTO)
        assert response.status_code == 404, f"{path} {body}: {response.text}"
        stranger = nowhere if foreign != victim["galleryId"] else f"nowhere-{uuid.uuid4().hex[:6]}"
        control_body = {
            k: ([stranger if x == foreign else x for x in v] if isinstance(v, list) else
                (stranger if v == foreign else v))
            for k, v in body.items()
        }  # fmt: skip
        control = globex.post_json(path, control_body, headers=PHOTO)
        assert control.status_code == 404
        assert _same_error(response.json(), control.json(), [foreign], [stranger])
    # the attacker's own calls still work, and the victim's faceId still does for the victim
    assert globex.post_json("/identify", {"galleryId": g, "faceIds": [mine]}).status_code == 200
    own = acme.post_json("/verify", {"faceId1": theirs, "faceId2": theirs}, headers=PHOTO)
    assert own.status_code == 200 and own.json()["isIdentical"] is True


def test_removing_a_face_that_is_not_there_is_not_found(globex, attacker) -> None:
    """The table client's delete does not fail on a missing row: the answer must still be
    404, for a random id and for a face of another person of the same customer."""
    g, p = attacker["galleryId"], attacker["personId"]
    other = globex.post_json(f"/galleries/{g}/persons", {"name": "Q"}).json()["personId"]
    for path in (
        f"/galleries/{g}/persons/{p}/faces/{uuid.uuid4()}",
        f"/galleries/{g}/persons/{other}/faces/{attacker['persistedFaceId']}",
    ):
        response = globex.request("DELETE", path)
        assert (response.status_code, response.json()["error"]["code"]) == (404, "NotFound")
    _victim_intact_person(globex, g, p, attacker["persistedFaceId"])


def _victim_intact_person(client, gallery: str, person: str, face: str) -> None:
    got = client.request("GET", f"/galleries/{gallery}/persons/{person}").json()
    assert got["persistedFaceIds"] == [face]
