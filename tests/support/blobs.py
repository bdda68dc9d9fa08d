"""Uploads and their results in the storage this process points at (end-to-end tests)."""

from __future__ import annotations

import json

from shared.storage import clients, names


def upload(customer: str, name: str, data: bytes, **metadata: str) -> str:
    """Put ``uploads/{customer}/{name}``; returns ``{customer}/{name}``."""
    blob = clients.blob_service().get_blob_client(names.UPLOADS, f"{customer}/{name}")
    blob.upload_blob(data, overwrite=True, metadata=metadata or None)
    return f"{customer}/{name}"


def results_for(paths: list[str]) -> dict[str, dict]:
    """The result JSON of every upload path that has one so far."""
    container = clients.blob_service().get_container_client(names.RESULTS)
    found = {}
    for path in paths:
        blob = container.get_blob_client(f"{path}.json")
        if blob.exists():
            found[path] = json.loads(blob.download_blob().readall())
    return found


def remaining_uploads(paths: list[str]) -> set[str]:
    """The upload paths still in the uploads container."""
    container = clients.blob_service().get_container_client(names.UPLOADS)
    return {p for p in paths if container.get_blob_client(p).exists()}
