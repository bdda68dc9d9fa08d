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
from shared.pipeline import access

MAX_NAME = 1000  # the result adds ".json"; Azure allows 1024 characters


@dataclass(frozen=True)
class UploadRef:
    """One upload: whose it is, and its name inside that customer's uploads container."""

    customer_id: str
    name: str

    @property
    def uploads_container(self) -> str:
        return access.uploads_container(self.customer_id)

    @property
    def results_container(self) -> str:
        return access.results_container(self.customer_id)

    @property
    def result_name(self) -> str:
        return f"{self.name}.json"


@dataclass(frozen=True)
class ExistingResult:
    """A result already written: its own ETag and the upload ETag it answers."""

    etag: str
    source_etag: str


def check_name(name: str) -> str:
    """An upload name the pipeline can answer; BadArgument otherwise.

    Storage keeps '\\' as '/', and URL libraries resolve '.' and '..' before a request is
    sent: a result for such a name would land on another name's result, so it is never
    processed.
    """
    if not name or len(name) > MAX_NAME:
        raise BadArgument(f"Upload name '{name[:200]}' is empty or too long.")
    if "\\" in name or any(segment in (".", "..") for segment in name.split("/")):
        raise BadArgument(f"Upload '{name[:200]}' has a '.', '..' or '\\' path segment.")
    return name


def locate(container: str, name: str) -> UploadRef:
    """The upload at ``container/name``: BadArgument unless it is a customer's uploads container.

    The customer comes from the container, which only that customer's credential can
    write to; the blob name says nothing about who sent it.
    """
    customer_id = access.owner_of(container)
    if customer_id is None:
        raise BadArgument(f"Container '{container[:64]}' is no customer's uploads container.")
    return UploadRef(customer_id, check_name(name))


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
