"""Tenant isolation: another customer's ids are 404 on every route that takes an id.

The routes come from the app's own metadata, so a new route without a case here
fails this test instead of escaping the check.
"""

from __future__ import annotations

import pytest

from tests.data import make_photos as photos
from tests.support.metadata import customer_api_routes
from tests.support.resources import customer_resources

PHOTO = {"X-Capture-Context": "photo"}
# Routes that take no id of any customer's resource.
NO_IDS = {"health", "openapi", "detect", "galleries_list"}


@pytest.fixture(scope="module")
def acme_things(acme):
    """A gallery, a person, an enrolled face and a faceId, all acme's."""
    return customer_resources(acme, "iso")


def cases(ids: dict[str, str], own_face_id: str) -> dict[str, list[tuple[str, str, dict | None]]]:
    """Function name -> requests (method, path, json body) made with acme's ids."""
    g, p, f = ids["galleryId"], ids["personId"], ids["persistedFaceId"]
    return {
        "gallery_get": [("GET", f"/galleries/{g}", None)],
        "gallery_delete": [("DELETE", f"/galleries/{g}", None)],
        "persons_add": [("POST", f"/galleries/{g}/persons", {"name": "intruder"})],
        "persons_list": [("GET", f"/galleries/{g}/persons", None)],
        "person_get": [("GET", f"/galleries/{g}/persons/{p}", None)],
        "person_delete": [("DELETE", f"/galleries/{g}/persons/{p}", None)],
        "faces_add": [("POST", f"/galleries/{g}/persons/{p}/faces", None)],
        "face_delete": [("DELETE", f"/galleries/{g}/persons/{p}/faces/{f}", None)],
        "verify": [
            ("POST", "/verify", {"faceId1": ids["faceId"], "faceId2": own_face_id}),
            ("POST", "/verify", {"faceId1": own_face_id, "faceId2": ids["faceId"]}),
            ("POST", "/verify", {"faceId": own_face_id, "galleryId": g, "personId": p}),
        ],
        "identify": [
            ("POST", "/identify", {"galleryId": g, "faceIds": [own_face_id]}),
            ("POST", "/identify", {"galleryId": "mine", "faceIds": [ids["faceId"]]}),
        ],
        # PUT creates the caller's own gallery: same id, separate namespace (checked below)
        "gallery_put": [],
    }


def test_every_route_with_an_id_is_covered():
    covered = set(
        cases(dict.fromkeys(["galleryId", "personId", "persistedFaceId", "faceId"], "x"), "y")
    )
    routes = customer_api_routes()
    assert set(routes) == covered | NO_IDS, "a route was added: give it an isolation case"
    for name in NO_IDS:
        assert "{" not in routes[name][0]


def test_other_customers_ids_are_not_found(acme_things, globex):
    own = globex.detect(photos.ASTRONAUT.read_bytes(), "returnFaceId=true", headers=PHOTO)
    own_face_id = own.json()[0]["faceId"]
    assert globex.request("PUT", "/galleries/mine", json={"name": "mine"}).status_code in (200, 409)
    image = photos.ASTRONAUT.read_bytes()
    for name, requests_ in cases(acme_things, own_face_id).items():
        for method, path, body in requests_:
            if name == "faces_add":
                response = globex.request(method, path, data=image, headers=PHOTO)
            else:
                response = globex.request(method, path, json=body, headers=PHOTO)
            assert response.status_code == 404, f"{name}: {method} {path} -> {response.text}"
            assert response.json()["error"]["code"] == "NotFound"


def test_same_gallery_id_is_a_separate_namespace(acme, acme_things, globex):
    gallery = acme_things["galleryId"]
    assert (
        globex.request("PUT", f"/galleries/{gallery}", json={"name": "Globex's"}).status_code == 200
    )
    assert globex.request("GET", f"/galleries/{gallery}/persons").json() == []
    assert acme.request("GET", f"/galleries/{gallery}").json()["name"] == "iso"
    persons = acme.request("GET", f"/galleries/{gallery}/persons").json()
    assert [p["personId"] for p in persons] == [acme_things["personId"]]
    assert persons[0]["persistedFaceIds"] == [acme_things["persistedFaceId"]]
    assert gallery not in [
        g["galleryId"] for g in globex.request("GET", "/galleries").json() if g["name"] == "iso"
    ]
    globex.request("DELETE", f"/galleries/{gallery}")
    assert acme.request("GET", f"/galleries/{gallery}").status_code == 200
