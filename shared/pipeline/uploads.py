"""The blob pipeline: every upload a customer writes into its uploads container gets one result.

A customer writes ``{name}`` into its own container ``up-<h>`` (shared.pipeline.access)
and reads ``{name}.json`` from ``rs-<h>``. A BlobCreated event (Event Grid, through the
``uploadevents`` queue) triggers ``process_upload`` with a client for that blob --
possibly more than once for the same version (re-delivery, restarts, a newer version
seen by an older event). It:

1. reads the upload's properties (ETag, size, metadata) -- never its bytes yet -- and,
   at the same time, the properties of an existing result;
2. returns at once if that result answers this very version (idempotent);
3. hands the request to the detect use case (``service.detection.detect_faces``): one
   policy decision, the gallery check, and only then a read of that exact version
   (conditional on its ETag, after the 6 MB check), analysis and identification;
4. writes ``rs-<h>/{name}.json`` in one Put Blob (readers never see half a
   result), conditionally, so two deliveries cannot both write;
5. deletes the upload (that version only) unless the customer keeps uploads.

Final failures (bad image, denial, unknown customer or gallery) produce a failed result
and no retry. Transient ones (storage unavailable) raise, so the host retries; after the
last try the host's poison message reaches ``record_poison``, which writes the failed
result and a durable poison record.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from azure.core.exceptions import ResourceModifiedError, ResourceNotFoundError
from azure.storage.blob import BlobClient, BlobProperties

from shared.api.requests import MAX_IMAGE_BYTES
from shared.errors import (
    BadArgument,
    Conflict,
    FaceGateError,
    InvalidImage,
    InvalidImageSize,
    NotFound,
    PolicyDenied,
)
from shared.identifiers import new_id
from shared.pipeline import blobs
from shared.pipeline.blobs import UploadRef, check_name, locate
from shared.pipeline.request import parse_request
from shared.policy import Caller, Customer, context_from, get_customer
from shared.service import detection, engine
from shared.storage import clients, names
from shared.storage.faults import storage_unavailable_as_503

__all__ = [
    "UploadRef",
    "check_name",
    "locate",
    "parse_request",
    "process_upload",
    "record_poison",
]

log = logging.getLogger("facegate.pipeline")

# Failures that another try cannot fix: they end in a failed result at once.
BLOB_CREATED = "Microsoft.Storage.BlobCreated"
FINAL_ERRORS = (BadArgument, InvalidImage, InvalidImageSize, NotFound, PolicyDenied, Conflict)
# reads the existing result while the upload's properties are read (process_upload)
_LOOKUPS = ThreadPoolExecutor(max_workers=8, thread_name_prefix="upload-lookup")


def _utc() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _failure(error: FaceGateError) -> dict[str, Any]:
    return {"code": error.code, "message": error.message, **error.details}


def _customer_or_none(customer_id: str) -> Customer | None:
    """The customer, or None if unknown; a registry outage raises (retry, never guess)."""
    try:
        return get_customer(customer_id)
    except NotFound:
        return None


def _analyse(
    ref: UploadRef, upload: BlobClient, props: BlobProperties, request_id: str, body: dict[str, Any]
) -> Customer | None:
    """The use case for one upload; fills ``body`` (succeeded, or failed on a final error)."""
    customer: Customer | None = None
    try:
        customer = get_customer(ref.customer_id)
        request = parse_request(props.metadata or {}, customer)
        body["features"] = list(request.features)
        context = context_from(
            capture=request.capture, channel="blob", purpose=request.purpose, request_id=request_id
        )

        def read_image() -> bytes:
            if props.size > MAX_IMAGE_BYTES:
                raise InvalidImageSize("The upload is larger than 6 MB.")
            with storage_unavailable_as_503("blob storage"):
                return blobs.read_version(upload, props.etag)

        found = detection.detect_faces(
            Caller(customer, context), read_image, request.options, request.gallery_id
        )
        body["decisionId"] = found.decision_id
        body["faces"] = found.faces
        if found.identify is not None:
            body["identify"] = found.identify
        body["status"] = "succeeded"
        body["models"] = engine.analyzer().versions()
        body["timings"] = {"analyzeMs": found.analyze_ms}
    except FINAL_ERRORS as error:
        if isinstance(error, NotFound) and customer is None:
            error = NotFound(
                f"Customer '{ref.customer_id}' is not registered.", code="UnknownCustomer"
            )
        body["error"] = _failure(error)
        if isinstance(error, PolicyDenied):
            body["decisionId"] = error.decision_id
    return customer


def _where(upload: BlobClient) -> UploadRef | None:
    """The upload's customer and name, or None (logged) when it is no customer's upload."""
    try:
        with storage_unavailable_as_503("blob storage"):
            return locate(upload.container_name, upload.blob_name)
    except BadArgument as error:  # no result can be written where the name does not point
        log.warning("upload refused unprocessed: %s", error.message)
        return None


def process_upload(upload: BlobClient) -> dict[str, Any] | None:
    """Analyse one upload and write its result; returns the result (None if already done)."""
    ref = _where(upload)
    if ref is None:
        return None
    started = time.perf_counter()
    # The binding builds a new service client per call (and, with a managed identity, a new
    # credential: a token request and a new TLS connection per upload); the process's
    # shared client keeps its connections and token, and its bounded timeouts.
    upload = clients.blob_service().get_blob_client(upload.container_name, upload.blob_name)
    result = clients.blob_service().get_blob_client(ref.results_container, ref.result_name)
    with storage_unavailable_as_503("blob storage"):
        # the two reads are independent: one round trip of waiting instead of two
        answered = _LOOKUPS.submit(blobs.existing_result, result)
        try:
            props = upload.get_blob_properties()
        except ResourceNotFoundError:
            log.info("upload %s of %s is gone; nothing to do", ref.name, ref.customer_id)
            return None
        finally:
            existing = answered.result()
    if blobs.answers(existing, props.etag):
        log.info("upload %s of %s already has a result", ref.name, ref.customer_id)
        customer = _customer_or_none(ref.customer_id)
        with storage_unavailable_as_503("blob storage"):
            blobs.apply_retention(
                upload, props.etag, keep=customer.keeps_uploads if customer else False
            )
        return None

    body: dict[str, Any] = {
        "status": "failed",
        "upload": {
            "container": ref.uploads_container,
            "name": ref.name,
            "etag": blobs.plain_etag(props.etag),
            "bytes": props.size,
        },
        "customerId": ref.customer_id,
        "requestId": new_id(),
    }
    try:
        customer = _analyse(ref, upload, props, body["requestId"], body)
    except ResourceModifiedError:
        log.info("upload %s changed while it was processed; the new version will be", ref.name)
        return None
    body["timings"] = {
        **body.get("timings", {}),
        "totalMs": round((time.perf_counter() - started) * 1000, 1),
    }
    body["processedAt"] = _utc()
    with storage_unavailable_as_503("blob storage"):
        written = blobs.write_result(result, body, props.etag, existing)
        if written:
            blobs.apply_retention(
                upload, props.etag, keep=customer.keeps_uploads if customer else False
            )
    log.info(
        "upload %s of %s: %s%s",
        ref.name,
        ref.customer_id,
        body["status"],
        f" ({body['error']['code']})" if "error" in body else "",
    )
    return body if written else None


def event_blob(event: Mapping[str, Any]) -> tuple[str, str, str] | None:
    """(container, blob name, ETag) of a BlobCreated event, or None for anything else."""
    data = event.get("data")
    if event.get("eventType") != BLOB_CREATED or not isinstance(data, Mapping):
        return None
    url = data.get("url")
    if not isinstance(url, str) or not url:
        return None
    try:
        client = BlobClient.from_blob_url(url)
    except ValueError:
        return None
    return client.container_name, client.blob_name, str(data.get("eTag", ""))


def record_poison(event: Mapping[str, Any]) -> dict[str, Any] | None:
    """After the host's last try of an event: a failed result (unless one exists) and a poison row.

    ``event`` is the Event Grid BlobCreated event that the queue trigger gave up on.
    """
    found = event_blob(event)
    if found is None:
        log.warning("poison message that is no BlobCreated event: ignored")
        return None
    container, name, etag = found
    try:
        with storage_unavailable_as_503("blob storage"):
            ref = locate(container, name)
    except BadArgument as error:
        log.warning("poison message refused: %s", error.message)
        return None
    result = clients.blob_service().get_blob_client(ref.results_container, ref.result_name)
    with storage_unavailable_as_503("blob storage"):
        existing = blobs.existing_result(result)
        clients.table_service().get_table_client(names.POISON).upsert_entity(
            {
                "PartitionKey": ref.customer_id,
                "RowKey": hashlib.sha256(
                    f"{ref.name}|{blobs.plain_etag(etag)}".encode()
                ).hexdigest(),
                "blobName": ref.name,
                "container": ref.uploads_container,
                "etag": blobs.plain_etag(etag),
                "eventId": str(event.get("id", ""))[:200],
                "recordedAt": _utc(),
            }
        )
        if blobs.answers(existing, etag):
            return None
        body = {
            "status": "failed",
            "upload": {
                "container": ref.uploads_container,
                "name": ref.name,
                "etag": blobs.plain_etag(etag),
            },
            "customerId": ref.customer_id,
            "error": {
                "code": "ProcessingFailed",
                "message": "The upload could not be processed after 5 tries (a transient fault "
                "persisted); it was kept so it can be uploaded again.",
            },
            "processedAt": _utc(),
        }
        blobs.write_result(result, body, etag, existing)
    return body
