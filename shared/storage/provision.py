"""Create the containers and tables FaceGate needs, if they are missing.

In Azure, Bicep creates them; locally the app and tests call this so a fresh
Azurite works. Idempotent and cheap after the first call in a process.
"""

from __future__ import annotations

import contextlib
import threading

from azure.core.exceptions import ResourceExistsError

from shared.settings import storage_settings
from shared.storage import clients, names

_lock = threading.Lock()
_done: set[str] = set()


def ensure_storage() -> None:
    """Create every container and table in ``names`` (once per process and account)."""
    key = repr(storage_settings())
    with _lock:
        if key in _done:
            return
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
        _done.add(key)


def forget() -> None:
    """Forget what was provisioned (tests that restart the emulator)."""
    with _lock:
        _done.clear()
