"""Who may use the console: operator credentials, Entra principals, sessions and CSRF tokens.

Operators are not customers. A customer key is looked up in ``apikeys`` and an
operator credential in ``operators``; neither table knows the other, so a
customer key never opens the console.

- ``local`` sign-in: a random credential (``fgop_`` + 32 random bytes) stored only
  as its SHA-256, like customer keys; ``make run`` issues one and prints it.
- ``entra`` sign-in: App Service authentication (Easy Auth) signs the operator in
  with Microsoft Entra ID and passes ``X-MS-CLIENT-PRINCIPAL``. That header is
  trusted only when FACEGATE_CONSOLE_AUTH is ``entra`` (App Service strips a
  client's own copy then); the principal needs the ``FaceGate.Operator`` app role.

Either way the console then runs on its own session: a random token in an
HttpOnly, SameSite=Strict cookie, stored as its hash with an absolute expiry.
The CSRF token is derived from the session token, so a page that cannot read
the cookie cannot forge it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from azure.core.exceptions import ResourceNotFoundError
from azure.data.tables import TableClient, UpdateMode

from shared import settings
from shared.errors import BadArgument, Forbidden, Unauthorized
from shared.policy import model
from shared.policy.registry import registry_storage as _storage
from shared.storage import clients, names

AUTH_SETTING = "FACEGATE_CONSOLE_AUTH"
MODES = ("local", "entra", "off")
OPERATOR_ROLE = "FaceGate.Operator"
CREDENTIAL_PREFIX = "fgop_"
SESSION_HOURS = 8
MAX_TOKEN_LENGTH = 200
OPERATOR_NAME = re.compile(r"^[a-z0-9][a-z0-9._@-]{0,127}$")
ROW = "operator"
SESSION_ROW = "session"


@dataclass(frozen=True)
class Operator:
    """The person behind a console request, as the audit names them."""

    name: str  # local: the operator name; entra: the principal's user name
    via: str  # "local" or "entra"
    subject: str = ""  # entra: the object id (oid) the session is bound to


@dataclass(frozen=True)
class Session:
    operator: Operator
    expires_at: str


def mode() -> str:
    """The sign-in mode; anything unrecognised means ``off`` (fail closed)."""
    value = settings.get(AUTH_SETTING).lower()
    return value if value in MODES else "off"


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def _table(name: str) -> TableClient:
    return clients.table_service().get_table_client(name)


def _now() -> datetime:
    return datetime.now(UTC)


# --- local operators -----------------------------------------------------------------------


def operator_name(value: object) -> str:
    if not isinstance(value, str) or not OPERATOR_NAME.fullmatch(value):
        raise BadArgument(
            "an operator name is 1-128 lowercase letters, digits, '.', '_', '@' or '-'."
        )
    return value


def issue_credential(name: str) -> str:
    """A fresh credential for a local operator (created if new); any earlier one stops working.

    Returned once; only its hash is stored.
    """
    credential = CREDENTIAL_PREFIX + secrets.token_urlsafe(32)
    entity = {
        "PartitionKey": operator_name(name),
        "RowKey": ROW,
        "CredentialHash": digest(credential),
        "IssuedAt": model.iso(_now()),
    }
    with _storage("operator credential"):
        _table(names.OPERATORS).upsert_entity(entity, mode=UpdateMode.REPLACE)
    return credential


def _local_operator(credential: str) -> Operator:
    if not credential.startswith(CREDENTIAL_PREFIX) or len(credential) > MAX_TOKEN_LENGTH:
        raise Unauthorized("Invalid operator credential.")
    presented = digest(credential)
    with _storage("operator lookup"):
        rows = list(
            _table(names.OPERATORS).query_entities(
                "CredentialHash eq @h", parameters={"h": presented}
            )
        )
    for row in rows:
        if hmac.compare_digest(str(row.get("CredentialHash", "")), presented):
            return Operator(name=str(row["PartitionKey"]), via="local")
    raise Unauthorized("Invalid operator credential.")


# --- Entra principals (Easy Auth) ----------------------------------------------------------


def entra_operator(principal_header: str | None) -> Operator:
    """The operator in an Easy Auth ``X-MS-CLIENT-PRINCIPAL`` header (base64 JSON).

    Call only in ``entra`` mode. Unauthorized without a principal; Forbidden when
    the principal lacks the operator app role.
    """
    if not principal_header or len(principal_header) > 64_000:
        raise Unauthorized("Sign in with Microsoft Entra ID first.")
    try:
        data = json.loads(base64.b64decode(principal_header, validate=True))
        role_type = data.get("role_typ") or "roles"
        name_type = data.get("name_typ") or "name"
        claims = [(str(c["typ"]), str(c["val"])) for c in data.get("claims", [])]
    except (ValueError, binascii.Error, TypeError, KeyError, AttributeError):
        raise Unauthorized("The sign-in principal could not be read.") from None
    roles = {v for t, v in claims if t in (role_type, "roles")}
    if OPERATOR_ROLE not in roles:
        raise Forbidden(f"This account lacks the {OPERATOR_ROLE} app role.")
    oid_types = ("http://schemas.microsoft.com/identity/claims/objectidentifier", "oid")
    subject = next((v for t, v in claims if t in oid_types), "")
    name = next((v for t, v in claims if t == name_type), "") or next(
        (v for t, v in claims if t in ("preferred_username", "name")), ""
    )
    if not subject:
        raise Unauthorized("The sign-in principal has no object id.")
    return Operator(name=(name or subject)[:128], via="entra", subject=subject)


# --- sign-in and sessions ------------------------------------------------------------------


def sign_in(credential: str | None, principal_header: str | None) -> tuple[str, Session]:
    """Check the operator and open a session: (session token for the cookie, the session)."""
    current = mode()
    if current == "local":
        if not isinstance(credential, str) or not credential.strip():
            raise Unauthorized("Enter your operator credential.")
        operator = _local_operator(credential.strip())
    elif current == "entra":
        operator = entra_operator(principal_header)
    else:
        raise Unauthorized("The console is switched off (FACEGATE_CONSOLE_AUTH=off).")
    token = secrets.token_urlsafe(32)
    expires = model.iso(_now() + timedelta(hours=SESSION_HOURS))
    _forget_expired()
    with _storage("console session"):
        _table(names.CONSOLE_SESSIONS).create_entity(
            {
                "PartitionKey": digest(token),
                "RowKey": SESSION_ROW,
                "Operator": operator.name,
                "Via": operator.via,
                "Subject": operator.subject,
                "ExpiresAt": expires,
            }
        )
    return token, Session(operator, expires)


def _forget_expired(limit: int = 100) -> None:
    """Delete sessions past their expiry (they are refused anyway; this keeps the table small)."""
    with _storage("console session"):
        table = _table(names.CONSOLE_SESSIONS)
        expired = table.query_entities(
            "ExpiresAt lt @now", parameters={"now": model.iso(_now())}, select=["PartitionKey"]
        )
        for count, row in enumerate(expired):
            if count >= limit:
                break
            table.delete_entity(row["PartitionKey"], SESSION_ROW)


def session(token: str | None, principal_header: str | None = None) -> Session:
    """The live session a cookie names; Unauthorized if none, expired, or signed out of Entra.

    In ``entra`` mode the Easy Auth principal must still be there and be the same
    person, so signing out of Entra (or losing the role) ends console access too.
    """
    current = mode()
    if current == "off":
        raise Unauthorized("The console is switched off (FACEGATE_CONSOLE_AUTH=off).")
    if not token or len(token) > MAX_TOKEN_LENGTH:
        raise Unauthorized("Sign in to the console.")
    with _storage("console session"):
        try:
            row: dict[str, Any] = _table(names.CONSOLE_SESSIONS).get_entity(
                digest(token), SESSION_ROW
            )
        except ResourceNotFoundError:
            raise Unauthorized("Your console session has ended; sign in again.") from None
    operator = Operator(
        name=str(row.get("Operator", "")),
        via=str(row.get("Via", "")),
        subject=str(row.get("Subject", "")),
    )
    if str(row.get("ExpiresAt", "")) <= model.iso(_now()) or operator.via != current:
        raise Unauthorized("Your console session has ended; sign in again.")
    if current == "entra" and entra_operator(principal_header).subject != operator.subject:
        raise Unauthorized("Your console session belongs to someone else; sign in again.")
    return Session(operator, str(row["ExpiresAt"]))


def sign_out(token: str | None) -> None:
    if not token or len(token) > MAX_TOKEN_LENGTH:
        return
    with _storage("console session"):  # deleting a row that is gone already is not an error
        _table(names.CONSOLE_SESSIONS).delete_entity(digest(token), SESSION_ROW)


def csrf_token(session_token: str) -> str:
    """The anti-forgery token of a session: only a page that was told it can send it."""
    return hmac.new(session_token.encode(), b"facegate-console-csrf", hashlib.sha256).hexdigest()


def check_csrf(session_token: str, presented: str | None) -> None:
    if not presented or not hmac.compare_digest(csrf_token(session_token), presented):
        raise Forbidden("Missing or wrong anti-forgery token; reload the console.")
