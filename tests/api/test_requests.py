"""Parsing and bounding of what callers send: every rejection names the field."""

import json
import uuid

import pytest

from shared.api import requests as api
from shared.errors import BadArgument, PayloadTooLarge

A, B = str(uuid.uuid4()), str(uuid.uuid4())


def test_detect_options_defaults_and_actions():
    options = api.parse_detect_options({})
    assert options == api.DetectOptions()
    assert options.actions == ["detect"]
    options = api.parse_detect_options(
        {"returnFaceAttributes": "emotion, HEADPOSE,age,emotion", "returnFaceId": "true"}
    )
    assert options.attributes == ("emotion", "headPose", "age")
    assert options.actions == ["detect", "emotion", "age", "createTemplate"]
    assert options.return_face_id is True


@pytest.mark.parametrize(
    "params",
    [
        {"returnFaceAttributes": "age,facialHair"},
        {"returnFaceId": "yes please"},
        {"returnFaceLandmarks": "2"},
        {"maxFaces": "0"},
        {"maxFaces": "101"},
        {"maxFaces": "-1"},
        {"maxFaces": "ten"},
    ],
)
def test_bad_detect_options_are_bad_arguments(params):
    with pytest.raises(BadArgument):
        api.parse_detect_options(params)


def test_image_bounds():
    assert api.bound_image(b"abc") == b"abc"
    with pytest.raises(BadArgument):
        api.bound_image(b"")
    with pytest.raises(PayloadTooLarge):
        api.bound_image(b"x", declared_length=str(api.MAX_IMAGE_BYTES + 1))
    with pytest.raises(PayloadTooLarge):
        api.bound_image(b"x" * (api.MAX_IMAGE_BYTES + 1))


@pytest.mark.parametrize(
    "body",
    [b"", b"not json", b"[1, 2]", b'"text"', b"\xff\xfe", b"[" * 100000 + b"]" * 100000],
)
def test_json_body_must_be_an_object(body):
    with pytest.raises((BadArgument, PayloadTooLarge)):
        api.parse_json_body(body)


def test_json_body_bounded():
    with pytest.raises(PayloadTooLarge):
        api.parse_json_body(b"{}", declared_length="99999999")
    assert api.parse_json_body(b'{"a": 1}') == {"a": 1}


def test_verify_shapes():
    assert api.parse_verify({"faceId1": A, "faceId2": B}) == api.VerifyFaces(A, B)
    got = api.parse_verify({"faceId": A, "galleryId": "staff", "personId": B})
    assert got == api.VerifyPerson(A, "staff", B)
    for bad in (
        {},
        {"faceId1": A},
        {"faceId1": "x", "faceId2": B},
        {"faceId": A, "galleryId": "Bad Id", "personId": B},
        {"faceId": A, "galleryId": "staff", "personId": 7},
    ):
        with pytest.raises(BadArgument):
            api.parse_verify(bad)


def test_identify_bounds():
    got = api.parse_identify({"galleryId": "staff", "faceIds": [A]})
    assert got == api.IdentifyRequest("staff", (A,), 1, None)
    got = api.parse_identify(
        {
            "galleryId": "staff",
            "faceIds": [A, B],
            "maxNumOfCandidatesReturned": 5,
            "confidenceThreshold": 0.7,
        }
    )
    assert got.max_candidates == 5 and got.threshold == 0.7
    many = [str(uuid.uuid4()) for _ in range(11)]
    for bad in (
        {"galleryId": "staff"},
        {"galleryId": "staff", "faceIds": []},
        {"galleryId": "staff", "faceIds": many},
        {"galleryId": "staff", "faceIds": [A, A]},
        {"galleryId": "staff", "faceIds": [A], "maxNumOfCandidatesReturned": 0},
        {"galleryId": "staff", "faceIds": [A], "maxNumOfCandidatesReturned": True},
        {"galleryId": "staff", "faceIds": [A], "confidenceThreshold": 1.5},
        {"galleryId": "staff", "faceIds": [A], "confidenceThreshold": "high"},
        {"galleryId": "", "faceIds": [A]},
    ):
        with pytest.raises(BadArgument):
            api.parse_identify(bad)


def test_error_messages_do_not_echo_huge_input():
    with pytest.raises(BadArgument) as raised:
        api.parse_detect_options({"returnFaceAttributes": "x" * 10000})
    assert len(raised.value.message) < 300
    json.dumps(raised.value.details)
