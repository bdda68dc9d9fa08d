"""The one translator of storage failures into our error types, for every storage caller.

A storage account that cannot be reached, refuses us, or lacks a table or container is
a ServiceUnavailable (the caller gets 503, nothing is half-done, the gate fails closed).
The typed answers a caller handles itself (not found, already exists, modified meanwhile)
pass through unchanged, so ``except ResourceNotFoundError`` keeps working around it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from azure.core.exceptions import (
    AzureError,
    HttpResponseError,
    ResourceExistsError,
    ResourceModifiedError,
    ResourceNotFoundError,
)

from shared.errors import ServiceUnavailable
from shared.settings import SettingsError

log = logging.getLogger(__name__)

# What a caller may handle itself (the Azure SDK's typed answers).
ANSWERS: tuple[type[AzureError], ...] = (
    ResourceNotFoundError,
    ResourceExistsError,
    ResourceModifiedError,
)
# "Not found" that means a missing store, not a missing row: an outage or a broken deployment.
MISSING_STORE = frozenset({"TableNotFound", "ContainerNotFound", "QueueNotFound"})


@contextmanager
def storage_unavailable_as_503(
    what: str = "storage",
    *,
    message: str | None = None,
    answers: tuple[type[AzureError], ...] = ANSWERS,
) -> Iterator[None]:
    """Let ``answers`` through; any other storage, settings or network failure is a 503.

    ``what`` names the store in the log and the default message; ``message`` replaces the
    503's message; ``answers=()`` turns every failure into a 503 (the audit trail, where a
    row that cannot be written voids the decision whatever the reason).
    """
    try:
        yield
    except answers as exc:
        if not is_missing_store(exc):
            raise
        raise _unavailable(what, message, exc) from exc
    except (AzureError, SettingsError, OSError) as exc:
        raise _unavailable(what, message, exc) from exc


def is_missing_store(exc: BaseException) -> bool:
    """A "not found" about the table or container itself (to be re-raised as an outage)."""
    return getattr(exc, "error_code", None) in MISSING_STORE


def _unavailable(what: str, message: str | None, exc: BaseException) -> ServiceUnavailable:
    status = getattr(exc, "status_code", None) if isinstance(exc, HttpResponseError) else None
    log.warning("%s failed: %s%s", what, type(exc).__name__, f" ({status})" if status else "")
    return ServiceUnavailable(message or f"{what} is unavailable; try again later.")
