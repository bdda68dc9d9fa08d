"""Shared fixtures: one in-memory Azurite per test session, on free loopback ports.

Tests that need storage ask for the ``azurite`` fixture; it points
FACEGATE_STORAGE (and the host's AzureWebJobsStorage) at the emulator, so the
code under test builds its clients exactly as it does in production.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from shared.storage import clients, provision
from tools.dev.azurite import Azurite


@pytest.fixture(scope="session")
def azurite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Azurite]:
    emulator = Azurite.on_free_ports()
    emulator.log_path = tmp_path_factory.mktemp("azurite") / "azurite.log"
    emulator.start()
    saved = {k: os.environ.get(k) for k in ("FACEGATE_STORAGE", "AzureWebJobsStorage")}
    os.environ["FACEGATE_STORAGE"] = emulator.connection_string
    os.environ["AzureWebJobsStorage"] = emulator.connection_string
    clients.reset()
    provision.forget()
    provision.ensure_storage()
    try:
        yield emulator
    finally:
        emulator.stop()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        clients.reset()
        provision.forget()
