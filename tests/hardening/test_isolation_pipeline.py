"""Tenant isolation in the blob pipeline: the path names the customer, so it must not lie.

tests/e2e/test_isolation.py covers the HTTP routes. Here: what a malicious customer
("mallory") can try with blob uploads against another one ("victim"):

- a name that leaves its folder (``uploads/mallory/../victim/x.jpg``; a backslash is
  stored as ``/``, and URL libraries resolve dot segments before the request is sent,
  so with a token credential it would read, analyse, answer and delete victim's
  upload under mallory's policy);
- ``galleryid`` metadata naming victim's gallery, from mallory's own folder;
- metadata that claims to be another customer.
"""

from __future__ import annotations

import json
import threading
import uuid
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import ClassVar

import pytest
from azure.core.exceptions import ResourceNotFoundError
from azure.storage.blob import BlobServiceClient

from shared.errors import BadArgument
from shared.pipeline import uploads
from shared.storage import clients, names
from tests.data import make_photos as photos
from tests.support.apphost import wait_until
from tools.dev.seed import seed_customer

ALL = ("detect", "age", "gender", "emotion", "verify", "identify", "enroll")
ESCAPES = [
    "uploads/mallory/../victim/x.jpg",
    "uploads/mallory/./x.jpg",
    "uploads/mallory/..",
    "uploads/../victim/x.jpg",
    "uploads/mallory\\..\\victim\\x.jpg",
    "uploads/mallory/sub/../../victim/x.jpg",
    "uploads/./mallory/x.jpg",
]


@pytest.mark.parametrize("name", ESCAPES)
def test_a_name_that_leaves_its_folder_is_refused(name: str) -> None:
    with pytest.raises(BadArgument):
        uploads.parse_blob_name(name)


def test_ordinary_names_with_dots_are_still_fine() -> None:
    for name in ("uploads/acme/a..b.jpg", "uploads/acme/.hidden.jpg", "uploads/acme/x/.../y.png"):
        ref = uploads.parse_blob_name(name)
        assert ref.customer_id == "acme"


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
    blob = clients.blob_service().get_blob_client(names.UPLOADS, path)
    blob.upload_blob(data, overwrite=True, metadata=metadata or None)


def _blobs(container: str) -> set[str]:
    return {b.name for b in clients.blob_service().get_container_client(container).list_blobs()}


@pytest.fixture(scope="module")
def pair(azurite) -> dict[str, str]:
    def seed(prefix: str) -> str:
        return seed_customer(f"{prefix}-{uuid.uuid4().hex[:6]}", actions=ALL, purposes=("qa",))[
            "customerId"
        ]

    return {"mallory": seed("mallory"), "victim": seed("victim")}


def test_a_backslash_name_is_stored_with_dot_segments_and_refused_untouched(pair) -> None:
    """``mallory\\..\\victim\\x.jpg`` is a legal blob name; storage keeps it as
    ``mallory/../victim/x.jpg``. Processing it must touch nothing of victim's."""
    mallory, victim = pair["mallory"], pair["victim"]
    image = photos.ASTRONAUT.read_bytes()
    _upload(f"{victim}/x.jpg", image)
    _upload(f"{mallory}\\..\\{victim}\\x.jpg", image, features="detect,age")
    stored = f"{mallory}/../{victim}/x.jpg"
    assert stored in _blobs(names.UPLOADS), "the emulator no longer stores '\\' as '/'"
    results_before = _blobs(names.RESULTS)

    assert uploads.process_upload(f"{names.UPLOADS}/{stored}") is None
    assert f"{victim}/x.jpg" in _blobs(names.UPLOADS)  # victim's upload is still there
    assert _blobs(names.RESULTS) == results_before  # nothing answered, for anyone
    assert (
        uploads.record_poison({"ContainerName": names.UPLOADS, "BlobName": stored, "ETag": '"0x1"'})
        is None
    )
    assert _blobs(names.RESULTS) == results_before


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
        body = uploads.process_upload(f"{names.UPLOADS}/{path}")
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
    body = uploads.process_upload(f"{names.UPLOADS}/{path}")
    assert body is not None and body["status"] == "succeeded"
    assert body["customerId"] == mallory and body["upload"]["name"] == path
    result = clients.blob_service().get_blob_client(names.RESULTS, f"{path}.json")
    assert json.loads(result.download_blob().readall())["customerId"] == mallory
    assert not any(n.startswith(f"{victim}/claim") for n in _blobs(names.RESULTS))


def test_through_the_running_host_mallory_gets_nothing_of_victims(app, pair) -> None:
    """End to end (dev host trigger): the escaping name and victim's gallery, uploaded by
    mallory next to a genuine upload of victim's; last in this module, so the host only
    starts once the in-process cases are done."""
    from shared.biometrics import store

    mallory, victim = pair["mallory"], pair["victim"]
    store.create_gallery(victim, "vips", "Victim's VIPs", "", "dlib_resnet_128")
    image = photos.GRACE_HOPPER.read_bytes()
    _upload(f"{mallory}\\..\\{victim}\\e2e.jpg", image, features="detect,age")
    _upload(f"{mallory}/e2e-probe.jpg", image, galleryid="vips", capturecontext="photo")
    _upload(f"{victim}/e2e.jpg", image, features="detect")
    results = clients.blob_service().get_container_client(names.RESULTS)

    def answered(path: str) -> dict | None:
        blob = results.get_blob_client(f"{path}.json")
        return json.loads(blob.download_blob().readall()) if blob.exists() else None

    genuine = wait_until(lambda: answered(f"{victim}/e2e.jpg"), "victim's own result")
    probe = wait_until(lambda: answered(f"{mallory}/e2e-probe.jpg"), "mallory's probe result")
    assert genuine["customerId"] == victim and genuine["status"] == "succeeded"
    assert genuine["features"] == ["detect"]  # not mallory's detect,age
    assert probe["status"] == "failed" and probe["error"]["code"] == "NotFound"
    assert "identify" not in probe and "faces" not in probe
    assert f"{mallory}/../{victim}/e2e.jpg" in _blobs(names.UPLOADS)  # never processed
    assert not any(n.startswith(f"{mallory}/..") for n in _blobs(names.RESULTS))
    assert "Traceback" not in app.log()
