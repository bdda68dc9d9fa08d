"""The one storage-fault translator: typed answers pass, everything else is a 503."""

from __future__ import annotations

import pytest
from azure.core.exceptions import (
    HttpResponseError,
    ResourceExistsError,
    ResourceNotFoundError,
    ServiceRequestError,
)

from shared.errors import ServiceUnavailable
from shared.settings import SettingsError
from shared.storage.faults import storage_unavailable_as_503


def _raising(exc: BaseException, **kwargs):
    with storage_unavailable_as_503("the store", **kwargs):
        raise exc


def _not_found(code: str) -> ResourceNotFoundError:
    error = ResourceNotFoundError("missing")
    error.error_code = code
    return error


@pytest.mark.parametrize("answer", [_not_found("ResourceNotFound"), ResourceExistsError("x")])
def test_typed_answers_pass_through(answer):
    with pytest.raises(type(answer)):
        _raising(answer)


@pytest.mark.parametrize(
    "failure",
    [
        _not_found("TableNotFound"),
        _not_found("ContainerNotFound"),
        ServiceRequestError("connection refused"),
        HttpResponseError("forbidden"),
        SettingsError("no storage configured"),
        ConnectionResetError(),
    ],
)
def test_outages_and_missing_stores_are_503(failure):
    with pytest.raises(ServiceUnavailable) as raised:
        _raising(failure)
    assert raised.value.message == "the store is unavailable; try again later."


def test_no_answers_makes_every_failure_a_503_with_the_given_message():
    with pytest.raises(ServiceUnavailable) as raised:
        _raising(ResourceExistsError("row exists"), answers=(), message="void")
    assert raised.value.message == "void"
    with storage_unavailable_as_503():
        pass  # nothing raised, nothing translated
