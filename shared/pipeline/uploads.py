"""The blob pipeline: every upload to uploads/{customerId}/{name} gets exactly one result.

``process_upload`` is called by the blob-triggered function (possibly more than
once for the same blob version: re-delivery, restarts). It:

1. reads the upload's properties (ETag, size, metadata) -- never its bytes yet;
2. returns at once if a result for this very version exists (idempotent);
3. looks the customer up and asks the gate for the requested features;
   a denial is a final, failed result and the bytes are never read;
4. downloads that exact version (conditional on its ETag), analyses it, and
   identifies faces against ``galleryid`` when asked;
5. writes ``results/{customerId}/{name}.json`` in one Put Blob (readers never
   see half a result), conditionally, so two deliveries cannot both write;
6. deletes the upload (that version only) unless the customer keeps uploads.

Final failures (bad image, denial, unknown customer or gallery) produce a
failed result and no retry. Transient ones (storage unavailable) raise, so the
host retries; after the last try the host's poison message reaches
``record_poison``, which writes the failed result and a durable poison record.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from azure.core import MatchConditions
from azure.core.exceptions import ResourceExistsError, ResourceModifiedError, ResourceNotFoundError
from azure.storage.blob import BlobClient, ContentSettings

from shared import attributes as attribute_registry
from shared.api.requests import MAX_IMAGE_BYTES, DetectOptions
from shared.errors import (
    BadArgument,
    Conflict,
    FaceGateError,
    InvalidImage,
    InvalidImageSize,
    NotFound,
    PolicyDenied,
)
from shared.galleries import store
from shared.identifiers import gallery_id as check_gallery_id
from shared.identifiers import new_id
from shared.policy import FEATURES, Caller, Customer, context_from, get_customer
from shared.service import detection, engine, recognition
from shared.storage import clients, names
from shared.storage.faults import storage_unavailable_as_503

log = logging.getLogger("facegate.pipeline")

# Failures that another try cannot fix: they end in a failed result at once.
FINAL_ERRORS = (BadArgument, InvalidImage, InvalidImageSize, NotFound, PolicyDenied, Conflict)


@dataclass(frozen=True)
class UploadRef:
    customer_id: str
    name: str

    @property
    def upload_path(self) -> str:
        return f"{self.customer_id}/{self.name}"

    @property
    def result_path(self) -> str:
        return f"{self.customer_id}/{self.name}.json"


@dataclass(frozen=True)
class Request:
    features: tuple[str, ...]
    gallery_id: str | None
    capture: str | None
    purpose: str | None


def parse_blob_name(blob_name: str) -> UploadRef:
    """``uploads/{customerId}/{name}`` (or without the container) -> its parts."""
    path = blob_name.split("/", 1)[1] if blob_name.startswith(f"{names.UPLOADS}/") else blob_name
    customer_id, _, name = path.partition("/")
    if not customer_id or not name:
        raise BadArgument(f"Upload '{blob_name[:200]}' is not under uploads/{{customerId}}/.")
    # Storage keeps '\' as '/', and URL libraries resolve '.' and '..' before a request is
    # sent: such a name would address another customer's folder (token credentials sign
    # no path), so it is never processed.
    if "\\" in path or any(segment in (".", "..") for segment in path.split("/")):
        raise BadArgument(f"Upload '{blob_name[:200]}' has a '.', '..' or '\\' path segment.")
    return UploadRef(customer_id, name)


def _utc() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _plain_etag(etag: str) -> str:
    return etag.strip('"')


def parse_request(metadata: Mapping[str, str], customer: Customer) -> Request:
    """Features from the upload's metadata, else the customer's defaults."""
    meta = {k.lower(): v for k, v in metadata.items()}
    raw = meta.get("features")
    if raw is None or not raw.strip():
        features = list(customer.default_features)
    else:
        features = []
        for part in raw.split(","):
            feature = part.strip().lower()
            if feature not in FEATURES:
                raise BadArgument(
                    f"Unknown feature '{feature[:40]}' in metadata; known: {', '.join(FEATURES)}."
                )
            if feature not in features:
                features.append(feature)
    gallery = meta.get("galleryid") or None
    if gallery is not None:
        check_gallery_id(gallery)
        if "identify" not in features:
            features.append("identify")
    elif "identify" in features:
        raise BadArgument("Feature 'identify' needs the metadata galleryid.")
    if "detect" not in features:
        features.insert(0, "detect")
    return Request(tuple(features), gallery, meta.get("capturecontext"), meta.get("purpose"))


def _options(request: Request) -> DetectOptions:
    """Every attribute whose action the upload asks for (``detect`` always is)."""
    return DetectOptions(
        return_face_id=False,
        return_landmarks=True,
        attributes=attribute_registry.allowed_by(request.features),
        max_faces=100,
    )


def _existing_source_etag(result: BlobClient) -> tuple[str, str] | None:
    """(result's own ETag, the upload ETag it answers) or None when there is no result."""
    try:
        props = result.get_blob_properties()
    except ResourceNotFoundError:
        return None
    return props.etag, props.metadata.get("sourceetag", "")


def _write_result(
    result: BlobClient, body: dict[str, Any], source_etag: str, existing: tuple[str, str] | None
) -> bool:
    """One atomic Put Blob; False if another delivery wrote this version's result first."""
    data = json.dumps(body, indent=1).encode()
    settings = ContentSettings(content_type="application/json")
    metadata = {"sourceetag": _plain_etag(source_etag), "status": body["status"]}
    try:
        if existing is None:
            result.upload_blob(data, overwrite=False, content_settings=settings, metadata=metadata)
        else:
            result.upload_blob(
                data,
                overwrite=True,
                content_settings=settings,
                metadata=metadata,
                etag=existing[0],
                match_condition=MatchConditions.IfNotModified,
            )
        return True
    except (ResourceExistsError, ResourceModifiedError):
        return False


def _apply_retention(upload: BlobClient, etag: str, keep: bool) -> bool:
    """Delete this version of the upload unless kept; a newer version is never deleted."""
    if keep:
        return False
    try:
        upload.delete_blob(etag=etag, match_condition=MatchConditions.IfNotModified)
        return True
    except (ResourceNotFoundError, ResourceModifiedError):
        return False


def _failure(error: FaceGateError) -> dict[str, Any]:
    return {"code": error.code, "message": error.message, **error.details}


def process_upload(blob_name: str) -> dict[str, Any] | None:
    """Analyse one upload and write its result; returns the result (None if already done)."""
    try:
        ref = parse_blob_name(blob_name)
    except BadArgument as error:  # no result can be written where the name does not point
        log.warning("upload refused unprocessed: %s", error.message)
        return None
    started = time.perf_counter()
    service = clients.blob_service()
    upload = service.get_blob_client(names.UPLOADS, ref.upload_path)
    result = service.get_blob_client(names.RESULTS, ref.result_path)
    with storage_unavailable_as_503("blob storage"):
        try:
            props = upload.get_blob_properties()
        except ResourceNotFoundError:
            log.info("upload %s is gone; nothing to do", ref.upload_path)
            return None
        etag = props.etag
        existing = _existing_source_etag(result)
    request_id = new_id()
    body: dict[str, Any] = {
        "status": "failed",
        "upload": {
            "container": names.UPLOADS,
            "name": ref.upload_path,
            "etag": _plain_etag(etag),
            "bytes": props.size,
        },
        "customerId": ref.customer_id,
        "requestId": request_id,
    }
    if existing is not None and existing[1] == _plain_etag(etag):
        log.info("upload %s version already has a result", ref.upload_path)
        customer = _customer_or_none(ref.customer_id)
        with storage_unavailable_as_503("blob storage"):
            _apply_retention(upload, etag, keep=customer.keeps_uploads if customer else False)
        return None

    customer: Customer | None = None
    try:
        customer = get_customer(ref.customer_id)
        request = parse_request(props.metadata or {}, customer)
        body["features"] = list(request.features)
        context = context_from(
            capture=request.capture, channel="blob", purpose=request.purpose, request_id=request_id
        )
        options = _options(request)
        identify = ["identify"] if request.gallery_id is not None else []
        body["decisionId"] = detection.authorize_detect(
            Caller(customer, context), options, identify
        )
        if request.gallery_id is not None:
            store.get_gallery(customer.id, request.gallery_id)  # NotFound before any byte is read
        if props.size > MAX_IMAGE_BYTES:
            raise InvalidImageSize("The upload is larger than 6 MB.")
        analysed = time.perf_counter()
        with storage_unavailable_as_503("blob storage"):
            image = upload.download_blob(
                etag=etag, match_condition=MatchConditions.IfNotModified
            ).readall()
        faces = engine.analyzer().analyze(
            image,
            options.attributes,
            landmarks=True,
            embeddings=request.gallery_id is not None,
            max_faces=options.max_faces,
        )
        identified = None
        if request.gallery_id is not None:
            probes = [(str(i), f.embedding) for i, f in enumerate(faces)]
            matches = recognition.identify_templates(
                customer.id, request.gallery_id, probes, max_candidates=5, threshold=None
            )
            identified = {
                "galleryId": request.gallery_id,
                "results": [
                    {"faceIndex": int(m["faceId"]), "candidates": m["candidates"]} for m in matches
                ],
            }
        body["faces"] = [f.to_json(landmarks=True, attributes=True) for f in faces]
        if identified is not None:
            body["identify"] = identified
        body["status"] = "succeeded"
        body["models"] = engine.analyzer().versions()
        body["timings"] = {"analyzeMs": round((time.perf_counter() - analysed) * 1000, 1)}
    except FINAL_ERRORS as error:
        if isinstance(error, NotFound) and customer is None:
            error = NotFound(
                f"Customer '{ref.customer_id}' is not registered.", code="UnknownCustomer"
            )
        body["error"] = _failure(error)
        if isinstance(error, PolicyDenied):
            body["decisionId"] = error.decision_id
    except ResourceModifiedError:
        log.info(
            "upload %s changed while it was processed; the new version will be", ref.upload_path
        )
        return None
    body["timings"] = {
        **body.get("timings", {}),
        "totalMs": round((time.perf_counter() - started) * 1000, 1),
    }
    body["processedAt"] = _utc()
    with storage_unavailable_as_503("blob storage"):
        written = _write_result(result, body, etag, existing)
        if written:
            _apply_retention(upload, etag, keep=customer.keeps_uploads if customer else False)
    log.info(
        "upload %s: %s%s",
        ref.upload_path,
        body["status"],
        f" ({body['error']['code']})" if "error" in body else "",
    )
    return body if written else None


def _customer_or_none(customer_id: str) -> Customer | None:
    """The customer, or None if unknown; a registry outage raises (retry, never guess)."""
    try:
        return get_customer(customer_id)
    except NotFound:
        return None


def record_poison(message: Mapping[str, Any]) -> dict[str, Any] | None:
    """After the host's last try: a failed result (unless one exists) and a durable poison row.

    ``message`` is the host's poison-queue JSON (ContainerName, BlobName, ETag, FunctionId).
    """
    if message.get("ContainerName") != names.UPLOADS:
        return None
    try:
        ref = parse_blob_name(str(message.get("BlobName", "")))
    except BadArgument as error:
        log.warning("poison message refused: %s", error.message)
        return None
    etag = str(message.get("ETag", ""))
    service = clients.blob_service()
    result = service.get_blob_client(names.RESULTS, ref.result_path)
    with storage_unavailable_as_503("blob storage"):
        existing = _existing_source_etag(result)
        clients.table_service().get_table_client(names.POISON).upsert_entity(
            {
                "PartitionKey": ref.customer_id,
                "RowKey": hashlib.sha256(f"{ref.name}|{etag}".encode()).hexdigest(),
                "blobName": ref.upload_path,
                "etag": _plain_etag(etag),
                "function": str(message.get("FunctionId", ""))[:200],
                "recordedAt": _utc(),
            }
        )
        if existing is not None and existing[1] == _plain_etag(etag):
            return None
        body = {
            "status": "failed",
            "upload": {
                "container": names.UPLOADS,
                "name": ref.upload_path,
                "etag": _plain_etag(etag),
            },
            "customerId": ref.customer_id,
            "error": {
                "code": "ProcessingFailed",
                "message": "The upload could not be processed after 5 tries (a transient fault "
                "persisted); it was kept so it can be uploaded again.",
            },
            "processedAt": _utc(),
        }
        _write_result(result, body, etag, existing)
    return body
