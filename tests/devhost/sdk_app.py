"""A sample app for SDK-type bindings and emulated Event Grid queue delivery (tests only)."""

from __future__ import annotations

import json

import azure.functions as func
import azurefunctions.extensions.bindings.blob as blob

from tests.devhost.sample_app import record

app = func.FunctionApp()


@app.function_name("SdkBlobTrigger")
@app.blob_trigger(arg_name="client", path="devhost-sdk/{name}", connection="FACEGATE_STORAGE")
def sdk_blob_trigger(client: blob.BlobClient) -> None:
    """The host passes a reference: the function reads the blob itself, when it wants."""
    record(
        "sdk-trigger",
        client.blob_name.replace("/", "_"),
        {
            "type": type(client).__module__ + "." + type(client).__name__,
            "container": client.container_name,
            "name": client.blob_name,
            "etag": client.get_blob_properties().etag.strip('"'),
        },
    )


@app.function_name("EventToBlob")
@app.queue_trigger(arg_name="event", queue_name="devhost-q-events", connection="FACEGATE_STORAGE")
@app.blob_input(arg_name="client", path="{data.url}", connection="FACEGATE_STORAGE")
def event_to_blob(event: func.QueueMessage, client: blob.BlobClient) -> None:
    """A BlobCreated event from the queue; the blob input binds the event's data.url."""
    body = json.loads(event.get_body())
    record(
        "sdk-event",
        client.blob_name.replace("/", "_"),
        {
            "type": type(client).__name__,
            "container": client.container_name,
            "name": client.blob_name,
            "event": body,
            "current_etag": client.get_blob_properties().etag.strip('"'),
        },
    )
