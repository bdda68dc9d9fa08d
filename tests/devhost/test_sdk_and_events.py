"""SDK-type blob bindings (as the worker extension gets them) and Event Grid -> queue delivery.

The sample app binds ``blob.BlobClient`` on a blob trigger and on a blob input whose path
is the queued event's ``{data.url}``; the dev host emulates an Event Grid subscription
that puts BlobCreated events of containers ``<prefix>*`` on a queue.
"""

from __future__ import annotations

import base64
import json
import time
import uuid

from shared.storage import clients
from tests.devhost.conftest import record_details, records, wait_until

APP = "tests.devhost.sdk_app:app"


def test_a_blob_trigger_gets_a_blob_client_and_no_bytes(start_devhost):
    host = start_devhost(APP, "host.json", "--blob-events", "")
    name = f"sdk-{uuid.uuid4().hex[:8]}.bin"
    container = clients.blob_service().get_container_client("devhost-sdk")
    if not container.exists():
        container.create_container()
    etag = container.upload_blob(name, b"x" * 1000).get_blob_properties().etag.strip('"')
    (call,) = wait_until(lambda: record_details("sdk-trigger", name), "the SDK blob trigger")
    assert call["type"] == "azure.storage.blob._blob_client.BlobClient"
    assert (call["container"], call["name"], call["etag"]) == ("devhost-sdk", name, etag)
    host.stop()


def test_emulated_event_grid_announces_new_blobs_once_and_never_older_ones(start_devhost):
    prefix = f"ev{uuid.uuid4().hex[:6]}-"
    service = clients.blob_service()
    first = service.create_container(f"{prefix}a")
    first.upload_blob("before.jpg", b"existed before the subscription")
    time.sleep(1.1)  # Last-Modified has whole seconds: "before" must be strictly older
    host = start_devhost(
        APP, "host.json", "--blob-events", f"FACEGATE_STORAGE:{prefix}:devhost-q-events"
    )
    wait_until(lambda: "Event Grid emulated" in host.log(), "the emulated subscription")
    time.sleep(1.1)
    first.upload_blob("after.jpg", b"new")
    second = service.create_container(f"{prefix}b")  # a container made later is covered too
    second.upload_blob("dir/late.jpg", b"late")
    service.create_container(f"x{prefix}c").upload_blob("other.jpg", b"not covered")

    (after,) = wait_until(
        lambda: record_details("sdk-event", "after.jpg"), "the event for after.jpg"
    )
    (late,) = wait_until(lambda: record_details("sdk-event", "dir_late.jpg"), "the late event")
    assert after["type"] == "BlobClient"
    assert (after["container"], after["name"]) == (f"{prefix}a", "after.jpg")
    assert (late["container"], late["name"]) == (f"{prefix}b", "dir/late.jpg")
    event = after["event"]
    assert event["eventType"] == "Microsoft.Storage.BlobCreated"
    assert event["subject"] == f"/blobServices/default/containers/{prefix}a/blobs/after.jpg"
    assert event["data"]["eTag"] == after["current_etag"]  # unquoted, as Event Grid sends it
    assert event["data"]["url"].endswith(f"/{prefix}a/after.jpg")
    time.sleep(2.0)  # several scans more
    assert records("sdk-event", "before.jpg") == []  # existed before the subscription
    assert records("sdk-event", "other.jpg") == []  # outside the subject filter
    assert len(records("sdk-event", "after.jpg")) == 1
    host.stop()


def test_a_redelivered_event_runs_again_and_sees_the_current_version(start_devhost):
    """Event Grid deliveries are not deduplicated (no receipts): the same event twice runs
    twice, and a handler may find a newer version than the event names."""
    prefix = f"rd{uuid.uuid4().hex[:6]}-"
    service = clients.blob_service()
    container = service.create_container(f"{prefix}a")
    host = start_devhost(
        APP, "host.json", "--blob-events", f"FACEGATE_STORAGE:{prefix}:devhost-q-events"
    )
    container.upload_blob("v.jpg", b"one")
    (first,) = wait_until(lambda: record_details("sdk-event", "v.jpg"), "the first event")
    container.upload_blob("v.jpg", b"two", overwrite=True)
    wait_until(lambda: len(records("sdk-event", "v.jpg")) == 2, "the second version's event")
    queue = clients.queue_service().get_queue_client("devhost-q-events")
    queue.send_message(base64.b64encode(json.dumps(first["event"]).encode()).decode())  # again
    wait_until(lambda: len(records("sdk-event", "v.jpg")) == 3, "the re-delivered event")
    calls = record_details("sdk-event", "v.jpg")
    redelivered = [c for c in calls if c["event"]["id"] == first["event"]["id"]]
    assert len(redelivered) == 2
    current = container.get_blob_client("v.jpg").get_blob_properties().etag.strip('"')
    assert {c["current_etag"] for c in redelivered} == {first["current_etag"], current}
    host.stop()


def test_the_emulation_runs_alone_next_to_func_start(azurite, tmp_path):
    """`python -m tools.devhost.blobevents` (what `make run` starts beside Core Tools)."""
    import os
    import signal
    import subprocess
    import sys

    from tools.dev.azurite import ROOT

    prefix = f"al{uuid.uuid4().hex[:6]}-"
    queue_name = f"q{uuid.uuid4().hex[:10]}"
    log = open(tmp_path / "events.log", "wb")  # noqa: SIM115  (closed below)
    process = subprocess.Popen(
        [sys.executable, "-m", "tools.devhost.blobevents", "--poll-interval", "0.3",
         "--blob-events", f"FACEGATE_STORAGE:{prefix}:{queue_name}"],
        cwd=ROOT, env={**os.environ}, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        queue = clients.queue_service().get_queue_client(queue_name)
        wait_until(
            lambda: b"Event Grid emulated" in (tmp_path / "events.log").read_bytes(), "start"
        )
        time.sleep(1.1)
        clients.blob_service().create_container(f"{prefix}a").upload_blob("x.jpg", b"x")
        (message,) = wait_until(lambda: list(queue.peek_messages()), "the event on the queue")
        event = json.loads(base64.b64decode(message.content))
        assert event["eventType"] == "Microsoft.Storage.BlobCreated"
        assert event["subject"] == f"/blobServices/default/containers/{prefix}a/blobs/x.jpg"
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(30) == 0
        log.close()
