"""Shared fixtures: one in-memory Azurite per test session, on free loopback ports.

Tests that need storage ask for the ``azurite`` fixture; it points
FACEGATE_STORAGE (and the host's AzureWebJobsStorage) at the emulator, so the
code under test builds its clients exactly as it does in production.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tools.dev.azurite import Azurite, storage_of_this_process


@pytest.fixture(scope="session")
def azurite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Azurite]:
    emulator = Azurite.on_free_ports()
    emulator.log_path = tmp_path_factory.mktemp("azurite") / "azurite.log"
    emulator.start()
    try:
        with storage_of_this_process(emulator.connection_string):
            yield emulator
    finally:
        emulator.stop()
