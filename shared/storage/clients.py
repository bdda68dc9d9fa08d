"""Build every storage client from settings, once per process.

Locally the connection is a connection string (``UseDevelopmentStorage=true``
for Azurite); in Azure it is identity-based (service URIs plus a managed
identity). Callers never build clients themselves, so the two cases are
handled here only. SDK clients are thread-safe and are shared.
"""

from __future__ import annotations

import threading
from typing import Any

from azure.data.tables import TableClient, TableServiceClient
from azure.storage.blob import BlobServiceClient
from azure.storage.queue import QueueServiceClient

from shared.lazy import Lazy
from shared.settings import SettingsError, StorageSettings, storage_settings
from shared.storage import names

# Bounded waits: a storage outage must turn into a fast 503, not a hung request.
_CLIENT_OPTIONS: dict[str, Any] = {
    "connection_timeout": 5,
    "read_timeout": 20,
    "retry_total": 2,
    "retry_backoff_factor": 0.2,
}


def _credential(settings: StorageSettings) -> Any:
    from azure.identity import DefaultAzureCredential, ManagedIdentityCredential

    if (settings.credential or "").lower() == "managedidentity":
        return ManagedIdentityCredential(client_id=settings.client_id)
    return DefaultAzureCredential(managed_identity_client_id=settings.client_id)


def _build(kind: str, settings: StorageSettings) -> Any:
    if settings.connection_string:
        if kind == "blob":
            return BlobServiceClient.from_connection_string(
                settings.connection_string, **_CLIENT_OPTIONS
            )
        if kind == "queue":
            return QueueServiceClient.from_connection_string(
                settings.connection_string, **_CLIENT_OPTIONS
            )
        return TableServiceClient.from_connection_string(
            settings.connection_string, **_CLIENT_OPTIONS
        )
    uris = {"blob": settings.blob_uri, "table": settings.table_uri, "queue": settings.queue_uri}
    uri = uris[kind]
    if not uri:
        raise SettingsError(f"no {kind} service URI configured for storage")
    credential = _credential(settings)
    if kind == "blob":
        return BlobServiceClient(uri, credential=credential, **_CLIENT_OPTIONS)
    if kind == "queue":
        return QueueServiceClient(uri, credential=credential, **_CLIENT_OPTIONS)
    return TableServiceClient(uri, credential=credential, **_CLIENT_OPTIONS)


def _with_shared_table_clients(service: TableServiceClient) -> TableServiceClient:
    """One TableClient per table, built up front and then shared.

    ``get_table_client`` builds a new pipeline over the service's policy objects and re-links
    their ``next``: built while another thread sends through an earlier pipeline, that
    thread can meet a half-linked policy (AttributeError, a 500). So every table FaceGate
    uses gets its client before the service is handed out, and other names (tests) are
    built under a lock, once.
    """
    build = service.get_table_client
    lock = threading.Lock()
    made: dict[str, TableClient] = {name: build(name) for name in names.TABLES}

    def get_table_client(table_name: str, **kwargs: Any) -> TableClient:
        if kwargs:
            with lock:
                return build(table_name, **kwargs)
        client = made.get(table_name)
        if client is None:
            with lock:
                client = made.get(table_name) or made.setdefault(table_name, build(table_name))
        return client

    service.get_table_client = get_table_client  # type: ignore[method-assign]
    return service


# One client per kind, rebuilt when the storage settings change (tests switch emulators).
_blob: Lazy[BlobServiceClient] = Lazy(lambda s: _build("blob", s), key=storage_settings)
_table: Lazy[TableServiceClient] = Lazy(
    lambda s: _with_shared_table_clients(_build("table", s)), key=storage_settings
)
_queue: Lazy[QueueServiceClient] = Lazy(lambda s: _build("queue", s), key=storage_settings)


def blob_service() -> BlobServiceClient:
    return _blob()


def table_service() -> TableServiceClient:
    return _table()


def queue_service() -> QueueServiceClient:
    return _queue()


def reset() -> None:
    """Forget the clients (tests that restart an emulator on the same settings)."""
    for client in (_blob, _table, _queue):
        client.reset()
