"""Microsoft's Face client library (azure-ai-vision-face), unchanged, against FaceGate.

The real SDK talks real HTTP to the dev host at ``{app}/api`` (its endpoint), so its
requests hit ``/api/face/v1.2-preview.1/...``; the customer key is its
``AzureKeyCredential``. Behind the routes: the same gate, audit and isolation.
"""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
import requests
from azure.ai.vision.face import FaceAdministrationClient, FaceClient
from azure.ai.vision.face.models import (
    FaceAttributeTypeDetection03,
    FaceAttributeTypeRecognition04,
    FaceDetectionModel,
    FaceRecognitionModel,
)
from azure.core.credentials import AzureKeyCredential
from azure.core.exceptions import (
    ClientAuthenticationError,
    HttpResponseError,
    ResourceExistsError,
    ResourceNotFoundError,
)

from shared.biometrics import faceids
from shared.policy import audit_rows
from tests.data import make_photos as photos
from tests.e2e.conftest import Client, _tenant

ASTRONAUT = photos.ASTRONAUT.read_bytes()
HOPPER = photos.GRACE_HOPPER.read_bytes()
DETECT = {
    "detection_model": FaceDetectionModel.DETECTION03,
    "recognition_model": FaceRecognitionModel.RECOGNITION04,
}


def face_client(client: Client) -> FaceClient:
    return FaceClient(f"{client.base}/api", AzureKeyCredential(client.key or ""))


def admin_client(client: Client) -> FaceAdministrationClient:
    return FaceAdministrationClient(f"{client.base}/api", AzureKeyCredential(client.key or ""))


def face_id_of(client: Client, image: bytes) -> str:
    faces = face_client(client).detect(image, return_face_id=True, **DETECT)
    assert len(faces) == 1
    return faces[0].face_id


def error_of(raised: pytest.ExceptionInfo) -> tuple[int, str]:
    exc = raised.value
    return exc.status_code, exc.error.code


@pytest.fixture(scope="module")
def detect_only(app) -> Client:
    return _tenant(app, "detectonly", actions=("detect",))


def test_detect_returns_faceid_27_landmarks_and_attributes(acme) -> None:
    faces = face_client(acme).detect(
        ASTRONAUT,
        return_face_id=True,
        return_face_landmarks=True,
        return_face_attributes=[
            FaceAttributeTypeDetection03.HEAD_POSE,
            FaceAttributeTypeDetection03.BLUR,
            FaceAttributeTypeRecognition04.QUALITY_FOR_RECOGNITION,
        ],
        return_recognition_model=True,
        face_id_time_to_live=120,
        **DETECT,
    )
    assert len(faces) == 1
    face = faces[0]
    assert uuid.UUID(face.face_id)
    assert face.recognition_model == "recognition_04"
    r = face.face_rectangle
    assert 150 <= r.left <= 220 and 40 <= r.top <= 100 and r.width > 50
    marks = face.face_landmarks
    assert marks.pupil_left.x < marks.pupil_right.x
    assert marks.eyebrow_left_outer.x < marks.eyebrow_left_inner.x < marks.eyebrow_right_inner.x
    assert marks.upper_lip_top.y < marks.under_lip_bottom.y
    assert len(face.face_landmarks.keys()) == 27
    attributes = face.face_attributes
    assert set(attributes.keys()) == {"headPose", "blur", "qualityForRecognition"}
    assert abs(attributes.head_pose.yaw) < 30
    assert attributes.blur.blur_level in ("low", "medium", "high")
    assert attributes.quality_for_recognition in ("high", "medium")
    # faceIdTimeToLive: the template expires in 120 s, not 24 h
    stored = faceids.load(acme.customer_id, face.face_id)
    left = (stored.expires - dt.datetime.now(dt.UTC)).total_seconds()
    assert 60 < left <= 120


def test_azure_defaults_return_face_id_true_and_nothing_else(acme) -> None:
    body = requests.post(
        f"{acme.base}/api/face/v1.2-preview.1/detect",
        data=ASTRONAUT,
        headers={"Ocp-Apim-Subscription-Key": acme.key, "Content-Type": "application/octet-stream"},
        timeout=120,
    ).json()
    assert len(body) == 1 and set(body[0]) == {"faceId", "faceRectangle"}
    faces = face_client(acme).detect(ASTRONAUT, return_face_id=False, **DETECT)
    assert faces[0].face_id is None and faces[0].face_landmarks is None


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"recognition_model": "recognition_01"}, "BadArgument"),
        ({"detection_model": "detection_09"}, "BadArgument"),
        ({"return_face_attributes": ["glasses"]}, "BadArgument"),
        ({"return_face_attributes": ["exposure"]}, "BadArgument"),  # not with detection_03
        ({"face_id_time_to_live": 30}, "BadArgument"),
    ],
)
def test_unsupported_models_and_attributes_get_azures_error(acme, kwargs, code) -> None:
    args = {**DETECT, "return_face_id": True, **kwargs}
    with pytest.raises(HttpResponseError) as raised:
        face_client(acme).detect(ASTRONAUT, **args)
    assert error_of(raised) == (400, code)


def test_image_over_6_mb_is_invalid_image_size(acme) -> None:
    big = ASTRONAUT + b"\0" * (6 * 1024 * 1024)
    with pytest.raises(HttpResponseError) as raised:
        face_client(acme).detect(big, return_face_id=False, **DETECT)
    assert error_of(raised) == (400, "InvalidImageSize")


def test_a_bad_key_is_azures_401(app) -> None:
    stranger = Client(app.url, "fg_not-a-key")
    with pytest.raises(ClientAuthenticationError) as raised:
        face_client(stranger).detect(ASTRONAUT, return_face_id=False, **DETECT)
    assert raised.value.status_code == 401 and raised.value.error.code == "401"
    # as in Azure, the key is checked before the arguments
    with pytest.raises(ClientAuthenticationError):
        face_client(stranger).detect(ASTRONAUT, return_face_id=True, detection_model="nope",
                                     recognition_model="recognition_04")  # fmt: skip


def test_a_denied_feature_is_unsupported_feature_and_audited(detect_only) -> None:
    with pytest.raises(HttpResponseError) as raised:
        face_client(detect_only).detect(ASTRONAUT, return_face_id=True, **DETECT)
    assert error_of(raised) == (403, "UnsupportedFeature")
    rows = audit_rows(detect_only.customer_id, dt.datetime.now(dt.UTC).date())
    assert any(
        r["decision"] == "deny"
        and r["action"] == "createTemplate"
        and r["policyIds"] == ["template-needs-recognition-approval"]
        for r in rows
    )  # one decision: detect allow, createTemplate deny (no verify/identify rows)
    # detection alone is allowed
    assert len(face_client(detect_only).detect(ASTRONAUT, return_face_id=False, **DETECT)) == 1


def test_large_person_group_lifecycle_train_identify_verify(acme) -> None:
    groups = admin_client(acme).large_person_group
    group = f"sdk-{uuid.uuid4().hex[:8]}"
    groups.create(group, name="Crew", user_data="first", recognition_model="recognition_04")
    with pytest.raises(ResourceExistsError) as exists:
        groups.create(group, name="Crew again")
    assert exists.value.error.code == "LargePersonGroupExists"
    got = groups.get(group, return_recognition_model=True)
    assert (got.large_person_group_id, got.name, got.recognition_model) == (
        group,
        "Crew",
        "recognition_04",
    )
    groups.update(group, name="Crew 2", user_data="second")
    assert groups.get(group).name == "Crew 2"
    assert group in [g.large_person_group_id for g in groups.get_large_person_groups()]

    eileen = groups.create_person(group, name="Eileen", user_data="astronaut").person_id
    grace = groups.create_person(group, name="Grace").person_id
    face = groups.add_face(group, eileen, ASTRONAUT, user_data="portrait").persisted_face_id
    groups.add_face(group, grace, HOPPER)
    assert groups.get_face(group, eileen, face).user_data == "portrait"
    groups.update_face(group, eileen, face, user_data="renamed")
    assert groups.get_face(group, eileen, face).user_data == "renamed"
    groups.update_person(group, eileen, name="Eileen Collins")
    person = groups.get_person(group, eileen)
    assert (person.name, person.persisted_face_ids) == ("Eileen Collins", [face])
    listed = groups.get_persons(group)
    assert sorted(p.person_id for p in listed) == sorted([eileen, grace])
    assert [p.person_id for p in groups.get_persons(group, top=1)] == [min(eileen, grace)]

    poller = groups.begin_train(group, polling_interval=0.1)
    poller.result(timeout=60)
    assert poller.status().lower() == "succeeded"
    assert groups.get_training_status(group).status == "succeeded"

    faces = face_client(acme)
    probe = face_id_of(acme, ASTRONAUT)
    other = face_id_of(acme, HOPPER)
    identified = faces.identify_from_large_person_group(
        face_ids=[probe], large_person_group_id=group
    )
    assert [c.person_id for c in identified[0].candidates][:1] == [eileen]
    same = faces.verify_from_large_person_group(
        face_id=probe, large_person_group_id=group, person_id=eileen
    )
    assert same.is_identical is True and same.confidence >= 0.5
    assert faces.verify_face_to_face(face_id1=probe, face_id2=other).is_identical is False
    similar = faces.find_similar(face_id=probe, face_ids=[other, face_id_of(acme, ASTRONAUT)])
    assert len(similar) == 1 and similar[0].face_id != other
    ranked = faces.find_similar(face_id=probe, face_ids=[other], mode="matchFace")
    assert [s.face_id for s in ranked] == [other] and ranked[0].confidence < 0.5

    groups.delete_face(group, eileen, face)
    with pytest.raises(ResourceNotFoundError) as gone:
        groups.get_face(group, eileen, face)
    assert gone.value.error.code == "PersistedFaceNotFound"
    groups.delete_person(group, grace)
    with pytest.raises(ResourceNotFoundError) as gone:
        groups.get_person(group, grace)
    assert gone.value.error.code == "PersonNotFound"
    groups.delete(group)
    with pytest.raises(ResourceNotFoundError) as gone:
        groups.get(group)
    assert gone.value.error.code == "LargePersonGroupNotFound"


def test_another_customers_group_and_faces_are_not_found(acme, globex) -> None:
    groups = admin_client(acme).large_person_group
    group = f"iso-{uuid.uuid4().hex[:8]}"
    groups.create(group, name="Acme's")
    person = groups.create_person(group, name="P").person_id
    probe = face_id_of(acme, ASTRONAUT)
    theirs = admin_client(globex).large_person_group
    for call in (
        lambda: theirs.get(group),
        lambda: theirs.get_person(group, person),
        lambda: theirs.update(group, name="mine now"),
        lambda: theirs.begin_train(group).result(),
    ):
        with pytest.raises(ResourceNotFoundError):
            call()
    with pytest.raises(ResourceNotFoundError) as raised:
        face_client(globex).verify_face_to_face(face_id1=probe, face_id2=probe)
    assert raised.value.error.code == "FaceNotFound"
    assert groups.get(group).name == "Acme's"
    groups.delete(group)


def test_unknown_api_version_is_not_found(acme) -> None:
    response = requests.post(
        f"{acme.base}/api/face/v9.9/detect",
        data=ASTRONAUT,
        headers={"Ocp-Apim-Subscription-Key": acme.key},
        timeout=60,
    )
    assert response.status_code == 404 and response.json()["error"]["code"] == "NotFound"
