"""Translate storage SDK failures into our error types.

An unreachable or failing storage account is a ServiceUnavailable (the caller
gets 503 and nothing is half-done); "not found" stays for the caller to decide.
"""

from __future__ import annotations

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


@contextmanager
def storage_unavailable_as_503(what: str = "storage") -> Iterator[None]:
    """Let not-found/exists/modified through; anything else from storage becomes a 503."""
    try:
        yield
    except (ResourceNotFoundError, ResourceExistsError, ResourceModifiedError):
        raise
    except HttpResponseError as exc:
        if exc.status_code is not None and 400 <= exc.status_code < 500:
            raise
        raise ServiceUnavailable(f"{what} is unavailable; try again later.") from exc
    except AzureError as exc:
        raise ServiceUnavailable(f"{what} is unavailable; try again later.") from exc
