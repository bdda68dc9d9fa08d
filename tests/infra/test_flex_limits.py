"""Flex Consumption facts the parameters must honour (issue #15 part 3).

- ``maximumInstanceCount``: the platform accepts 40 to 1000.
- A zone-redundant app needs at least two always-ready instances in a group that has any.
- ``location``: only regions that offer Flex Consumption.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.infra import bicep

# Regions the Azure-Samples Flex Consumption quickstarts allow (their main.bicep), less the
# canary region eastus2euap, which ordinary subscriptions cannot use.
FLEX_REGIONS = {
    "australiaeast", "australiasoutheast", "brazilsouth", "canadacentral", "centralindia",
    "centralus", "eastasia", "eastus", "eastus2", "francecentral", "germanywestcentral",
    "italynorth", "japaneast", "koreacentral", "northcentralus", "northeurope", "norwayeast",
    "southafricanorth", "southcentralus", "southeastasia", "southindia", "spaincentral",
    "swedencentral", "uaenorth", "uksouth", "ukwest", "westcentralus", "westeurope", "westus",
    "westus2", "westus3",
}  # fmt: skip


def _decorator(param: dict[str, Any], kind: str) -> Any:
    return next(d["argument"] for d in param["decorators"] if d["type"] == kind)


@pytest.mark.parametrize("tree", ["main", "function-app"])
def test_maximum_instance_count_is_40_to_1000(tree: str) -> None:
    parsed = bicep.main() if tree == "main" else bicep.module(tree)
    param = parsed["parameters"]["maximumInstanceCount"]
    assert _decorator(param, "min_value") == 40
    assert _decorator(param, "max_value") == 1000
    assert 40 <= param["default"] <= 1000


def test_location_is_restricted_to_flex_consumption_regions() -> None:
    location = bicep.main()["parameters"]["location"]
    allowed = set(_decorator(location, "allowed"))
    assert allowed == FLEX_REGIONS
    assert _decorator(location, "metadata") == {"azd": {"type": "location"}}


def _evaluate(node: Any, names: dict[str, Any]) -> Any:
    """Evaluate the few Bicep expression forms the always-ready count uses."""
    if isinstance(node, bool | int) or node == []:
        return node
    if isinstance(node, str):
        return names[node]
    if "function" in node:
        function = node["function"]
        args = [_evaluate(a, names) for a in function["parameters"].values()]
        assert function["type"] == "max", function["type"]
        return max(args)
    operator = node["operator"]
    ops = operator["operands"]
    if operator["type"] == "conditional":
        branch = "true_value" if _evaluate(ops["condition"], names) else "false_value"
        return _evaluate(ops[branch], names)
    left, right = _evaluate(ops["operand_1"], names), _evaluate(ops["operand_2"], names)
    if operator["type"] == "and":
        return left and right
    if operator["type"] == "greater_than":
        return left > right
    raise AssertionError(f"unexpected operator {operator['type']}")


@pytest.mark.parametrize(
    ("zone_redundant", "asked", "expected"),
    [(False, 0, 0), (False, 1, 1), (True, 0, 0), (True, 1, 2), (True, 2, 2), (True, 5, 5)],
)
def test_zone_redundancy_gets_at_least_two_always_ready(
    zone_redundant: bool, asked: int, expected: int
) -> None:
    app = bicep.module("function-app")
    count = _evaluate(
        bicep.variable(app, "alwaysReadyCount"),
        {"zoneRedundant": zone_redundant, "alwaysReadyInstances": asked},
    )
    assert count == expected
    ready = bicep.variable(app, "alwaysReadyHttp")
    assert ready[0]["instanceCount"] == "alwaysReadyCount"
    scale = app["resources"]["functionApp"]["config"]["properties"]["functionAppConfig"][
        "scaleAndConcurrency"
    ]
    assert "alwaysReadyCount" in set(bicep.strings(scale["alwaysReady"]))
