"""A one-function app for the receipts test: the dev host is killed while it runs (tests only).

``item-05-hang`` blocks the first time it is seen (after writing a marker) so the
test can kill the host at a known point; every completed call is recorded.
"""

from __future__ import annotations

import threading

import azure.functions as func
from azure.core.exceptions import ResourceExistsError

from shared.storage import clients
from tests.devhost.sample_app import RECORDS, record

app = func.FunctionApp()


@app.function_name("Batch")
@app.blob_trigger(arg_name="blob", path="devhost-batch/{name}", connection="FACEGATE_STORAGE")
def batch(blob: func.InputStream) -> None:
    name = blob.name.split("/", 1)[1]
    if "hang" in name:
        marker = clients.blob_service().get_blob_client(RECORDS, f"markers/{name}")
        try:
            marker.upload_blob(b"", overwrite=False)
            threading.Event().wait(300)  # the test kills the host while we wait here
        except ResourceExistsError:
            pass  # second life: finish normally
    record("batch", f"{name}@{blob.blob_properties['ETag'].strip(chr(34))}")
