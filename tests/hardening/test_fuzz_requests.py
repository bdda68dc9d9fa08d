"""Fuzzing every parser of what an HTTP caller sends (shared/api/requests.py and friends).

Query options, Content-Length, raw bodies, JSON bodies of verify/identify/galleries,
ids, capture context and purpose headers: each either returns a value that keeps
its documented bounds, or raises BadArgument / PayloadTooLarge. Any other exception
would be a 500 in production.
"""

from __future__ import annotations

import json
import string
import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared import attributes as attribute_registry
from shared.api import requests as api
from shared.biometrics import store
from shared.errors import BadArgument, FaceGateError, PayloadTooLarge
from shared.identifiers import gallery_id, uuid_id
from shared.policy import context_from, model
from tests.hardening.fuzzing import fuzz_settings, outcome, target

pytestmark = pytest.mark.fuzz

REFUSALS = (BadArgument, PayloadTooLarge)

# Text that breaks naive parsing: digits that are not ASCII (Arabic-Indic, superscripts,
# fullwidth), signs, spaces, huge numbers, NUL, surrogates, right-to-left marks.
TRICKY = st.sampled_from(
    [
        "",
        " ",
        "0",
        "1",
        "100",
        "101",
        "-1",
        "+5",
        "1e3",
        "٣",
        "²",
        "１０",
        "9" * 5000,
        "true",
        "TRUE",
        " false ",
        "yes",
        "\x00",
        "\u202e",
        "\ud800",
        "age,age,AGE",
        "headPose,,blur",
        "emotion ,gender",
        ",",
        "photo",
        "body-camera",
        "Realtime",
        "x" * 300,
        str(uuid.uuid4()),
        str(uuid.uuid4()).upper(),
        "{" + str(uuid.uuid4()) + "}",
        "urn:uuid:" + str(uuid.uuid4()),
        "0" * 32,
        "0_" * 16,
        "٠" * 32,
    ]
)
TEXT = st.one_of(TRICKY, st.text(max_size=80), st.text(alphabet=string.printable, max_size=40))
QUERY_NAMES = ["returnFaceId", "returnFaceLandmarks", "returnFaceAttributes", "maxFaces"]


def refused(name: str, error: FaceGateError) -> None:
    assert isinstance(error, REFUSALS), f"{type(error).__name__} is not a refusal"
    assert error.code in ("BadArgument", "PayloadTooLarge")
    assert error.message and len(error.message) < 500
    outcome(name, error.code)


@fuzz_settings()
@given(st.dictionaries(st.one_of(st.sampled_from(QUERY_NAMES), st.text(max_size=10)), TEXT))
@target("requests/detect-query")
def test_fuzz_detect_query(params: dict[str, str]) -> None:
    try:
        options = api.parse_detect_options(params)
    except REFUSALS as error:
        refused("requests/detect-query", error)
        return
    assert 1 <= options.max_faces <= 100
    assert set(options.attributes) <= set(attribute_registry.NAMES)
    assert len(set(options.attributes)) == len(options.attributes)
    assert options.actions[0] == "detect" and set(options.actions) <= set(model.GATE_ACTIONS)
    outcome("requests/detect-query", "accepted")


@fuzz_settings()
@given(st.one_of(st.none(), st.binary(max_size=64)), st.one_of(st.none(), TEXT))
@target("requests/image-body")
def test_fuzz_image_body(body: bytes | None, declared_length: str | None) -> None:
    try:
        image = api.bound_image(body, declared_length)
    except REFUSALS as error:
        refused("requests/image-body", error)
        return
    assert image == body and 0 < len(image) <= api.MAX_IMAGE_BYTES
    outcome("requests/image-body", "accepted")


JSON_VALUES = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.floats(allow_nan=True, allow_infinity=True),
        TEXT,
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=12), st.dictionaries(st.text(max_size=12), inner, max_size=6)
    ),
    max_leaves=24,
)


def _raw_json(value: object, draw: st.DataObject) -> bytes:
    """Serialise, sometimes with JSON extensions Python accepts (NaN) or broken text."""
    text = json.dumps(value, allow_nan=True)
    how = draw.draw(st.sampled_from(["plain", "plain", "utf16", "cut", "deep", "junk"]))
    if how == "utf16":
        return text.encode("utf-16")
    if how == "cut":
        return text.encode()[: draw.draw(st.integers(0, max(0, len(text) - 1)))]
    if how == "deep":
        depth = draw.draw(st.sampled_from([10, 1000, 20000]))
        return ("[" * depth + "]" * depth).encode()
    if how == "junk":
        return text.encode() + draw.draw(st.binary(min_size=1, max_size=8))
    return text.encode()


@fuzz_settings()
@given(JSON_VALUES, st.one_of(st.none(), TEXT), st.data())
@target("requests/json-body")
def test_fuzz_json_body(value: object, declared_length: str | None, data: st.DataObject) -> None:
    body = _raw_json(value, data)
    try:
        parsed = api.parse_json_body(body, declared_length)
    except REFUSALS as error:
        refused("requests/json-body", error)
        return
    assert isinstance(parsed, dict)
    outcome("requests/json-body", "accepted")


def _ids() -> st.SearchStrategy[object]:
    return st.one_of(JSON_VALUES, st.uuids().map(str), st.uuids().map(str), TEXT)


GALLERY_IDS = st.one_of(st.from_regex(r"[a-z0-9_-]{1,64}", fullmatch=True), _ids())


VERIFY_BODIES = st.one_of(
    st.fixed_dictionaries({"faceId1": _ids(), "faceId2": _ids()}),
    st.fixed_dictionaries({"faceId": _ids(), "galleryId": GALLERY_IDS, "personId": _ids()}),
    st.dictionaries(
        st.sampled_from(["faceId1", "faceId2", "faceId", "galleryId", "personId", "x"]), _ids()
    ),
)


@fuzz_settings()
@given(VERIFY_BODIES)
@target("requests/verify-body")
def test_fuzz_verify_body(body: dict) -> None:
    try:
        request = api.parse_verify(body)
    except REFUSALS as error:
        refused("requests/verify-body", error)
        return
    if isinstance(request, api.VerifyFaces):
        ids = [request.face_id1, request.face_id2]
    else:
        ids = [request.face_id, request.person_id]
        assert gallery_id(request.gallery_id) == request.gallery_id
    assert all(str(uuid.UUID(i)) == i for i in ids), "ids must come out canonical"
    outcome("requests/verify-body", type(request).__name__)


IDENTIFY_BODIES = st.fixed_dictionaries(
    {
        "galleryId": GALLERY_IDS,
        "faceIds": st.one_of(
            st.lists(st.uuids().map(str), min_size=1, max_size=11),
            st.lists(_ids(), max_size=12),
            JSON_VALUES,
        ),
    },
    optional={
        "maxNumOfCandidatesReturned": st.one_of(st.integers(-5, 105), JSON_VALUES),
        "confidenceThreshold": st.one_of(st.floats(-1, 2), JSON_VALUES),
    },
)


@fuzz_settings()
@given(IDENTIFY_BODIES)
@target("requests/identify-body")
def test_fuzz_identify_body(body: dict) -> None:
    try:
        request = api.parse_identify(body)
    except REFUSALS as error:
        refused("requests/identify-body", error)
        return
    assert 1 <= len(request.face_ids) <= api.MAX_IDENTIFY_FACES
    assert len(set(request.face_ids)) == len(request.face_ids)
    assert all(str(uuid.UUID(i)) == i for i in request.face_ids)
    assert 1 <= request.max_candidates <= api.MAX_CANDIDATES
    assert request.threshold is None or 0.0 <= request.threshold <= 1.0
    assert gallery_id(request.gallery_id) == request.gallery_id
    outcome("requests/identify-body", "accepted")


@fuzz_settings()
@given(
    st.fixed_dictionaries({}, optional={"name": JSON_VALUES, "userData": JSON_VALUES}),
    st.sampled_from([("name", store.MAX_NAME, True), ("userData", store.MAX_USER_DATA, False)]),
)
@target("requests/gallery-body")
def test_fuzz_gallery_and_person_bodies(body: dict, field: tuple[str, int, bool]) -> None:
    name, limit, required = field
    try:
        text = store.check_text(body.get(name), name, limit, required=required)
    except REFUSALS as error:
        refused("requests/gallery-body", error)
        return
    assert isinstance(text, str) and len(text) <= limit
    outcome("requests/gallery-body", "accepted")


@fuzz_settings()
@given(
    st.one_of(_ids(), GALLERY_IDS),
    st.sampled_from(["galleryId", "personId", "faceId", "persistedFaceId"]),
)
@target("requests/ids")
def test_fuzz_ids(value: object, field: str) -> None:
    try:
        parsed = gallery_id(value) if field == "galleryId" else uuid_id(value, field)
    except REFUSALS as error:
        refused("requests/ids", error)
        return
    if field == "galleryId":
        assert parsed == value and len(parsed) <= 64 and parsed.isascii()
    else:
        assert str(uuid.UUID(parsed)) == parsed
    outcome("requests/ids", field)


@fuzz_settings()
@given(st.one_of(st.none(), TEXT), st.one_of(st.none(), TEXT), st.one_of(st.none(), TEXT))
@target("requests/context-headers")
def test_fuzz_context_headers(capture: str | None, purpose: str | None, request_id: str | None):
    """X-Capture-Context and X-Purpose (and a request id) become a validated Context."""
    try:
        context = context_from(
            capture=capture, channel="http", purpose=purpose, request_id=request_id
        )
    except REFUSALS as error:
        refused("requests/context-headers", error)
        return
    assert context.capture in (*model.CAPTURES, model.UNKNOWN_CAPTURE)
    assert context.purpose is None or model.PURPOSE.fullmatch(context.purpose)
    assert 1 <= len(context.request_id) <= 128
    outcome("requests/context-headers", "accepted")
