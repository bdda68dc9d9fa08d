"""Faults: storage gone mid-run, storage back, and a transient fault in the blob pipeline.

The app must fail closed: while storage is down every call is 503 ServiceUnavailable
and nothing is analysed; when storage comes back the same process serves again.
"Nothing analysed" is proven from outside in two ways: a body that is not an image
gets 503, not 400 InvalidImage (so the refusal came before decoding), and after the
outage the audit trail has no row for any request made during it (the use cases
analyse only after an audited allow). The registry cache is part of the test: a
customer cached just before the outage still authenticates, and its call is then
refused because the audit row cannot be written.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from pathlib import Path

import pytest
import requests

from shared.policy import audit_rows
from shared.storage import clients, names
from tests.data import make_photos as photos
from tests.hardening.services import SplitAzurite, wait_persisted
from tests.support import blobs
from tests.support.apphost import AppHost, app_env, wait_until
from tools.dev.azurite import Azurite, storage_of_this_process
from tools.dev.seed import seed_customer

ALL = ("detect", "age", "gender", "emotion", "verify", "identify", "enroll")
PHOTO = {"X-Capture-Context": "photo"}
ASTRONAUT = photos.ASTRONAUT.read_bytes()


def _call(url: str, key: str, method: str, path: str, **kwargs) -> requests.Response:
    headers = {"Ocp-Apim-Subscription-Key": key, **PHOTO, **kwargs.pop("headers", {})}
    return requests.request(method, f"{url}/api{path}", headers=headers, timeout=60, **kwargs)


@pytest.fixture
def outage(tmp_path):
    """An Azurite of this test's own, its data on disk, and the app on it."""
    emulator = Azurite.on_free_ports(location=tmp_path / "azurite")
    emulator.log_path = tmp_path / "azurite.log"
    emulator.start()
    host = None
    try:
        with storage_of_this_process(emulator.connection_string):
            run = uuid.uuid4().hex[:6]
            acme = seed_customer(f"fault-{run}", actions=ALL, purposes=("qa",))
            cold = seed_customer(f"cold-{run}", actions=ALL, purposes=("qa",))
            # a long registry cache, so the cached path is exercised during the outage
            env = app_env(emulator.connection_string, FACEGATE_REGISTRY_CACHE_SECONDS="30")
            host = AppHost(tmp_path / "app", env).start()
            yield emulator, host, acme, cold
    finally:
        if host is not None:
            host.stop()
        emulator.stop()


def test_storage_down_is_503_with_nothing_analysed_and_back_without_a_restart(outage) -> None:
    emulator, host, acme, cold = outage
    url, key = host.url, acme["key"]
    gallery = "g1"
    assert _call(url, key, "PUT", f"/galleries/{gallery}", json={"name": "G"}).status_code == 200
    person = _call(url, key, "POST", f"/galleries/{gallery}/persons", json={"name": "P"}).json()
    warm = _call(url, key, "POST", "/detect?returnFaceId=true", data=ASTRONAUT)
    written = time.time()
    assert warm.status_code == 200  # acme and its key are now in the app's registry cache
    face_id = warm.json()[0]["faceId"]
    pid = host.process.pid

    wait_persisted(emulator.location, written)
    emulator.stop()
    during = {
        "detect, not an image": _call(url, key, "POST", "/detect", data=b"not an image at all"),
        "detect with faceId": _call(url, key, "POST", "/detect?returnFaceId=true", data=ASTRONAUT),
        "enroll, not an image": _call(
            url,
            key,
            "POST",
            f"/galleries/{gallery}/persons/{person['personId']}/faces",
            data=b"not an image either",
        ),
        "identify": _call(
            url, key, "POST", "/identify", json={"galleryId": gallery, "faceIds": [face_id]}
        ),
        "verify": _call(url, key, "POST", "/verify", json={"faceId1": face_id, "faceId2": face_id}),
        "galleries": _call(url, key, "GET", "/galleries"),
        "uncached key": _call(url, cold["key"], "POST", "/detect", data=b"not an image"),
    }
    for what, response in during.items():
        assert response.status_code == 503, f"{what}: {response.status_code} {response.text}"
        assert response.json()["error"]["code"] == "ServiceUnavailable", what
        assert response.headers.get("Retry-After"), what
    log = host.log()
    # a cached customer authenticated; then the rate-limit counter (or the audit) refused
    assert "rate-limit counter unavailable" in log or "audit write failed" in log
    assert "registry key lookup failed" in log  # the uncached key: the registry refused

    emulator.start()  # same ports, same data on disk; the app keeps running
    back = wait_until(
        lambda: (r := _call(url, key, "POST", "/detect", data=ASTRONAUT)).status_code == 200 and r,
        "the app to serve again once storage is back",
        timeout=60,
    )
    assert len(back.json()) == 1
    assert host.process.pid == pid and host.process.poll() is None  # no restart
    assert _call(url, cold["key"], "POST", "/detect", data=ASTRONAUT).status_code == 200
    again = _call(url, key, "POST", "/identify", json={"galleryId": gallery, "faceIds": [face_id]})
    assert again.status_code == 200

    with storage_of_this_process(emulator.connection_string):
        audited = {row["requestId"] for row in audit_rows(acme["customerId"], _today())}
        audited |= {row["requestId"] for row in audit_rows(cold["customerId"], _today())}
    assert warm.headers["x-request-id"] in audited  # the audit trail survived the restart
    assert back.headers["x-request-id"] in audited
    for what, response in during.items():
        assert response.headers["x-request-id"] not in audited, f"{what} was decided"


def _today():
    import datetime as dt

    return dt.datetime.now(dt.UTC).date()


def _tries(log: str, function: str, detail: str, outcome: str) -> int:
    pattern = rf"Executed 'Functions\.{function}' \({outcome},[^)]*\) {re.escape(detail)}"
    return len(re.findall(pattern, log))


def test_a_transient_fault_is_retried_then_leaves_a_failed_result_and_a_poison_record(
    tmp_path,
) -> None:
    """The table service fails while an upload is processed: the host tries 5 times, the
    poison message reaches ``upload_poison``, which (once the table is back) writes a
    ProcessingFailed result and a poison row. The upload is kept, is not tried again,
    and a new version of it is processed normally."""
    split = SplitAzurite(tmp_path / "storage").start()
    try:
        with storage_of_this_process(split.connection_string):
            _poison_scenario(split, tmp_path)
    finally:
        split.stop()


def _poison_scenario(split: SplitAzurite, tmp_path: Path) -> None:
    customer = seed_customer(f"poison-{uuid.uuid4().hex[:6]}", actions=ALL)["customerId"]
    written = time.time()
    env = app_env(split.connection_string)
    # A failed poison message has no poison queue of its own: it reappears after its lease
    # (and is tried again, without limit). A short lease keeps the test short.
    args = ("--queue-lease-seconds", "3")
    host = AppHost(tmp_path / "app", env, extra_args=args).start()
    try:
        triggers = json.loads((host.workdir / "state" / "devhost.json").read_text())["triggers"]
        if triggers.get("upload_poison") != "queueTrigger":
            pytest.skip("this dev host does not run queue triggers (upload_poison not started)")
        path = f"{customer}/transient.jpg"
        detail = f"queue={names.UPLOAD_EVENTS} "  # the only upload of this storage

        wait_persisted(split.services["table"].location, written)
        split.services["table"].stop()
        blobs.upload_client(path).upload_blob(ASTRONAUT)
        wait_until(
            lambda: (
                _tries(host.log(), "process_upload", detail, "Failed") >= 5
                and _tries(host.log(), "upload_poison", "queue=", "Failed") >= 1
            ),
            "five failed tries, then a failed poison handling while the table is down",
            timeout=120,
        )
        split.services["table"].start()

        result = blobs.result_client(path)
        body = wait_until(
            lambda: result.exists() and json.loads(result.download_blob().readall()),
            "the failed result written by upload_poison",
            timeout=60,
        )
        assert body["status"] == "failed" and body["error"]["code"] == "ProcessingFailed"
        assert "faces" not in body
        rows = list(
            clients.table_service()
            .get_table_client(names.POISON)
            .query_entities("PartitionKey eq @pk", parameters={"pk": customer})
        )
        assert [r["blobName"] for r in rows] == ["transient.jpg"]
        assert blobs.upload_client(path).exists()  # kept for a retry
        log = host.log()
        assert _tries(log, "process_upload", detail, "Failed") == 5  # and then never again
        assert _tries(log, "process_upload", detail, "Succeeded") == 0

        blobs.upload_client(path).upload_blob(ASTRONAUT, overwrite=True)
        again = wait_until(
            lambda: (
                (b := json.loads(result.download_blob().readall()))["status"] == "succeeded" and b
            ),
            "the new version of the upload to be processed normally",
            timeout=60,
        )
        assert len(again["faces"]) == 1
    finally:
        host.stop()
