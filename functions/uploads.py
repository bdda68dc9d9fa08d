"""Blob pipeline: a customer's upload -> its result, exactly once per upload version.

Each customer writes into its own container (up-<h>, see shared/pipeline/access.py). A
blob trigger binds one container, so the trigger is a queue: Event Grid puts a
BlobCreated event for every customer container on `uploadevents` (infra/), and the dev
host does the same locally. The blob is bound as the SDK type `blob.BlobClient`
(azurefunctions-extensions-bindings-blob): the host reads no byte of it; the pipeline
reads it once, after the policy decision and the 6 MB check, conditional on its ETag.
"""

import json
import logging

import azure.functions as func
import azurefunctions.extensions.bindings.blob as blob

from shared.pipeline import uploads
from shared.storage import names

bp = func.Blueprint()
log = logging.getLogger("facegate.uploads")


@bp.function_name("process_upload")
@bp.queue_trigger(arg_name="event", queue_name=names.UPLOAD_EVENTS, connection="FACEGATE_STORAGE")
@bp.blob_input(arg_name="upload", path="{data.url}", connection="FACEGATE_STORAGE")
def process_upload(event: func.QueueMessage, upload: blob.BlobClient) -> None:
    """Gate, analyse and write the result of one upload; transient faults raise for a retry."""
    uploads.process_upload(upload)


@bp.function_name("upload_poison")
@bp.queue_trigger(
    arg_name="message", queue_name=names.UPLOAD_EVENTS_POISON, connection="FACEGATE_STORAGE"
)
def upload_poison(message: func.QueueMessage) -> None:
    """After the host's last try: a failed result and a durable poison record for the upload."""
    try:
        event = json.loads(message.get_body())
    except ValueError:
        log.warning("ignoring a poison message that is not JSON")
        return
    if isinstance(event, dict):
        uploads.record_poison(event)
