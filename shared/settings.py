"""Application settings: every environment variable FaceGate reads, in one place.

Each setting is declared once in ``SETTINGS`` with its default and meaning, so
the README table, the Bicep check and the code all agree on the names.
The storage connection is special: like the Functions host, it is either a
connection string in ``FACEGATE_STORAGE`` or identity-based settings under the
``FACEGATE_STORAGE__`` prefix (see ``StorageSettings``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

STORAGE_CONNECTION = "FACEGATE_STORAGE"


@dataclass(frozen=True)
class Setting:
    name: str
    default: str
    description: str


SETTINGS: tuple[Setting, ...] = (
    Setting(
        "FACEGATE_US_FEDERAL_FACE_LAW_IN_FORCE",
        "false",
        "`true` only once a US federal law governs police use of face recognition; "
        "lifts the US law-enforcement moratorium policy.",
    ),
    Setting(
        "FACEGATE_REGISTRY_CACHE_SECONDS",
        "15",
        "How long a customer record or key lookup is cached; a suspension or key "
        "revocation takes effect within this time (at most 30).",
    ),
    Setting(
        "FACEGATE_RATE_LIMIT",
        "10/1",
        "Default per-customer rate limit, N/S (N requests per S seconds) on every HTTP route, "
        "counted across instances; a customer's registry record may set its own.",
    ),
    Setting(
        "FACEGATE_VERIFY_LIMIT",
        "100/3600",
        "Default per-customer limit on verify calls against one gallery, N/S; verifying a "
        "face against every person of a gallery is identification.",
    ),
    Setting(
        "FACEGATE_CONSOLE_AUTH",
        "local",
        "How operators sign in to the console: `local` (an operator credential, "
        "`make run` prints one), `entra` (App Service authentication with Microsoft "
        "Entra ID; only then is `X-MS-CLIENT-PRINCIPAL` trusted) or `off`.",
    ),
    Setting(
        "FACEGATE_GALLERY_STORE",
        "table",
        "Where galleries live unless a customer's registry record says otherwise: `table` "
        "(Azure Table storage, each instance searches an in-memory copy) or `postgres` "
        "(PostgreSQL with pgvector, searched in the database; docs/galleries-postgres.md).",
    ),
    Setting(
        "FACEGATE_POSTGRES_URL",
        "",
        "A libpq URI for the PostgreSQL gallery store with its own credentials (local "
        "development); when empty, FACEGATE_POSTGRES_HOST with Microsoft Entra authentication.",
    ),
    Setting(
        "FACEGATE_POSTGRES_HOST",
        "",
        "Host name of the Azure Database for PostgreSQL Flexible Server holding galleries "
        "(empty: no PostgreSQL store).",
    ),
    Setting(
        "FACEGATE_POSTGRES_DATABASE",
        "facegate",
        "Database name on FACEGATE_POSTGRES_HOST.",
    ),
    Setting(
        "FACEGATE_POSTGRES_USER",
        "",
        "Database role of the function app's managed identity (its name); the password is a "
        "Microsoft Entra access token obtained with that identity.",
    ),
    Setting(
        "FACEGATE_POSTGRES_CLIENT_ID",
        "",
        "Client id of the user-assigned managed identity that signs in to PostgreSQL "
        "(empty: the default Azure credential chain).",
    ),
    Setting(
        "FACEGATE_POSTGRES_POOL_SIZE",
        "4",
        "Connections per instance to the PostgreSQL gallery store (a Flex Consumption "
        "instance runs a few requests at once; the server's limit is shared by all instances).",
    ),
    Setting(
        "FACEGATE_POSTGRES_EXACT_BELOW",
        "20000",
        "Galleries with fewer faces than this are searched exactly in PostgreSQL; larger ones "
        "through the approximate (HNSW) index.",
    ),
    Setting(
        "FACEGATE_POSTGRES_EF_SEARCH",
        "400",
        "hnsw.ef_search for approximate searches (higher: better recall, slower).",
    ),
    Setting(
        "FACEGATE_ONNX_THREADS",
        "1",
        "Intra-op threads per ONNX session (the Functions host runs requests in parallel).",
    ),
)

_BY_NAME = {s.name: s for s in SETTINGS}


def get(name: str, env: Mapping[str, str] | None = None) -> str:
    """Value of a declared setting, or its default."""
    setting = _BY_NAME[name]
    source = os.environ if env is None else env
    value = source.get(name, "").strip()
    return value or setting.default


def get_bool(name: str, env: Mapping[str, str] | None = None) -> bool:
    return get(name, env).lower() in {"1", "true", "yes", "on"}


def get_int(name: str, env: Mapping[str, str] | None = None) -> int:
    raw = get(name, env)
    try:
        return int(raw)
    except ValueError:
        return int(_BY_NAME[name].default)


@dataclass(frozen=True)
class StorageSettings:
    """Where storage is and how to authenticate, as the Functions host reads it.

    Either ``connection_string`` is set (Azurite, or a key-based account), or the
    service URIs are, with a token credential (managed identity in Azure).
    """

    connection_string: str | None = None
    blob_uri: str | None = None
    table_uri: str | None = None
    queue_uri: str | None = None
    credential: str | None = None
    client_id: str | None = None

    @property
    def uses_identity(self) -> bool:
        return self.connection_string is None


class SettingsError(RuntimeError):
    """The storage connection is not configured."""


def storage_settings(
    env: Mapping[str, str] | None = None, connection: str = STORAGE_CONNECTION
) -> StorageSettings:
    """Read one storage connection the way the Functions host does.

    ``FACEGATE_STORAGE`` (a connection string) wins; otherwise
    ``FACEGATE_STORAGE__accountName`` or the per-service URIs
    (``__blobServiceUri``, ``__tableServiceUri``, ``__queueServiceUri``) with
    optional ``__credential`` and ``__clientId``. With nothing set, the local
    emulator is used.
    """
    source = os.environ if env is None else env
    connection_string = source.get(connection, "").strip()
    if connection_string:
        return StorageSettings(connection_string=connection_string)

    def part(key: str) -> str | None:
        value = source.get(f"{connection}__{key}", "").strip()
        return value or None

    account = part("accountName")
    blob_uri = part("blobServiceUri")
    table_uri = part("tableServiceUri")
    queue_uri = part("queueServiceUri")
    if account:
        blob_uri = blob_uri or f"https://{account}.blob.core.windows.net"
        table_uri = table_uri or f"https://{account}.table.core.windows.net"
        queue_uri = queue_uri or f"https://{account}.queue.core.windows.net"
    if not (blob_uri or table_uri or queue_uri):
        return StorageSettings(connection_string="UseDevelopmentStorage=true")
    return StorageSettings(
        blob_uri=blob_uri,
        table_uri=table_uri,
        queue_uri=queue_uri,
        credential=part("credential"),
        client_id=part("clientId"),
    )
