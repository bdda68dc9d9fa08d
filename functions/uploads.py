"""Blob pipeline: uploads/{customer}/{name} -> results/{customer}/{name}.json, exactly once.

The trigger source is chosen by FACEGATE_BLOB_SOURCE: `EventGrid` in Azure (the
only source Flex Consumption supports), `LogsAndContainerScan` (polling) locally.
"""

import json
import logging

import azure.functions as func

from shared import settings
from shared.pipeline import uploads
from shared.storage import names

bp = func.Blueprint()
log = logging.getLogger("facegate.uploads")

SOURCE = (
    func.BlobSource.EVENT_GRID
    if settings.get("FACEGATE_BLOB_SOURCE").lower() == "eventgrid"
    else func.BlobSource.LOGS_AND_CONTAINER_SCAN
)


@bp.function_name("process_upload")
@bp.blob_trigger(
    arg_name="upload",
    path="uploads/{customer}/{name}",
    connection="FACEGATE_STORAGE",
    source=SOURCE,
)
def process_upload(upload: func.InputStream) -> None:
    """Gate, analyse and write the result of one upload; transient faults raise for a retry.

    The host hands us the blob, but the pipeline reads the bytes itself, only after
    the gate allows, and only the exact version (ETag) it decided on.
    """
    uploads.process_upload(upload.name or "")


@bp.function_name("upload_poison")
@bp.queue_trigger(
    arg_name="message", queue_name=names.BLOB_POISON_QUEUE, connection="FACEGATE_STORAGE"
)
def upload_poison(message: func.QueueMessage) -> None:
    """After the host's last try: a failed result and a durable poison record for the upload."""
    try:
        body = json.loads(message.get_body())
    except ValueError:
        log.warning("ignoring a poison message that is not JSON")
        return
    if isinstance(body, dict):
        uploads.record_poison(body)
