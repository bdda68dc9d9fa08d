"""Tenant isolation: another customer's ids are 404 on every route that takes an id.

The routes come from the app's own metadata, so a new route without a case here
fails this test instead of escaping the check.
"""

from __future__ import annotations

import pytest

from tests.data import make_photos as photos
from tests.support.metadata import http_routes
from tests.support.resources import customer_resources

PHOTO = {"X-Capture-Context": "photo"}
# Routes that take no id of any customer's resource.
NO_IDS = {"health", "openapi", "detect", "galleries_list", "azure_detect", "azure_groups_list"}
AZURE = "/face/v1.2-preview.1"


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


def azure_cases(
    ids: dict[str, str], own_face_id: str, operation_id: str
) -> dict[str, list[tuple[str, str, dict | None]]]:
    """The same for Azure's route family (function name -> requests with acme's ids)."""
    g, p, f = ids["galleryId"], ids["personId"], ids["persistedFaceId"]
    group, person = f"{AZURE}/largepersongroups/{g}", f"{AZURE}/largepersongroups/{g}/persons/{p}"
    face = f"{person}/persistedfaces/{f}"
    return {
        "azure_group_get": [("GET", group, None)],
        "azure_group_update": [("PATCH", group, {"name": "intruder"})],
        "azure_group_delete": [("DELETE", group, None)],
        "azure_group_train": [("POST", f"{group}/train", None)],
        "azure_group_training": [("GET", f"{group}/training", None)],
        "azure_persons_create": [("POST", f"{group}/persons", {"name": "intruder"})],
        "azure_persons_list": [("GET", f"{group}/persons", None)],
        "azure_person_get": [("GET", person, None)],
        "azure_person_update": [("PATCH", person, {"name": "intruder"})],
        "azure_person_delete": [("DELETE", person, None)],
        "azure_face_add": [("POST", f"{person}/persistedfaces", None)],
        "azure_face_get": [("GET", face, None)],
        "azure_face_update": [("PATCH", face, {"userData": "intruder"})],
        "azure_face_delete": [("DELETE", face, None)],
        "azure_operation": [("GET", f"{AZURE}/operations/{operation_id}", None)],
        "azure_verify": [
            ("POST", f"{AZURE}/verify", {"faceId1": ids["faceId"], "faceId2": own_face_id}),
            (
                "POST",
                f"{AZURE}/verify",
                {"faceId": own_face_id, "largePersonGroupId": g, "personId": p},
            ),
        ],
        "azure_identify": [
            ("POST", f"{AZURE}/identify", {"largePersonGroupId": g, "faceIds": [own_face_id]}),
        ],
        "azure_find_similar": [
            ("POST", f"{AZURE}/findsimilars", {"faceId": ids["faceId"], "faceIds": [own_face_id]}),
            ("POST", f"{AZURE}/findsimilars", {"faceId": own_face_id, "faceIds": [ids["faceId"]]}),
        ],
        # PUT creates the caller's own group: same id, separate namespace
        "azure_group_create": [],
    }


def test_every_route_with_an_id_is_covered():
    ids = dict.fromkeys(["galleryId", "personId", "persistedFaceId", "faceId"], "x")
    covered = set(cases(ids, "y")) | set(azure_cases(ids, "y", "z"))
    routes = http_routes()
    assert set(routes) == covered | NO_IDS, "a route was added: give it an isolation case"
    for name in NO_IDS:  # the API version is no customer's id
        assert "{" not in routes[name][0].replace("{apiVersion}", "")


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


def test_other_customers_ids_are_not_found_on_azures_routes(acme, acme_things, globex):
    trained = acme.request(
        "POST", f"{AZURE}/largepersongroups/{acme_things['galleryId']}/train", check_contract=False
    )
    assert trained.status_code == 202, trained.text
    operation_id = trained.headers["Operation-Location"].rsplit("/", 1)[1]
    own = globex.request(
        "POST", f"{AZURE}/detect", data=photos.ASTRONAUT.read_bytes(), check_contract=False
    )
    own_face_id = own.json()[0]["faceId"]
    image = photos.ASTRONAUT.read_bytes()
    for name, requests_ in azure_cases(acme_things, own_face_id, operation_id).items():
        for method, path, body in requests_:
            kwargs = {"data": image} if name == "azure_face_add" else {"json": body}
            response = globex.request(method, path, check_contract=False, **kwargs)
            assert response.status_code == 404, f"{name}: {method} {path} -> {response.text}"
            assert response.json()["error"]["code"].endswith("NotFound"), response.text
    # and acme still sees its own operation and group, unchanged
    assert (
        acme.request("GET", f"{AZURE}/operations/{operation_id}", check_contract=False).json()[
            "status"
        ]
        == "succeeded"
    )
    group = acme.request(
        "GET", f"{AZURE}/largepersongroups/{acme_things['galleryId']}", check_contract=False
    )
    assert group.json()["name"] == "iso"
