"""The optional PostgreSQL gallery store in infra/: off by default, Entra-only, private.

checkov has no Bicep checks for Flexible Server, so these are the policy checks for
modules/postgres.bicep and modules/network.bicep, read from the parsed Bicep.
"""

from __future__ import annotations

import itertools
import re
from typing import Any

import pytest

from shared import settings
from shared.biometrics.postgres import connection
from tests.infra import bicep

SWITCH = "postgresEnabled"
SERVER = "Microsoft.DBforPostgreSQL/flexibleServers"
SCHEMA = bicep.REPO / "shared" / "biometrics" / "postgres" / "schema.sql"


def _pg() -> dict[str, Any]:
    return bicep.module("postgres")


def _net() -> dict[str, Any]:
    return bicep.module("network")


def _resource(tree: dict[str, Any], name: str) -> dict[str, Any]:
    return tree["resources"][name]["config"]


def _of_type(tree: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {n: r for n, r in tree["resources"].items() if r["type"] == kind}


def _chain(node: Any) -> list[str]:
    """``a.b.c`` as pycep parses it -> ["a", "b", "c"]; anything else -> []."""
    if isinstance(node, str):
        return [node]
    if isinstance(node, dict) and node.get("operator", {}).get("type") == "property_accessor":
        operands = node["operator"]["operands"]
        head, tail = _chain(operands["operand_1"]), _chain(operands["operand_2"])
        return head + tail if head and tail else []
    return []


def _conditional(node: Any) -> dict[str, Any]:
    assert isinstance(node, dict) and node["operator"]["type"] == "conditional", node
    return node["operator"]["operands"]


def _params(module: str) -> dict[str, Any]:
    """Parameters main.bicep passes to a conditional module."""
    config = bicep.module_call(module)["config"]
    return config["config"]["params"] if "condition" in config else config["params"]


def _index(node: Any) -> int | None:
    """The list index inside an accessor expression (``vnet.properties.subnets[1].id``)."""
    if isinstance(node, dict):
        operator = node.get("operator", {})
        if operator.get("type") == "index_accessor":
            return operator["operands"]["operand_2"]
        for value in node.values():
            found = _index(value)
            if found is not None:
                return found
    return None


def _decorator(param: dict[str, Any], kind: str) -> Any:
    return next(d["argument"] for d in param["decorators"] if d["type"] == kind)


# --- off by default -----------------------------------------------------------------------


@pytest.mark.parametrize("module", ["network", "postgres"])
def test_server_and_network_are_deployed_only_when_switched_on(module: str) -> None:
    call = bicep.module_call(module)
    assert call["config"]["condition"] == SWITCH
    assert bicep.param_default(bicep.main(), SWITCH) is False


def test_nothing_else_creates_a_server_or_a_network() -> None:
    for path in bicep.INFRA.rglob("*.bicep"):
        if path.name in {"postgres.bicep", "network.bicep"}:
            continue
        text = path.read_text(encoding="utf-8")
        assert "Microsoft.DBforPostgreSQL" not in text, path
        assert "Microsoft.Network/" not in text, path


def test_app_joins_the_vnet_only_when_switched_on() -> None:
    branches = _conditional(bicep.module_params("functionApp")["virtualNetworkSubnetId"])
    assert branches["condition"] == SWITCH
    assert branches["false_value"] == ""
    assert _chain(branches["true_value"]) == ["network", "outputs", "appSubnetId"]
    app = bicep.module("function-app")
    assert bicep.param_default(app, "virtualNetworkSubnetId") == ""
    site = _resource(app, "functionApp")["properties"]
    empty = _conditional(site["virtualNetworkSubnetId"])
    assert empty["true_value"] is None  # empty subnet id -> no VNet integration at all
    assert set(bicep.strings(empty["condition"])) >= {"empty", "virtualNetworkSubnetId"}


@pytest.mark.parametrize(
    "output", ["AZURE_POSTGRES_SERVER_NAME", "AZURE_POSTGRES_HOST", "AZURE_POSTGRES_DATABASE"]
)
def test_outputs_are_empty_when_switched_off(output: str) -> None:
    branches = _conditional(bicep.main()["outputs"][output]["value"])
    assert branches["condition"] == SWITCH
    assert branches["false_value"] == ""


# --- Entra-only authentication, the app identity as its role --------------------------------


def test_entra_only_authentication() -> None:
    auth = _resource(_pg(), "server")["properties"]["authConfig"]
    assert auth["activeDirectoryAuth"] == "Enabled"
    assert auth["passwordAuth"] == "Disabled"
    assert _chain(auth["tenantId"]) or "tenant" in set(bicep.strings(auth["tenantId"]))


def test_no_password_or_login_anywhere() -> None:
    text = (bicep.MODULES / "postgres.bicep").read_text(encoding="utf-8")
    for word in ("administratorLogin", "administratorLoginPassword", "@secure", "password:"):
        assert word not in text, word
    properties = _resource(_pg(), "server")["properties"]
    assert not {"administratorLogin", "administratorLoginPassword"} & set(properties)


def test_app_identity_is_the_entra_administrator() -> None:
    admins = _of_type(_pg(), f"{SERVER}/administrators")
    assert list(admins) == ["appAdministrator"]
    admin = admins["appAdministrator"]["config"]
    assert admin["parent"] == "server"
    assert admin["name"] == "appPrincipalId"  # the resource name is the principal's object id
    assert admin["properties"]["principalType"] == "ServicePrincipal"
    assert admin["properties"]["principalName"] == "appIdentityName"
    params = _params("postgres")
    assert _chain(params["appPrincipalId"]) == ["identity", "outputs", "principalId"]
    assert _chain(params["appIdentityName"]) == ["identity", "outputs", "name"]


def test_app_signs_in_as_that_role_with_that_identity() -> None:
    """FACEGATE_POSTGRES_USER is the administrator's name; the token comes from its client id."""
    passed = bicep.module_params("functionApp")
    user = _conditional(passed["postgresUser"])["true_value"]
    client = _conditional(passed["postgresClientId"])["true_value"]
    assert _chain(user) == _chain(_params("postgres")["appIdentityName"])
    assert _chain(client) == ["identity", "outputs", "clientId"]
    kwargs = connection.connection_kwargs(
        {
            "FACEGATE_POSTGRES_HOST": "psql-x.postgres.database.azure.com",
            "FACEGATE_POSTGRES_USER": "id-facegate-x",
        }
    )[1]
    assert kwargs["user"] == "id-facegate-x" and "password" not in kwargs
    assert kwargs["sslmode"] == "require"


# --- private by default -----------------------------------------------------------------------


def test_server_is_private() -> None:
    network = _resource(_pg(), "server")["properties"]["network"]
    assert network["publicNetworkAccess"] == "Disabled"
    assert network["delegatedSubnetResourceId"] == "delegatedSubnetId"
    assert network["privateDnsZoneArmResourceId"] == "privateDnsZoneId"
    params = _params("postgres")
    assert _chain(params["delegatedSubnetId"]) == ["network", "outputs", "postgresSubnetId"]
    assert _chain(params["privateDnsZoneId"]) == ["network", "outputs", "privateDnsZoneId"]
    assert not _of_type(_pg(), f"{SERVER}/firewallRules"), "a firewall rule opens the server"


def _subnets() -> dict[str, dict[str, Any]]:
    vnet = _resource(_net(), "vnet")
    return {s["name"]: s["properties"] for s in vnet["properties"]["subnets"]}


def test_subnets_are_delegated_to_the_server_and_the_flex_app() -> None:
    subnets = _subnets()
    assert set(subnets) == {"app", "postgres"}
    delegation = {
        name: [d["properties"]["serviceName"] for d in props["delegations"]]
        for name, props in subnets.items()
    }
    assert delegation == {
        "app": ["Microsoft.App/environments"],
        "postgres": ["Microsoft.DBforPostgreSQL/flexibleServers"],
    }
    for props in subnets.values():
        assert props["networkSecurityGroup"]["id"]
    # The app reaches storage, telemetry and Entra over public endpoints through this subnet.
    assert subnets["app"]["defaultOutboundAccess"] is True
    order = [s["name"] for s in _resource(_net(), "vnet")["properties"]["subnets"]]
    outputs = _net()["outputs"]
    assert order[_index(outputs["appSubnetId"]["value"])] == "app"
    assert order[_index(outputs["postgresSubnetId"]["value"])] == "postgres"


def test_private_dns_zone_resolves_the_server_inside_the_vnet() -> None:
    zone_name = _params("network")["privateDnsZoneName"]
    assert zone_name.endswith(".private.postgres.database.azure.com")
    link = _resource(_net(), "privateDnsZoneLink")
    assert link["parent"] == "privateDnsZone"
    assert link["properties"]["registrationEnabled"] is False
    assert _chain(link["properties"]["virtualNetwork"]["id"]) == ["vnet", "id"]


def test_only_the_app_subnet_is_named_in_an_allow_rule() -> None:
    nsg = _resource(_net(), "postgresNsg")
    rules = [r["properties"] for r in nsg["properties"]["securityRules"]]
    allows = [r for r in rules if r["access"] == "Allow"]
    assert allows and all(r["sourceAddressPrefix"] == "appSubnetPrefix" for r in allows)
    assert {r["destinationPortRange"] for r in allows} == {"5432"}
    for rule in rules:
        assert rule["sourceAddressPrefix"] not in {"*", "Internet", "0.0.0.0/0"}


# --- extension, TLS, database -------------------------------------------------------------------


def _configurations() -> dict[str, dict[str, Any]]:
    found = _of_type(_pg(), f"{SERVER}/configurations")
    return {r["config"]["name"]: r["config"] for r in found.values()}


def test_every_extension_the_schema_creates_is_allow_listed() -> None:
    created = set(re.findall(r"CREATE EXTENSION IF NOT EXISTS (\w+)", SCHEMA.read_text()))
    assert "vector" in created
    allowed = _configurations()["azure.extensions"]["properties"]["value"]
    assert created <= {e.strip().lower() for e in allowed.split(",")}


def test_tls_is_required() -> None:
    configs = _configurations()
    assert configs["require_secure_transport"]["properties"]["value"] == "on"
    assert configs["ssl_min_protocol_version"]["properties"]["value"] == "TLSv1.2"


def test_database_is_the_one_the_app_reads() -> None:
    default = settings.get("FACEGATE_POSTGRES_DATABASE", {})
    assert bicep.param_default(_pg(), "databaseName") == default == "facegate"
    database = _of_type(_pg(), f"{SERVER}/databases")["database"]["config"]
    assert database["name"] == "databaseName"
    assert bicep.literal(bicep.setting_sources()["FACEGATE_POSTGRES_DATABASE"]) == default
    assert "databaseName" not in _params("postgres")  # one name, the default


def test_server_changes_are_applied_one_after_another() -> None:
    """The service refuses concurrent changes to one server: each child waits for the last."""
    order = ["appAdministrator", "extensions", "requireTls", "minimumTls", "database"]
    resources = _pg()["resources"]
    children = {n for n, r in resources.items() if r["type"].startswith(f"{SERVER}/")}
    assert children == set(order)
    for before, after in itertools.pairwise(order):
        assert resources[after]["config"]["dependsOn"] == [before], after
        assert resources[after]["config"]["parent"] == "server"


# --- size and connection budget -----------------------------------------------------------------


def test_sku_is_burstable_by_default_and_the_same_choice_everywhere() -> None:
    main_param = bicep.main()["parameters"]["postgresSkuName"]
    module_param = _pg()["parameters"]["skuName"]
    assert main_param["default"] == module_param["default"] == "Standard_B2ms"
    assert _decorator(main_param, "allowed") == _decorator(module_param, "allowed")
    tier = bicep.variable(_pg(), "skuTier")
    branches = _conditional(tier)
    assert branches["condition"]["function"]["type"] == "starts_with"
    assert branches["condition"]["function"]["parameters"]["string_to_find"] == "Standard_B"
    assert (branches["true_value"], branches["false_value"]) == ("Burstable", "GeneralPurpose")
    sku_var = bicep.parameters_file()["postgresSkuName"]["value"]
    assert sku_var == "${POSTGRES_SKU_NAME=Standard_B2ms}"


def test_default_pool_fits_the_default_server() -> None:
    """max instances x pool size, plus one admin tool's pool, within max user connections."""
    budget = bicep.variable(_pg(), "maxUserConnections")
    allowed = _decorator(_pg()["parameters"]["skuName"], "allowed")
    assert set(budget) == set(allowed)
    instances = bicep.param_default(bicep.main(), "maximumInstanceCount")
    pool = int(settings.get("FACEGATE_POSTGRES_POOL_SIZE", {}))
    assert bicep.param_default(bicep.main(), "postgresPoolSize") == pool
    sku = bicep.param_default(bicep.main(), "postgresSkuName")
    assert instances * pool + pool <= budget[sku], (instances, pool, budget[sku])
