"""The blob pipeline in-process against Azurite: one result per upload version, gate first.

Uploads are addressed as ``{customer}/{name}`` (tests.support.blobs): the name inside that
customer's uploads container.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import pytest

from shared import vision
from shared.biometrics import store
from shared.errors import BadArgument
from shared.pipeline import access, uploads
from shared.policy import audit_rows, registry
from shared.service import engine
from shared.storage import clients, names
from tests.data import make_photos as photos
from tests.support import blobs
from tools.dev.seed import seed_customer

ALL = ("detect", "age", "gender", "emotion", "verify", "identify", "enroll")


class NoVision:
    """Stands in for the analyzer where the test proves it is never reached."""

    calls = 0

    def analyze(self, *args, **kwargs):
        NoVision.calls += 1
        raise AssertionError("vision was called")


@pytest.fixture
def customer(azurite) -> str:
    return seed_customer(f"up-{uuid.uuid4().hex[:8]}", actions=ALL, purposes=("qa",))["customerId"]


def upload(customer: str, data: bytes, name: str | None = None, **metadata: str) -> str:
    return blobs.upload(customer, name or f"{uuid.uuid4().hex[:8]}.jpg", data, **metadata)


def process(path: str) -> dict | None:
    """What the function does with the BlobClient the host binds for this upload."""
    return uploads.process_upload(blobs.upload_client(path))


def result_of(path: str) -> tuple[dict, str] | None:
    blob = blobs.result_client(path)
    if not blob.exists():
        return None
    return json.loads(blob.download_blob().readall()), blob.get_blob_properties().etag


def upload_exists(path: str) -> bool:
    return blobs.upload_client(path).exists()


def test_good_upload_gets_a_result_and_is_deleted(customer):
    name = upload(customer, photos.ASTRONAUT.read_bytes(), features="detect,age", purpose="qa")
    process(name)
    result, _ = result_of(name)
    assert result["status"] == "succeeded"
    assert len(result["faces"]) == 1
    assert "age" in result["faces"][0]["faceAttributes"]
    assert "emotion" not in result["faces"][0]["faceAttributes"]
    assert result["features"] == ["detect", "age"]
    assert result["decisionId"] and result["models"]["recognitionModel"]
    assert not upload_exists(name)


def test_an_upload_is_one_decision_for_all_its_features(customer):
    """detect, age and identify against a gallery: one decision id, one audit group."""
    store.create_gallery(customer, "crew", "Crew", "", vision.RECOGNITION_MODEL)
    name = upload(
        customer, photos.ASTRONAUT.read_bytes(), features="age", galleryid="crew", purpose="qa"
    )
    process(name)
    result, _ = result_of(name)
    assert result["status"] == "succeeded", result
    rows = [
        r
        for r in audit_rows(customer, datetime.now(UTC).date())
        if r["requestId"] == result["requestId"]
    ]
    assert {r["decisionId"] for r in rows} == {result["decisionId"]}
    assert [(r["action"], r["decision"], r["channel"]) for r in rows] == [
        ("detect", "allow", "blob"),
        ("age", "allow", "blob"),
        ("identify", "allow", "blob"),
    ]


def test_redelivery_of_the_same_version_changes_nothing(customer):
    registry.update_customer(customer, retention="keep")
    registry.reset_caches()
    name = upload(customer, photos.ASTRONAUT.read_bytes())
    assert process(name) is not None
    first = result_of(name)
    assert process(name) is None  # already answered
    assert result_of(name) == first
    assert upload_exists(name)  # the customer keeps uploads
    # a new version of the same name is a new upload and gets a new result
    upload(customer, photos.GRACE_HOPPER.read_bytes(), name.split("/", 1)[1])
    process(name)
    second = result_of(name)
    assert second[1] != first[1] and second[0]["upload"]["etag"] != first[0]["upload"]["etag"]


def test_denied_upload_is_never_read(customer, monkeypatch):
    registry.update_customer(customer, status="suspended")
    registry.reset_caches()
    monkeypatch.setattr(engine, "analyzer", lambda: NoVision())
    name = upload(customer, photos.ASTRONAUT.read_bytes())
    process(name)
    result, _ = result_of(name)
    assert result["status"] == "failed"
    assert result["error"]["code"] == "PolicyDenied"
    assert "customer-not-active" in result["error"]["policyIds"]
    assert result["decisionId"] == result["error"]["decisionId"]
    assert "faces" not in result and "analyzeMs" not in result["timings"]
    assert NoVision.calls == 0
    assert not upload_exists(name)


@pytest.mark.parametrize(
    ("metadata", "policy"),
    [
        ({}, "attribute-inference-needs-purpose"),
        ({"purpose": "marketing"}, "purpose-not-declared"),
    ],
)
def test_sensitive_features_need_a_stated_purpose_the_customer_declared(
    customer, monkeypatch, metadata, policy
):
    """#19: an upload asking for emotion states a declared purpose in its metadata."""
    monkeypatch.setattr(engine, "analyzer", lambda: NoVision())
    name = upload(customer, photos.ASTRONAUT.read_bytes(), features="detect,emotion", **metadata)
    process(name)
    result, _ = result_of(name)
    assert result["status"] == "failed"
    assert result["error"]["code"] == "PolicyDenied"
    assert result["error"]["policyIds"] == [policy]
    assert "faces" not in result and NoVision.calls == 0


def test_unknown_customer_gets_a_failed_result(azurite):
    nobody = f"nobody-{uuid.uuid4().hex[:6]}"
    access.ensure_area(nobody)  # an area left behind by a customer no longer registered
    name = upload(nobody, photos.ASTRONAUT.read_bytes())
    process(name)
    result, _ = result_of(name)
    assert result["error"]["code"] == "UnknownCustomer"
    assert not upload_exists(name)


@pytest.mark.parametrize(
    ("data", "metadata", "code"),
    [
        (b"not an image at all", {}, "InvalidImage"),
        (photos.ASTRONAUT.read_bytes()[:5000], {}, "InvalidImage"),
        (b"\xff\xd8" + b"\0" * (6 * 1024 * 1024), {}, "InvalidImageSize"),
        (photos.ASTRONAUT.read_bytes(), {"features": "detect,mindreading"}, "BadArgument"),
        (photos.ASTRONAUT.read_bytes(), {"features": "identify"}, "BadArgument"),
        (photos.ASTRONAUT.read_bytes(), {"capturecontext": "satellite"}, "BadArgument"),
        (photos.ASTRONAUT.read_bytes(), {"galleryid": "no-such-gallery"}, "NotFound"),
    ],
)
def test_bad_uploads_fail_finally(customer, data, metadata, code):
    name = upload(customer, data, **metadata)
    process(name)  # returns normally: no retry for a final failure
    result, _ = result_of(name)
    assert (result["status"], result["error"]["code"]) == ("failed", code)
    assert "faces" not in result


def test_identify_against_a_gallery(customer):
    from shared.policy import Caller, context_from, get_customer
    from shared.service import galleries

    who = Caller(get_customer(customer), context_from("photo", "http", request_id="t"))
    galleries.create_gallery(who, "crew", {"name": "Crew"})
    person = galleries.create_person(who, "crew", {"name": "Eileen"})["personId"]
    galleries.add_face(who, "crew", person, photos.ASTRONAUT.read_bytes(), None)
    image = photos.encode(photos.composite((300, 260)), "JPEG")
    name = upload(customer, image, galleryid="crew", capturecontext="photo")
    process(name)
    result, _ = result_of(name)
    assert result["status"] == "succeeded", result
    found = sorted([c["personId"] for c in r["candidates"]] for r in result["identify"]["results"])
    assert found == [[], [person]]  # the astronaut is found; Grace Hopper is not enrolled


def blob_created(path: str, etag: str) -> dict:
    """The Event Grid event the poison queue holds after the host's last try."""
    return {
        "id": str(uuid.uuid4()),
        "eventType": "Microsoft.Storage.BlobCreated",
        "subject": "/blobServices/default/containers/x/blobs/y",
        "data": {"url": blobs.upload_client(path).url, "eTag": etag},
    }


def test_poison_message_leaves_a_failed_result_and_a_record(customer):
    name = upload(customer, photos.ASTRONAUT.read_bytes())
    etag = blobs.upload_client(name).get_blob_properties().etag
    event = blob_created(name, etag.strip('"'))
    body = uploads.record_poison(event)
    assert body["error"]["code"] == "ProcessingFailed"
    result, _ = result_of(name)
    assert result["error"]["code"] == "ProcessingFailed"
    rows = list(
        clients.table_service()
        .get_table_client(names.POISON)
        .query_entities("PartitionKey eq @pk", parameters={"pk": customer})
    )
    assert [r["blobName"] for r in rows] == [name.split("/", 1)[1]]
    assert upload_exists(name)  # kept, so it can be processed again
    # the same version quoted (as a blob trigger's poison message has it) is the same row
    uploads.record_poison(blob_created(name, etag))
    rows = list(
        clients.table_service()
        .get_table_client(names.POISON)
        .query_entities("PartitionKey eq @pk", parameters={"pk": customer})
    )
    assert len(rows) == 1
    assert uploads.record_poison({**event, "eventType": "Microsoft.Storage.BlobDeleted"}) is None
    elsewhere = {**event, "data": {"url": event["data"]["url"].replace("/up-", "/xx-")}}
    assert uploads.record_poison(elsewhere) is None


def test_a_blob_outside_any_customer_container_is_never_processed(customer, monkeypatch):
    monkeypatch.setattr(engine, "analyzer", lambda: NoVision())
    service = clients.blob_service()
    stray = service.get_container_client(f"up-{uuid.uuid4().hex[:12]}")  # no customer metadata
    stray.create_container()
    stray.upload_blob("x.jpg", photos.ASTRONAUT.read_bytes())
    assert uploads.process_upload(stray.get_blob_client("x.jpg")) is None
    assert NoVision.calls == 0


def test_upload_names_are_checked_strictly(customer):
    container = access.uploads_container(customer)
    assert uploads.locate(container, "a/b.jpg") == uploads.UploadRef(customer, "a/b.jpg")
    for bad in ("", "a/../b.jpg", "./x.jpg", "a\\b.jpg", "x" * 1001):
        with pytest.raises(BadArgument):
            uploads.locate(container, bad)
    with pytest.raises(BadArgument):
        uploads.locate(access.results_container(customer), "x.jpg")
    with pytest.raises(BadArgument):
        uploads.locate("uploads", "x.jpg")
