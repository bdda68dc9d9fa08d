"""Connections to the PostgreSQL gallery store: one bounded pool per process.

Locally a libpq URI with its own credentials (``FACEGATE_POSTGRES_URL``); in Azure the
function app's managed identity signs in with a Microsoft Entra access token as its
password (``FACEGATE_POSTGRES_HOST``/``_DATABASE``/``_USER``/``_CLIENT_ID``). A token is
fetched for every new connection and connections are recycled well within a token's
lifetime, so no connection ever outlives the credential it was opened with.

Any failure to reach the database is a ServiceUnavailable (503: nothing analysed, the
gate fails closed), as for storage.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from importlib import resources
from typing import Any

import psycopg
from pgvector.psycopg import register_vector
from psycopg_pool import ConnectionPool, PoolTimeout

from shared import settings
from shared.errors import ServiceUnavailable

log = logging.getLogger(__name__)

ENTRA_SCOPE = "https://ossrdbms-aad.database.windows.net/.default"
_CONNECT_TIMEOUT = 5  # seconds to open one connection
_WAIT_SECONDS = 10.0  # for a free pooled connection before answering 503
_MAX_LIFETIME = 30 * 60.0  # < an Entra token's lifetime (60-90 minutes)


def configured(env: Mapping[str, str] | None = None) -> bool:
    """Whether a PostgreSQL gallery store is configured at all."""
    return bool(
        settings.get("FACEGATE_POSTGRES_URL", env) or settings.get("FACEGATE_POSTGRES_HOST", env)
    )


def _entra_password(client_id: str) -> str:
    from azure.identity import DefaultAzureCredential, ManagedIdentityCredential

    credential = (
        ManagedIdentityCredential(client_id=client_id) if client_id else DefaultAzureCredential()
    )
    return credential.get_token(ENTRA_SCOPE).token


def connection_kwargs(env: Mapping[str, str] | None = None) -> tuple[str, dict[str, Any]]:
    """(conninfo, static keyword arguments) for the configured server."""
    url = settings.get("FACEGATE_POSTGRES_URL", env)
    common: dict[str, Any] = {"connect_timeout": _CONNECT_TIMEOUT, "application_name": "facegate"}
    if url:
        return url, common
    host = settings.get("FACEGATE_POSTGRES_HOST", env)
    if not host:
        raise ServiceUnavailable("No PostgreSQL gallery store is configured.")
    return "", {
        **common,
        "host": host,
        "dbname": settings.get("FACEGATE_POSTGRES_DATABASE", env),
        "user": settings.get("FACEGATE_POSTGRES_USER", env),
        "sslmode": "require",
    }


class _EntraConnection(psycopg.Connection):
    """A connection whose password is a fresh Entra token when none is configured."""

    @classmethod
    def connect(cls, conninfo: str = "", **kwargs: Any):  # type: ignore[override]
        if not conninfo and "password" not in kwargs:
            kwargs["password"] = _entra_password(settings.get("FACEGATE_POSTGRES_CLIENT_ID"))
        return super().connect(conninfo, **kwargs)


def _configure(connection: psycopg.Connection) -> None:
    register_vector(connection)
    connection.autocommit = True  # explicit transactions only (connection.transaction())


def apply_schema(connection: psycopg.Connection) -> None:
    """Create the tables if they are missing (idempotent; serialised across instances)."""
    sql = resources.files(__package__).joinpath("schema.sql").read_text(encoding="utf-8")
    with connection.transaction():
        connection.execute("SELECT pg_advisory_xact_lock(hashtext('facegate-schema'))")
        connection.execute(sql)


class Database:
    """The process's pool to one PostgreSQL gallery store, opened lazily."""

    def __init__(
        self, env: Mapping[str, str] | None = None, *, wait_seconds: float = _WAIT_SECONDS
    ) -> None:
        self._env = env
        self._wait = wait_seconds  # for a free (or new) connection before answering 503
        self._lock = threading.Lock()
        self._pool: ConnectionPool | None = None

    def _open(self) -> ConnectionPool:
        conninfo, kwargs = connection_kwargs(self._env)
        # the schema first, on a connection of its own: the pool's connections register the
        # vector type, which exists only once the extension is created
        with _EntraConnection.connect(conninfo, autocommit=True, **kwargs) as connection:
            apply_schema(connection)
        size = max(1, settings.get_int("FACEGATE_POSTGRES_POOL_SIZE", self._env))
        pool = ConnectionPool(
            conninfo,
            kwargs=kwargs,
            min_size=1,
            max_size=size,
            max_lifetime=_MAX_LIFETIME,
            timeout=self._wait,
            connection_class=_EntraConnection,
            configure=_configure,
            check=ConnectionPool.check_connection,  # a server restart leaves no dead one
            open=False,
            name="facegate-galleries",
        )
        try:
            pool.open(wait=True, timeout=self._wait)
        except BaseException:
            pool.close()  # no workers left retrying in the background
            raise
        return pool

    @contextmanager
    def connection(self) -> Iterator[psycopg.Connection]:
        """A pooled connection; an unreachable or failing database is a 503."""
        try:
            with self._lock:
                if self._pool is None:
                    self._pool = self._open()
                pool = self._pool
            with pool.connection() as connection:
                yield connection
        except (psycopg.OperationalError, psycopg.InterfaceError, PoolTimeout, OSError) as exc:
            log.warning("PostgreSQL gallery store unavailable: %s", type(exc).__name__)
            message = "The gallery store is unavailable; nothing was analysed."
            raise ServiceUnavailable(message) from exc

    def close(self) -> None:
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.close()


DATABASE = Database()
