"""Storage clients for a binding's ``connection`` setting, read the way the host reads it.

A connection names an app setting: either a connection string, or identity-based
settings under ``<NAME>__`` (``__accountName``, ``__blobServiceUri`` ...). The
parsing is shared/settings.storage_settings, so the dev host and our own
clients agree; clients are cached per connection name.
"""

from __future__ import annotations

import threading
from typing import Any

from azure.storage.blob import BlobServiceClient
from azure.storage.queue import QueueServiceClient

from shared.settings import StorageSettings, storage_settings

_OPTIONS: dict[str, Any] = {"connection_timeout": 5, "read_timeout": 30, "retry_total": 2}
_lock = threading.Lock()
_cache: dict[tuple[str, str, StorageSettings], Any] = {}


def _credential(settings: StorageSettings) -> Any:
    from azure.identity import DefaultAzureCredential, ManagedIdentityCredential

    if (settings.credential or "").lower() == "managedidentity":
        return ManagedIdentityCredential(client_id=settings.client_id)
    return DefaultAzureCredential(managed_identity_client_id=settings.client_id)


def _build(kind: str, settings: StorageSettings) -> Any:
    cls = BlobServiceClient if kind == "blob" else QueueServiceClient
    if settings.connection_string:
        return cls.from_connection_string(settings.connection_string, **_OPTIONS)
    uri = settings.blob_uri if kind == "blob" else settings.queue_uri
    if not uri:
        raise RuntimeError(f"no {kind} service URI configured for this connection")
    return cls(uri, credential=_credential(settings), **_OPTIONS)


def _client(kind: str, connection: str) -> Any:
    settings = storage_settings(connection=connection)
    key = (kind, connection, settings)
    with _lock:
        if key not in _cache:
            _cache[key] = _build(kind, settings)
        return _cache[key]


def blob_service(connection: str) -> BlobServiceClient:
    return _client("blob", connection)


def queue_service(connection: str) -> QueueServiceClient:
    return _client("queue", connection)
