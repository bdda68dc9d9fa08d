"""Create the containers and tables FaceGate needs, if they are missing.

In Azure, Bicep creates them; locally the app and tests call this so a fresh
Azurite works. Idempotent and cheap after the first call in a process.
"""

from __future__ import annotations

import contextlib

from azure.core.exceptions import ResourceExistsError

from shared.lazy import Lazy
from shared.settings import StorageSettings, storage_settings
from shared.storage import clients, names


def _provision(settings: StorageSettings) -> None:
    blobs = clients.blob_service()
    for container in names.CONTAINERS:
        with contextlib.suppress(ResourceExistsError):
            blobs.create_container(container)
    tables = clients.table_service()
    for table in names.TABLES:
        tables.create_table_if_not_exists(table)
    queues = clients.queue_service()
    for queue in names.QUEUES:
        with contextlib.suppress(ResourceExistsError):
            queues.create_queue(queue)


_provisioned: Lazy[None] = Lazy(_provision, key=storage_settings)


def ensure_storage() -> None:
    """Create every container, table and queue in ``names`` (once per process and account)."""
    _provisioned()


def reset() -> None:
    """Forget what was provisioned (tests that restart the emulator)."""
    _provisioned.reset()
