"""Tenant isolation in the blob pipeline: the container names the customer, storage guards it.

tests/e2e/test_isolation.py covers the HTTP routes, tests/pipeline/test_access.py the
credentials. Here: what a malicious customer ("mallory") can try with blob uploads
against another one ("victim"):

- writing into victim's container with mallory's credential (storage refuses);
- a name with dot segments (``a/../b.jpg``; a backslash is stored as ``/``, and URL
  libraries resolve dot segments before the request is sent, so its result would land
  on another upload's result): refused untouched;
- ``galleryid`` metadata naming victim's gallery, from mallory's own container;
- metadata that claims to be another customer.
"""

from __future__ import annotations

import json
import threading
import uuid
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import ClassVar

import pytest
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.storage.blob import BlobServiceClient, ContainerClient

from shared.errors import BadArgument
from shared.pipeline import access, uploads
from tests.data import make_photos as photos
from tests.support import blobs
from tests.support.apphost import wait_until
from tools.dev.seed import seed_customer

ALL = ("detect", "age", "gender", "emotion", "verify", "identify", "enroll")
ESCAPES = [
    "../victim/x.jpg",
    "./x.jpg",
    "sub/..",
    "a\\..\\b\\x.jpg",
    "sub/../../x.jpg",
]


@pytest.mark.parametrize("name", ESCAPES)
def test_a_name_with_dot_segments_is_refused(name: str) -> None:
    with pytest.raises(BadArgument):
        uploads.check_name(name)


def test_ordinary_names_with_dots_are_still_fine() -> None:
    for name in ("a..b.jpg", ".hidden.jpg", "x/.../y.png"):
        assert uploads.check_name(name) == name


class _Recorder(BaseHTTPRequestHandler):
    paths: ClassVar[list[str]] = []

    def do_HEAD(self) -> None:
        _Recorder.paths.append(self.path)
        self.send_response(404)
        self.send_header("x-ms-error-code", "BlobNotFound")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        return


def test_the_storage_sdk_resolves_dot_segments_into_another_folder() -> None:
    """Why the names above must be refused: the request leaves mallory's folder.

    With a shared key the signature no longer matches and storage refuses (403); with a
    token credential (managed identity, as in Azure) nothing covers the path, so the
    request would reach victim's blob.
    """
    server = HTTPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        account = f"http://127.0.0.1:{server.server_address[1]}/devstoreaccount1"
        blob = BlobServiceClient(account).get_blob_client("uploads", "mallory/../victim/x.jpg")
        with pytest.raises(ResourceNotFoundError):
            blob.get_blob_properties()
    finally:
        server.shutdown()
    assert _Recorder.paths and _Recorder.paths[0] == "/devstoreaccount1/uploads/victim/x.jpg"


def _upload(path: str, data: bytes, **metadata: str) -> None:
    blobs.upload_client(path).upload_blob(data, overwrite=True, metadata=metadata or None)


def _uploads(customer: str) -> set[str]:
    return {b.name for b in _container(access.uploads_container(customer)).list_blobs()}


def _results(customer: str) -> set[str]:
    return {b.name for b in _container(access.results_container(customer)).list_blobs()}


def _container(name: str) -> ContainerClient:
    from shared.storage import clients

    return clients.blob_service().get_container_client(name)


@pytest.fixture(scope="module")
def pair(azurite) -> dict[str, str]:
    def seed(prefix: str) -> str:
        return seed_customer(f"{prefix}-{uuid.uuid4().hex[:6]}", actions=ALL, purposes=("qa",))[
            "customerId"
        ]

    return {"mallory": seed("mallory"), "victim": seed("victim")}


def test_a_backslash_name_is_stored_with_dot_segments_and_refused_untouched(pair) -> None:
    """``sub\\..\\x.jpg`` is a legal blob name; storage keeps it as ``sub/../x.jpg``, whose
    result would overwrite the result of ``x.jpg``. It is refused and nothing is touched."""
    mallory = pair["mallory"]
    image = photos.ASTRONAUT.read_bytes()
    _upload(f"{mallory}/x.jpg", image)
    _upload(f"{mallory}/sub\\..\\x.jpg", image, features="detect,age")
    assert "sub/../x.jpg" in _uploads(mallory), "the emulator no longer stores '\\' as '/'"
    before = _results(mallory)
    stored = _container(access.uploads_container(mallory)).get_blob_client("sub/../x.jpg")
    assert uploads.process_upload(stored) is None
    assert "x.jpg" in _uploads(mallory) and _results(mallory) == before
    event = {"eventType": "Microsoft.Storage.BlobCreated", "data": {"url": stored.url}}
    assert uploads.record_poison(event) is None
    assert _results(mallory) == before


def test_mallorys_credential_cannot_write_into_victims_container(pair) -> None:
    mallory, victim = pair["mallory"], pair["victim"]
    grant = access.grant(mallory)
    victim_url = access.grant(victim).uploads_url.split("?")[0]
    forged = ContainerClient.from_container_url(f"{victim_url}?{grant.uploads_url.split('?')[1]}")
    before = _uploads(victim)
    with pytest.raises(HttpResponseError) as refused:
        forged.upload_blob("from-mallory.jpg", photos.ASTRONAUT.read_bytes())
    assert refused.value.status_code == 403
    assert _uploads(victim) == before


def test_galleryid_of_another_customer_is_not_found_like_a_missing_one(pair) -> None:
    """From mallory's own folder, naming victim's gallery: the same failure as a gallery
    that exists nowhere, and victim's gallery is never read or identified against."""
    from shared.biometrics import store

    mallory, victim = pair["mallory"], pair["victim"]
    store.create_gallery(victim, "staff", "Victim's staff", "", "dlib_resnet_128")
    image = photos.ASTRONAUT.read_bytes()
    results = {}
    for gallery in ("staff", f"nowhere-{uuid.uuid4().hex[:6]}"):
        path = f"{mallory}/probe-{gallery}.jpg"
        _upload(path, image, galleryid=gallery, capturecontext="photo")
        body = uploads.process_upload(blobs.upload_client(path))
        assert body is not None and body["status"] == "failed"
        assert "faces" not in body and "identify" not in body
        results[gallery] = body["error"]
    staff, nowhere = results.values()
    assert staff["code"] == nowhere["code"] == "NotFound"
    assert staff["message"].replace("staff", "G") == nowhere["message"].replace(
        next(g for g in results if g != "staff"), "G"
    ), "the message must not tell an existing gallery from a missing one"


def test_metadata_cannot_claim_another_customer(pair) -> None:
    mallory, victim = pair["mallory"], pair["victim"]
    path = f"{mallory}/claim.jpg"
    _upload(path, photos.ASTRONAUT.read_bytes(), customer=victim, customerid=victim)
    body = uploads.process_upload(blobs.upload_client(path))
    assert body is not None and body["status"] == "succeeded"
    assert body["customerId"] == mallory and body["upload"]["name"] == "claim.jpg"
    result = blobs.result_client(path)
    assert json.loads(result.download_blob().readall())["customerId"] == mallory
    assert not any(n.startswith("claim") for n in _results(victim))


def test_through_the_running_host_mallory_gets_nothing_of_victims(app, pair) -> None:
    """End to end (events, the dev host's queue trigger): mallory, with its own SAS, probes
    victim's gallery, tries victim's container and a dot-segment name, next to a genuine
    upload of victim's; last in this module, so the host only starts once the in-process
    cases are done."""
    from shared.biometrics import store

    mallory, victim = pair["mallory"], pair["victim"]
    store.create_gallery(victim, "vips", "Victim's VIPs", "", "dlib_resnet_128")
    image = photos.GRACE_HOPPER.read_bytes()
    own = ContainerClient.from_container_url(access.grant(mallory).uploads_url)
    own.upload_blob("e2e\\..\\victim.jpg", image, metadata={"features": "detect,age"})
    own.upload_blob(
        "e2e-probe.jpg", image, metadata={"galleryid": "vips", "capturecontext": "photo"}
    )
    with pytest.raises(HttpResponseError):
        ContainerClient.from_container_url(
            access.grant(victim).uploads_url.split("?")[0] + "?" + own.url.split("?")[1]
        ).upload_blob("e2e.jpg", image, metadata={"features": "detect,age"})
    _upload(f"{victim}/e2e.jpg", image, features="detect")

    genuine = wait_until(lambda: blobs.result_of(f"{victim}/e2e.jpg"), "victim's own result")
    probe = wait_until(lambda: blobs.result_of(f"{mallory}/e2e-probe.jpg"), "mallory's probe")
    assert genuine["customerId"] == victim and genuine["status"] == "succeeded"
    assert genuine["features"] == ["detect"]  # not mallory's detect,age
    assert probe["status"] == "failed" and probe["error"]["code"] == "NotFound"
    assert "identify" not in probe and "faces" not in probe
    assert "e2e/../victim.jpg" in _uploads(mallory)  # never processed
    assert not any(n.startswith("e2e/..") for n in _results(mallory))
    assert "Traceback" not in app.log()
