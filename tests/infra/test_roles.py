"""Role assignments use the right built-in role definition ids, for the right principals."""

from __future__ import annotations

from typing import Any

from tests.infra import bicep

# Azure built-in roles: the ids are the same in every tenant (Azure RBAC built-in roles list).
BUILT_IN = {
    "storageBlobDataOwner": "b7e6dc6d-f1e8-4753-8033-0f276bb0955b",
    "storageQueueDataContributor": "974c5e8b-45b9-4653-ba55-5f855dd0fb88",
    "storageTableDataContributor": "0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3",
    "monitoringMetricsPublisher": "3913510d-42f4-4e42-8a64-420c390055eb",
}
STORAGE_ROLES = [
    "storageBlobDataOwner",
    "storageQueueDataContributor",
    "storageTableDataContributor",
]
ROLE_ASSIGNMENT = "Microsoft.Authorization/roleAssignments"


def _rbac() -> dict[str, Any]:
    return bicep.module("rbac")


def _body(resource: dict[str, Any]) -> dict[str, Any]:
    """The resource body, inside a loop (`[for ...]`) or a condition (`if (...)`) if any."""
    config = resource["config"]
    return config["config"] if "loop_type" in config or "condition" in config else config


def test_role_ids_are_the_built_in_ones() -> None:
    assert bicep.variable(_rbac(), "roleIds") == BUILT_IN


def test_role_ids_appear_nowhere_else() -> None:
    """Each GUID is written once, in rbac.bicep, and used through roleIds."""
    for path in bicep.INFRA.rglob("*.bicep"):
        text = path.read_text(encoding="utf-8")
        for guid in BUILT_IN.values():
            assert text.count(guid) == (1 if path.name == "rbac.bicep" else 0), (path, guid)


def test_storage_role_list() -> None:
    listed = bicep.variable(_rbac(), "storageRoleIds")
    names = [item["operator"]["operands"]["operand_2"] for item in listed]
    assert names == STORAGE_ROLES


def _assignments() -> dict[str, dict[str, Any]]:
    resources = _rbac()["resources"]
    return {k: v for k, v in resources.items() if v["type"] == ROLE_ASSIGNMENT}


def test_every_assignment_uses_a_role_definition_id() -> None:
    assignments = _assignments()
    assert len(assignments) == 4
    for name, resource in assignments.items():
        definition = _body(resource)["properties"]["roleDefinitionId"]["function"]
        assert definition["type"] == "subscription_resource_id", name
        assert (
            definition["parameters"]["resource_type"] == "Microsoft.Authorization/roleDefinitions"
        )


def _check_storage_roles(resource: dict[str, Any], principal: str) -> None:
    loop = resource["config"]["loop_type"]["detail"]
    assert "storageRoleIds" in set(bicep.strings(loop["array_name"]))
    body = _body(resource)
    assert body["scope"] == "storage"
    assert body["properties"]["principalId"] == principal
    assert (
        body["properties"]["roleDefinitionId"]["function"]["parameters"]["resource_name_1"]
        == (loop["item_name"])
    )


def _check_metrics_role(resource: dict[str, Any], principal: str) -> None:
    body = _body(resource)
    assert body["scope"] == "applicationInsights"
    assert body["properties"]["principalId"] == principal
    role = set(bicep.strings(body["properties"]["roleDefinitionId"]))
    assert "monitoringMetricsPublisher" in role


def test_app_identity_gets_storage_and_telemetry_roles() -> None:
    assignments = _assignments()
    _check_storage_roles(assignments["appStorageRoles"], "appPrincipalId")
    assert (
        _body(assignments["appStorageRoles"])["properties"]["principalType"] == "ServicePrincipal"
    )
    _check_metrics_role(assignments["appMetricsRole"], "appPrincipalId")
    params = bicep.module_params("rbac")
    assert set(bicep.strings(params["appPrincipalId"])) >= {"identity", "principalId"}


def test_deploying_principal_gets_the_same_roles_when_given() -> None:
    assignments = _assignments()
    _check_storage_roles(assignments["userStorageRoles"], "userPrincipalId")
    condition = set(bicep.strings(assignments["userStorageRoles"]["config"]["loop_type"]))
    assert {"empty", "userPrincipalId"} <= condition
    _check_metrics_role(assignments["userMetricsRole"], "userPrincipalId")
    condition = set(bicep.strings(assignments["userMetricsRole"]["config"]["condition"]))
    assert {"not", "empty", "userPrincipalId"} <= condition
    assert bicep.module_params("rbac")["userPrincipalId"] == "principalId"
    assert bicep.param_default(bicep.main(), "principalId") == ""


def test_role_assignment_names_are_deterministic() -> None:
    for name, resource in _assignments().items():
        assert _body(resource)["name"]["function"]["type"] == "guid", name
