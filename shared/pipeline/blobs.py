"""Blob mechanics of the pipeline: where an upload and its result live, ETags, one Put Blob.

Nothing here knows what an upload asks for or who may ask it; it only guarantees that
each upload version gets at most one result, written whole, and that retention never
deletes a newer version than the one answered.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from azure.core import MatchConditions
from azure.core.exceptions import ResourceExistsError, ResourceModifiedError, ResourceNotFoundError
from azure.storage.blob import BlobClient, ContentSettings

from shared.errors import BadArgument
from shared.storage import names


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
class ExistingResult:
    """A result already written: its own ETag and the upload ETag it answers."""

    etag: str
    source_etag: str


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


def plain_etag(etag: str) -> str:
    return etag.strip('"')


def existing_result(result: BlobClient) -> ExistingResult | None:
    try:
        props = result.get_blob_properties()
    except ResourceNotFoundError:
        return None
    return ExistingResult(props.etag, props.metadata.get("sourceetag", ""))


def answers(existing: ExistingResult | None, etag: str) -> bool:
    """True when ``existing`` is the result of this very upload version."""
    return existing is not None and existing.source_etag == plain_etag(etag)


def write_result(
    result: BlobClient, body: dict[str, Any], source_etag: str, existing: ExistingResult | None
) -> bool:
    """One atomic Put Blob; False if another delivery wrote this version's result first."""
    data = json.dumps(body, indent=1).encode()
    settings = ContentSettings(content_type="application/json")
    metadata = {"sourceetag": plain_etag(source_etag), "status": body["status"]}
    try:
        if existing is None:
            result.upload_blob(data, overwrite=False, content_settings=settings, metadata=metadata)
        else:
            result.upload_blob(
                data,
                overwrite=True,
                content_settings=settings,
                metadata=metadata,
                etag=existing.etag,
                match_condition=MatchConditions.IfNotModified,
            )
        return True
    except (ResourceExistsError, ResourceModifiedError):
        return False


def read_version(upload: BlobClient, etag: str) -> bytes:
    """The bytes of exactly this version (ResourceModifiedError if it was replaced)."""
    return upload.download_blob(etag=etag, match_condition=MatchConditions.IfNotModified).readall()


def apply_retention(upload: BlobClient, etag: str, keep: bool) -> bool:
    """Delete this version of the upload unless kept; a newer version is never deleted."""
    if keep:
        return False
    try:
        upload.delete_blob(etag=etag, match_condition=MatchConditions.IfNotModified)
        return True
    except (ResourceNotFoundError, ResourceModifiedError):
        return False
