"""Uploads and their results in the storage this process points at (end-to-end tests).

An upload path is ``{customer}/{name}``: the customer's uploads container and the name in it.
"""

from __future__ import annotations

import json

from azure.storage.blob import BlobClient

from shared.pipeline import access
from shared.storage import clients


def upload_client(path: str) -> BlobClient:
    customer, _, name = path.partition("/")
    return clients.blob_service().get_blob_client(access.uploads_container(customer), name)


def result_client(path: str) -> BlobClient:
    customer, _, name = path.partition("/")
    return clients.blob_service().get_blob_client(
        access.results_container(customer), f"{name}.json"
    )


def upload(customer: str, name: str, data: bytes, **metadata: str) -> str:
    """Put ``name`` into the customer's uploads container; returns ``{customer}/{name}``."""
    path = f"{customer}/{name}"
    upload_client(path).upload_blob(data, overwrite=True, metadata=metadata or None)
    return path


def result_of(path: str) -> dict | None:
    blob = result_client(path)
    if not blob.exists():
        return None
    return json.loads(blob.download_blob().readall())


def results_for(paths: list[str]) -> dict[str, dict]:
    """The result JSON of every upload path that has one so far."""
    found = {}
    for path in paths:
        result = result_of(path)
        if result is not None:
            found[path] = result
    return found


def remaining_uploads(paths: list[str]) -> set[str]:
    """The upload paths still in their uploads container."""
    return {p for p in paths if upload_client(p).exists()}
