"""POST /api/detect over real HTTP: faces, errors, and the gate."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import numpy as np
import pytest

from shared.policy import audit_rows
from tests.data import make_photos as photos
from tests.e2e.conftest import PURPOSE, Client, _tenant, error_code

ASTRONAUT = photos.ASTRONAUT.read_bytes()
ALL_ATTRIBUTES = "headPose,blur,exposure,qualityForRecognition,age,gender,emotion"


def test_health_and_openapi_are_anonymous(anonymous):
    health = anonymous.request("GET", "/health")
    assert health.status_code == 200
    assert health.json()["status"] == "ok"
    assert {m["name"] for m in health.json()["models"]["available"]} >= {"dlib_resnet_128"}
    spec = anonymous.request("GET", "/openapi.json")
    assert spec.status_code == 200 and spec.json()["openapi"].startswith("3.1")


def test_detect_one_face_with_everything(acme):
    response = acme.detect(
        ASTRONAUT, f"returnFaceLandmarks=true&returnFaceAttributes={ALL_ATTRIBUTES}",
        headers={"X-Capture-Context": "photo", "X-Purpose": "product-demo"},
    )  # fmt: skip
    assert response.status_code == 200, response.text
    faces = response.json()
    assert len(faces) == 1
    face = faces[0]
    rect = face["faceRectangle"]
    assert 60 < rect["width"] < 300 and 0 <= rect["left"] < 512 - rect["width"]
    marks = face["faceLandmarks"]
    assert marks["pupilLeft"]["y"] < marks["noseTip"]["y"] < marks["mouthLeft"]["y"]
    attributes = face["faceAttributes"]
    assert set(attributes) >= {"headPose", "blur", "exposure", "qualityForRecognition", "age"}
    assert abs(sum(attributes["emotion"].values()) - 1) < 1e-3
    assert response.headers["x-request-id"]
    assert "faceId" not in face  # returnFaceId defaults to false: no template is kept


def test_detect_without_options_gives_rectangles_only(acme):
    faces = acme.detect(ASTRONAUT).json()
    assert list(faces[0]) == ["faceRectangle"]


def test_several_faces_come_largest_first(acme):
    image = photos.encode(photos.composite(), "JPEG", quality=92)
    faces = acme.detect(image).json()
    widths = [f["faceRectangle"]["width"] for f in faces]
    assert len(faces) == 4
    assert widths == sorted(widths, reverse=True)
    assert len(acme.detect(image, "maxFaces=2").json()) == 2


def test_no_face_is_an_empty_list(acme):
    blank = photos.encode(np.full((300, 300, 3), 127, np.uint8), "PNG")
    response = acme.detect(blank)
    assert response.status_code == 200 and response.json() == []


def test_keys_are_required(anonymous, acme):
    assert error_code(anonymous.detect(ASTRONAUT)) == "Unauthorized"
    wrong = type(acme)(acme.base, "not-a-real-key")
    response = wrong.detect(ASTRONAUT)
    assert response.status_code == 401 and error_code(response) == "Unauthorized"


def test_bad_input_gets_stable_codes(acme):
    cases = [
        (acme.detect(b""), 400, "BadArgument"),
        (acme.detect(b"this is not an image"), 400, "InvalidImage"),
        (acme.detect(ASTRONAUT[: len(ASTRONAUT) // 3]), 400, "InvalidImage"),
        (acme.detect(photos.encode(np.zeros((8, 8, 3), np.uint8), "PNG")), 400, "InvalidImageSize"),
        (acme.detect(b"\0" * (6 * 1024 * 1024 + 1)), 413, "PayloadTooLarge"),
        (acme.detect(ASTRONAUT, "returnFaceAttributes=age,hairColor"), 400, "BadArgument"),
        (acme.detect(ASTRONAUT, "returnFaceId=maybe"), 400, "BadArgument"),
        (acme.detect(ASTRONAUT, "maxFaces=0"), 400, "BadArgument"),
        (acme.detect(ASTRONAUT, headers={"X-Capture-Context": "drone"}), 400, "BadArgument"),
    ]
    for response, status, code in cases:
        assert (response.status_code, error_code(response)) == (status, code), response.text


def test_attributes_need_their_own_approval(workplace):
    allowed = workplace.detect(
        ASTRONAUT, "returnFaceAttributes=headPose,age", headers={"X-Purpose": "access-control"}
    )
    assert allowed.status_code == 200
    denied = workplace.detect(ASTRONAUT, "returnFaceAttributes=emotion")
    assert denied.status_code == 403
    error = denied.json()["error"]
    assert error["code"] == "PolicyDenied"
    assert "no-emotion-inference-at-work-or-school" in error["policyIds"]
    assert error["decisionId"]


def test_us_police_may_detect_but_not_recognise(us_police):
    assert us_police.detect(ASTRONAUT, headers={"X-Capture-Context": "photo"}).status_code == 200
    denied = us_police.detect(
        ASTRONAUT, "returnFaceId=true", headers={"X-Capture-Context": "photo"}
    )
    assert denied.status_code == 403
    assert "us-law-enforcement-moratorium" in denied.json()["error"]["policyIds"]


@pytest.fixture(scope="module")
def verify_only(app) -> Client:
    return _tenant(app, "verifier", actions=("detect", "verify"))


@pytest.fixture(scope="module")
def detect_only(app) -> Client:
    return _tenant(app, "detector", actions=("detect",))


def _decisions_of(client: Client, request_id: str) -> dict[str, list[tuple[str, str, str]]]:
    """decision id -> its audit group (action, decision, overall) for one HTTP request."""
    rows = audit_rows(client.customer_id, datetime.now(UTC).date())
    groups: dict[str, list[tuple[str, str, str]]] = {}
    for row in rows:
        if row["requestId"] == request_id:
            groups.setdefault(row["decisionId"], []).append(
                (row["action"], row["decision"], row["overall"])
            )
    return groups


def test_a_faceid_for_a_verify_only_customer_is_one_allowed_decision(verify_only):
    response = verify_only.detect(ASTRONAUT, "returnFaceId=true")
    assert response.status_code == 200, response.text
    assert response.json()[0]["faceId"]
    groups = _decisions_of(verify_only, response.headers["x-request-id"])
    assert list(groups.values()) == [
        [("detect", "allow", "allow"), ("createTemplate", "allow", "allow")]
    ]  # one decision, and no "identify deny" for an identify nobody asked for


def test_a_faceid_for_a_detect_only_customer_is_one_denied_decision(detect_only):
    response = detect_only.detect(ASTRONAUT, "returnFaceId=true")
    assert response.status_code == 403
    error = response.json()["error"]
    assert error["policyIds"] == ["template-needs-recognition-approval"]
    groups = _decisions_of(detect_only, response.headers["x-request-id"])
    assert list(groups) == [error["decisionId"]]
    assert groups[error["decisionId"]] == [
        ("detect", "allow", "deny"),
        ("createTemplate", "deny", "deny"),
    ]
    plain = detect_only.detect(ASTRONAUT)
    assert plain.status_code == 200
    assert len(_decisions_of(detect_only, plain.headers["x-request-id"])) == 1


def test_sensitive_attributes_need_a_stated_purpose_the_customer_declared(acme):
    """#19: declaring purposes in the registry is not enough; each request states its own."""
    age = "returnFaceAttributes=headPose,age"
    unstated = acme.detect(ASTRONAUT, age)
    assert unstated.status_code == 403
    assert unstated.json()["error"]["policyIds"] == ["attribute-inference-needs-purpose"]
    undeclared = acme.detect(ASTRONAUT, age, headers={"X-Purpose": "marketing"})
    assert undeclared.status_code == 403
    assert undeclared.json()["error"]["policyIds"] == ["purpose-not-declared"]
    stated = acme.detect(ASTRONAUT, age, headers={"X-Purpose": PURPOSE})
    assert stated.status_code == 200, stated.text
    assert "age" in stated.json()[0]["faceAttributes"]
    rows = _decisions_of(acme, stated.headers["x-request-id"])
    assert list(rows.values()) == [[("detect", "allow", "allow"), ("age", "allow", "allow")]]
    purposes = {
        r["purpose"]
        for r in audit_rows(acme.customer_id, datetime.now(UTC).date())
        if r["requestId"] == stated.headers["x-request-id"]
    }
    assert purposes == {PURPOSE}
    assert acme.detect(ASTRONAUT, "returnFaceAttributes=headPose,blur").status_code == 200


def test_concurrent_requests_each_make_exactly_one_decision(verify_only, detect_only):
    """Many requests at once, allowed and denied: every request id has one audit group."""
    callers = [verify_only, detect_only] * 8
    for _ in range(3):
        with ThreadPoolExecutor(len(callers)) as pool:
            responses = list(
                pool.map(lambda c: (c, c.detect(ASTRONAUT, "returnFaceId=true")), callers)
            )
        for client, response in responses:
            groups = _decisions_of(client, response.headers["x-request-id"])
            assert len(groups) == 1, groups
            ((decision_id, rows),) = groups.items()
            if client is verify_only:
                assert response.status_code == 200
                assert [r[1] for r in rows] == ["allow", "allow"]
            else:
                assert response.status_code == 403
                assert response.json()["error"]["decisionId"] == decision_id
                assert [r[1:] for r in rows] == [("allow", "deny"), ("deny", "deny")]
