"""Every container, table and queue in shared/storage/names.py is created by the Bicep.

names.py is read at test time, so a name added there without the Bicep fails here.
"""

from __future__ import annotations

import re

from shared.storage import names
from tests.infra import bicep

DEPLOYMENT_CONTAINER = "deployment"  # the Flex Consumption code package (infra only)


def _list(var: str) -> list[str]:
    value = bicep.variable(bicep.main(), var)
    assert isinstance(value, list) and all(isinstance(v, str) for v in value), var
    return value


def _queues_in_code() -> tuple[str, ...]:
    return tuple(getattr(names, "QUEUES", ()))


def test_containers_match_names_py() -> None:
    assert set(_list("appContainerNames")) == set(names.CONTAINERS)
    assert len(_list("appContainerNames")) == len(set(_list("appContainerNames")))


def test_tables_match_names_py() -> None:
    assert set(_list("tableNames")) == set(names.TABLES)


def test_queues_match_names_py() -> None:
    assert set(_list("queueNames")) == set(_queues_in_code())


def test_named_containers_in_outputs_match_names_py() -> None:
    main = bicep.main()
    assert bicep.variable(main, "uploadEventsQueueName") == names.UPLOAD_EVENTS
    assert bicep.variable(main, "deploymentContainerName") == DEPLOYMENT_CONTAINER
    assert DEPLOYMENT_CONTAINER not in names.CONTAINERS


def test_storage_module_gets_every_list() -> None:
    params = bicep.module_params("storage")
    containers = set(bicep.strings(params["containerNames"]))
    assert {"appContainerNames", "deploymentContainerName"} <= containers
    assert params["tableNames"] == "tableNames"
    assert params["queueNames"] == "queueNames"
    assert bicep.module_params("functionApp")["deploymentContainerName"] == (
        "deploymentContainerName"
    )


def test_storage_module_creates_one_of_each_per_name() -> None:
    resources = bicep.module("storage")["resources"]
    loops = {
        "containers": (
            "Microsoft.Storage/storageAccounts/blobServices/containers",
            "containerNames",
        ),
        "tables": ("Microsoft.Storage/storageAccounts/tableServices/tables", "tableNames"),
        "queues": ("Microsoft.Storage/storageAccounts/queueServices/queues", "queueNames"),
    }
    for symbol, (resource_type, array) in loops.items():
        resource = resources[symbol]
        assert resource["type"] == resource_type
        loop = resource["config"]["loop_type"]["detail"]
        assert loop["array_name"] == array
        assert resource["config"]["config"]["name"] == loop["item_name"]
    assert resources["containers"]["config"]["config"]["properties"]["publicAccess"] == "None"


def test_names_are_valid_azure_names() -> None:
    for name in [*names.CONTAINERS, DEPLOYMENT_CONTAINER, *_queues_in_code()]:
        assert re.fullmatch(r"[a-z0-9](?!.*--)[a-z0-9-]{1,61}[a-z0-9]", name), name
    for name in names.TABLES:
        assert re.fullmatch(r"[A-Za-z][A-Za-z0-9]{2,62}", name), name


def test_storage_account_is_identity_only() -> None:
    account = bicep.module("storage")["resources"]["storage"]["config"]["properties"]
    assert account["allowSharedKeyAccess"] is False
    assert account["allowBlobPublicAccess"] is False
    assert account["minimumTlsVersion"] == "TLS1_2"
    assert account["supportsHttpsTrafficOnly"] is True
    assert account["defaultToOAuthAuthentication"] is True


def test_deleted_uploads_are_not_kept() -> None:
    """Blob soft delete would keep deleted face images for days; it stays off."""
    blob_service = bicep.module("storage")["resources"]["blobService"]["config"]
    assert blob_service["properties"]["deleteRetentionPolicy"]["enabled"] is False
