"""Blob triggers driven end to end through Azurite and the dev host subprocess."""

from __future__ import annotations

import base64
import json
import time
import uuid

import requests
from azure.storage.blob import ContentSettings

from shared.storage import clients
from tests.devhost.conftest import MASTER_KEY, record_details, records, wait_until
from tools.devhost.receipts import HOSTS_CONTAINER, Receipt

POISON_QUEUE = "webjobs-blobtrigger-poison"
WEBHOOK = "/runtime/webhooks/blobs?functionName=Host.Functions.FromEvents"


def _blob(container: str, name: str):
    return clients.blob_service().get_blob_client(container, name)


def _summary(path: str) -> dict | None:
    """What Uppercase recorded for ``devhost-in/{path}`` (its last call)."""
    calls = record_details("uppercase", f"devhost-in/{path}")
    return calls[-1] if calls else None


def _poison_messages() -> list[dict]:
    queue = clients.queue_service().get_queue_client(POISON_QUEUE)
    try:
        peeked = queue.peek_messages(max_messages=32)
    except Exception:
        return []
    return [json.loads(base64.b64decode(m.content)) for m in peeked]


def test_upload_runs_the_function_with_the_blob(sample_host):
    customer = f"cust-{uuid.uuid4().hex[:8]}"
    blob = _blob("devhost-in", f"{customer}/a.txt")
    blob.upload_blob(
        b"hello blob",
        metadata={"origin": "test"},
        content_settings=ContentSettings(content_type="text/plain"),
    )
    output = wait_until(lambda: _summary(f"{customer}/a.txt"), "the function's record")
    assert output == {
        "name": f"devhost-in/{customer}/a.txt",
        "length": 10,
        "uri": blob.url,
        "metadata": {"origin": "test"},
        "contentType": "text/plain",
        "text": "HELLO BLOB",
    }
    assert len(records("uppercase", f"devhost-in/{customer}/a.txt")) == 1


def test_a_new_version_of_a_blob_is_processed_again(sample_host):
    name = f"cust-{uuid.uuid4().hex[:8]}/again.txt"
    blob = _blob("devhost-in", name)
    blob.upload_blob(b"first")
    wait_until(lambda: (_summary(name) or {}).get("text") == "FIRST", "the first call")
    blob.upload_blob(b"second", overwrite=True)  # a new ETag
    wait_until(
        lambda: len(records("uppercase", f"devhost-in/{name}")) == 2, "the second version's call"
    )
    assert {c["text"] for c in record_details("uppercase", f"devhost-in/{name}")} == {
        "FIRST",
        "SECOND",
    }
    assert len(records("uppercase", f"devhost-in/{name}")) == 2


def test_a_poison_blob_gets_five_tries_and_a_poison_message_and_blocks_nothing(sample_host):
    """End to end: poison blob -> the host's poison message -> a queue-triggered function."""
    tag = uuid.uuid4().hex[:8]
    bad, good = f"bad-{tag}.txt", f"good-{tag}.txt"
    etag = _blob("devhost-picky", bad).upload_blob(b"refused")["etag"].strip('"')
    _blob("devhost-picky", good).upload_blob(b"fine")
    wait_until(lambda: records("picky", good), "the next blob to be processed")
    # BlobPoisonReader, triggered by webjobs-blobtrigger-poison, records the message it got
    (message,) = wait_until(lambda: record_details("blob-poison", bad), "the poison message")
    assert message == {
        "Type": "BlobTrigger",
        "FunctionId": "Host.Functions.Picky",
        "BlobType": "BlockBlob",
        "ContainerName": "devhost-picky",
        "BlobName": bad,
        "ETag": f'"{etag}"',  # quoted, as the host writes it
    }
    assert len(records("picky", bad)) == 5
    assert len(records("picky", good)) == 1
    receipts = clients.blob_service().get_container_client(HOSTS_CONTAINER)
    (receipt_blob,) = [
        b.name
        for b in receipts.list_blobs(name_starts_with="blobreceipts/")
        if b.name.endswith(f"/Host.Functions.Picky/{etag}/devhost-picky/{bad}")
    ]
    receipt = Receipt.from_metadata(
        receipts.get_blob_client(receipt_blob).get_blob_properties().metadata
    )
    assert receipt == Receipt(completed=True, attempts=5, poisoned=True)
    time.sleep(1.0)  # a few more scan periods: the poisoned version must not be tried again
    assert len(records("picky", bad)) == 5
    assert len(records("blob-poison", bad)) == 1  # the message was delivered once, and deleted
    assert all(m["BlobName"] != bad for m in _poison_messages())
    assert "failed 5 times" in sample_host.log()


def test_a_blocked_blob_function_does_not_stall_http(sample_host):
    name = f"slow-{uuid.uuid4().hex[:8]}.txt"
    _blob("devhost-slow", name).upload_blob(b"x")
    wait_until(lambda: records("slow-started", name), "the slow function to start")
    answers = [sample_host.get(f"/api/echo/{i}").status_code for i in range(5)]
    assert answers == [200] * 5
    assert records("slow-finished", name) == []  # still blocked: it waits for the release blob
    _blob("devhost-records", f"release/{name}").upload_blob(b"")
    wait_until(lambda: records("slow-finished", name), "the slow function to finish")


def test_event_grid_subscription_validation(sample_host):
    code = uuid.uuid4().hex
    handshake = [
        {
            "id": "1",
            "eventType": "Microsoft.EventGrid.SubscriptionValidationEvent",
            "subject": "",
            "data": {"validationCode": code},
            "dataVersion": "",
            "eventTime": "2026-11-27T00:00:00Z",
        }
    ]
    response = sample_host.post(
        f"{WEBHOOK}&code={MASTER_KEY}",
        json=handshake,
        headers={"aeg-event-type": "SubscriptionValidation"},
    )
    assert response.status_code == 200
    assert response.json() == {"validationResponse": code}
    options = requests.options(
        sample_host.url + WEBHOOK,
        headers={"WebHook-Request-Origin": "eventgrid.azure.net"},
        timeout=30,
    )
    assert options.headers["WebHook-Allowed-Origin"] == "eventgrid.azure.net"


def test_event_grid_blob_created_events_run_the_function(sample_host, azurite):
    tag = uuid.uuid4().hex[:8]
    quiet, evented, cloud = f"quiet-{tag}.txt", f"evt-{tag}.txt", f"cloud-{tag}.txt"
    for name in (quiet, evented, cloud):
        _blob("devhost-events", name).upload_blob(b"x")
    url = clients.blob_service().url.rstrip("/")
    event_grid = [
        {
            "id": str(uuid.uuid4()),
            "topic": "/subscriptions/x/resourceGroups/y/providers/Microsoft.Storage/accounts/z",
            "subject": f"/blobServices/default/containers/devhost-events/blobs/{evented}",
            "eventType": "Microsoft.Storage.BlobCreated",
            "eventTime": "2026-11-27T00:00:00Z",
            "data": {"api": "PutBlob", "url": f"{url}/devhost-events/{evented}"},
            "dataVersion": "",
        }
    ]
    headers = {"aeg-event-type": "Notification"}
    assert sample_host.post(WEBHOOK, json=event_grid, headers=headers).status_code == 401
    accepted = sample_host.post(f"{WEBHOOK}&code={MASTER_KEY}", json=event_grid, headers=headers)
    assert accepted.status_code == 202
    cloud_event = {  # CloudEvents 1.0 schema, naming the blob by data.url only
        "specversion": "1.0",
        "id": str(uuid.uuid4()),
        "type": "Microsoft.Storage.BlobCreated",
        "source": "/subscriptions/x/storageAccounts/z",
        "data": {"api": "PutBlob", "url": f"{url}/devhost-events/{cloud}"},
    }
    response = sample_host.post(
        WEBHOOK, json=cloud_event, headers={**headers, "x-functions-key": MASTER_KEY}
    )
    assert response.status_code == 202
    wait_until(lambda: records("events", evented), "the Event Grid-triggered call")
    wait_until(lambda: records("events", cloud), "the CloudEvent-triggered call")
    # this host runs EventGrid-source triggers from events only (--no-eventgrid-polling)
    assert records("events", quiet) == []
    no_header = sample_host.post(f"{WEBHOOK}&code={MASTER_KEY}", json=event_grid)
    assert no_header.status_code == 400
    unknown = sample_host.post(
        f"/runtime/webhooks/blobs?functionName=Host.Functions.Nope&code={MASTER_KEY}",
        json=event_grid,
        headers=headers,
    )
    assert unknown.status_code == 404


def test_timer_runs_on_schedule(sample_host):
    wait_until(lambda: len(records("tick", "on-time")) >= 3, "three timer calls")


def test_a_redelivered_event_runs_again_without_receipts(sample_host):
    """Azure's Event Grid path keeps no receipts: the same event twice runs twice (the
    function must be idempotent), unlike the polling path's one run per version."""
    name = f"again-{uuid.uuid4().hex[:8]}.txt"
    _blob("devhost-events", name).upload_blob(b"x")
    url = clients.blob_service().url.rstrip("/")
    event = [
        {
            "id": str(uuid.uuid4()),
            "subject": f"/blobServices/default/containers/devhost-events/blobs/{name}",
            "eventType": "Microsoft.Storage.BlobCreated",
            "data": {"api": "PutBlob", "url": f"{url}/devhost-events/{name}"},
        }
    ]
    headers = {"aeg-event-type": "Notification", "x-functions-key": MASTER_KEY}
    for expected in (1, 2):
        assert sample_host.post(WEBHOOK, json=event, headers=headers).status_code == 202
        wait_until(lambda n=expected: len(records("events", name)) == n, f"run {expected}")
