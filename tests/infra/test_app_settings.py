"""The app settings in the Bicep and the settings the code reads are the same list.

Read at test time from shared/settings.py (SETTINGS, storage_settings) and from the
deployed code, so a setting added on either side without the other fails here.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from shared import settings
from tests.infra import bicep

CLIENT_ID = "11111111-2222-3333-4444-555555555555"
ACCOUNT = "stexample"
STORAGE_PREFIX = f"{settings.STORAGE_CONNECTION}__"
HOST_STORAGE_KEYS = {
    "AzureWebJobsStorage__blobServiceUri",
    "AzureWebJobsStorage__queueServiceUri",
    "AzureWebJobsStorage__tableServiceUri",
    "AzureWebJobsStorage__credential",
    "AzureWebJobsStorage__clientId",
}
# Read by the Functions host or its telemetry, not by our code.
HOST_SETTINGS = HOST_STORAGE_KEYS | {
    "APPLICATIONINSIGHTS_CONNECTION_STRING",
    "APPLICATIONINSIGHTS_AUTHENTICATION_STRING",
    "FUNCTIONS_REQUEST_BODY_SIZE_LIMIT",
}
# Azure values that differ from the local default on purpose.
AZURE_OVERRIDES: dict[str, str] = {
    # local sign-in is for development; Azure's console is off until Entra ID is set up
    "FACEGATE_CONSOLE_AUTH": "off",
}
# Declared for local development only, never set in Azure (a URI with its own credentials;
# in Azure the app signs in to PostgreSQL with its identity's Entra token).
NOT_IN_AZURE = {"FACEGATE_POSTGRES_URL"}
# Settings that describe the PostgreSQL store: main.bicep passes `postgresEnabled ? <the
# server's or identity's value> : ''`, so with the store off (the default) they keep the code
# default and the app has no PostgreSQL store.
POSTGRES_SWITCH = "postgresEnabled"
POSTGRES_DERIVED = {
    "FACEGATE_POSTGRES_HOST": ("postgres", "fqdn"),
    "FACEGATE_POSTGRES_USER": ("identity", "name"),
    "FACEGATE_POSTGRES_CLIENT_ID": ("identity", "clientId"),
}
# The code that runs in Azure (tools/ and tests/ are never deployed).
DEPLOYED_CODE = ("function_app.py", "functions", "shared")
SETTING_NAME = re.compile(r"\bFACEGATE_[A-Z0-9_]*[A-Z0-9](?![A-Z0-9])")


def _declared() -> dict[str, settings.Setting]:
    return {s.name: s for s in settings.SETTINGS}


def _bicep_settings() -> dict[str, str]:
    return bicep.setting_sources()


def _resolve(name: str, source: str) -> str:
    """A plausible deployed value for an identity/storage setting's Bicep expression."""
    value = bicep.literal(source)
    if value is not None:
        return value
    endpoint = re.fullmatch(r"storage\.properties\.primaryEndpoints\.(blob|queue|table)", source)
    if endpoint:
        return f"https://{ACCOUNT}.{endpoint[1]}.core.windows.net/"
    if source == "identityClientId":
        return CLIENT_ID
    raise AssertionError(f"{name}: no rule to resolve {source!r}")


def _storage_env() -> dict[str, str]:
    return {
        name: _resolve(name, source)
        for name, source in _bicep_settings().items()
        if name.startswith(STORAGE_PREFIX)
    }


def test_settings_block_is_what_the_site_uses() -> None:
    tree = bicep.module("function-app")
    parsed = {item["name"] for item in bicep.variable(tree, "appSettings")}
    assert parsed == set(_bicep_settings()), "source scan and parser disagree"
    site = tree["resources"]["functionApp"]["config"]["properties"]["siteConfig"]
    assert site["appSettings"] == "appSettings"


def test_every_declared_setting_is_set_in_azure() -> None:
    missing = set(_declared()) - NOT_IN_AZURE - set(_bicep_settings())
    assert not missing, f"declared in shared/settings.py but not set by the Bicep: {missing}"


def test_every_facegate_setting_in_the_bicep_is_declared() -> None:
    extra = {
        name
        for name in _bicep_settings()
        if name.startswith("FACEGATE_") and not name.startswith(STORAGE_PREFIX)
    } - set(_declared())
    assert not extra, f"set by the Bicep but not declared in shared/settings.py: {extra}"


def test_no_setting_the_code_and_host_do_not_read() -> None:
    unknown = {
        name
        for name in _bicep_settings()
        if name not in _declared()
        and not name.startswith(STORAGE_PREFIX)
        and name not in HOST_SETTINGS
    }
    assert not unknown, f"settings nobody reads: {unknown}"


def test_deployed_code_reads_only_declared_settings() -> None:
    allowed = set(_declared()) | {settings.STORAGE_CONNECTION}
    found: dict[str, str] = {}
    for root in DEPLOYED_CODE:
        path = bicep.REPO / root
        files = [path] if path.is_file() else sorted(path.rglob("*.py"))
        for file in files:
            for node in ast.walk(ast.parse(file.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Constant) and isinstance(node.value, str):
                    for name in SETTING_NAME.findall(node.value):
                        found.setdefault(name, str(file.relative_to(bicep.REPO)))
    assert found, "the scan found no setting names at all"
    undeclared = {name: where for name, where in found.items() if name not in allowed}
    assert not undeclared, f"read by the code but not declared in SETTINGS: {undeclared}"


def test_app_storage_is_identity_based_with_the_app_identity() -> None:
    resolved = settings.storage_settings(_storage_env())
    assert resolved.uses_identity
    assert resolved.connection_string is None
    assert resolved.blob_uri == f"https://{ACCOUNT}.blob.core.windows.net/"
    assert resolved.queue_uri == f"https://{ACCOUNT}.queue.core.windows.net/"
    assert resolved.table_uri == f"https://{ACCOUNT}.table.core.windows.net/"
    assert resolved.credential == "managedidentity"
    assert resolved.client_id == CLIENT_ID


def test_every_storage_setting_in_the_bicep_is_read_by_the_code() -> None:
    env = _storage_env()
    assert env, "the Bicep sets no FACEGATE_STORAGE__ settings"
    baseline = settings.storage_settings(env)
    for name in env:
        without = {k: v for k, v in env.items() if k != name}
        assert settings.storage_settings(without) != baseline, f"{name} is not read"


def test_no_storage_connection_string_in_azure() -> None:
    assert settings.STORAGE_CONNECTION not in _bicep_settings()
    assert "AzureWebJobsStorage" not in _bicep_settings()


def test_host_storage_is_identity_based() -> None:
    sources = _bicep_settings()
    host = {name for name in sources if name.startswith("AzureWebJobsStorage")}
    assert host == HOST_STORAGE_KEYS
    assert bicep.literal(sources["AzureWebJobsStorage__credential"]) == "managedidentity"
    assert sources["AzureWebJobsStorage__clientId"] == "identityClientId"
    for service in ("blob", "queue", "table"):
        assert _resolve("", sources[f"AzureWebJobsStorage__{service}ServiceUri"]).startswith(
            f"https://{ACCOUNT}.{service}."
        )


def test_client_id_is_the_app_identity() -> None:
    params = bicep.module_params("functionApp")
    assert set(bicep.strings(params["identityClientId"])) >= {"identity", "clientId"}
    assert set(bicep.strings(params["identityId"])) >= {"identity", "id"}
    site = bicep.module("function-app")["resources"]["functionApp"]["config"]
    assert site["identity"]["type"] == "UserAssigned"


def test_telemetry_uses_entra_auth() -> None:
    sources = _bicep_settings()
    auth = sources["APPLICATIONINSIGHTS_AUTHENTICATION_STRING"]
    assert auth == "'ClientId=${identityClientId};Authorization=AAD'"
    assert "applicationInsights" in sources["APPLICATIONINSIGHTS_CONNECTION_STRING"]


def _normalised(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value).lower()


def test_local_only_settings_are_never_set_in_azure() -> None:
    assert set(_declared()) >= NOT_IN_AZURE, "NOT_IN_AZURE names an undeclared setting"
    texts = [p.read_text(encoding="utf-8") for p in sorted(Path(bicep.INFRA).rglob("*.bicep"))]
    texts.append((Path(bicep.INFRA) / "main.parameters.json").read_text(encoding="utf-8"))
    for name in NOT_IN_AZURE:
        assert name not in _bicep_settings()
        assert not any(name in text for text in texts), f"{name} appears in infra/"


def _accessor_chain(node: object) -> list[str]:
    """``a.b.c`` as pycep parses it -> ["a", "b", "c"]; anything else -> []."""
    if isinstance(node, str):
        return [node]
    if isinstance(node, dict) and node.get("operator", {}).get("type") == "property_accessor":
        operands = node["operator"]["operands"]
        head = _accessor_chain(operands["operand_1"])
        tail = _accessor_chain(operands["operand_2"])
        return head + tail if head and tail else []
    return []


def _conditional(node: object) -> dict[str, object] | None:
    if isinstance(node, dict) and node.get("operator", {}).get("type") == "conditional":
        return node["operator"]["operands"]
    return None


@pytest.mark.parametrize("name", sorted(POSTGRES_DERIVED))
def test_postgres_connection_settings_follow_the_switch(name: str) -> None:
    """On: the server's FQDN and the app identity's name and client id. Off: the code default."""
    source = _bicep_settings()[name]
    app = bicep.module("function-app")
    (param,) = bicep.identifiers(source) & set(app["parameters"])
    assert bicep.param_default(app, param) == _declared()[name].default == ""
    branches = _conditional(bicep.module_params("functionApp")[param])
    assert branches is not None, f"main.bicep should pass {POSTGRES_SWITCH} ? ... : '' to {param}"
    assert branches["condition"] == POSTGRES_SWITCH
    assert branches["false_value"] == ""
    module, output = POSTGRES_DERIVED[name]
    assert _accessor_chain(branches["true_value"]) == [module, "outputs", output]


def test_postgres_switch_is_off_by_default() -> None:
    assert bicep.param_default(bicep.main(), POSTGRES_SWITCH) is False
    substitution = bicep.azd_substitution(bicep.parameters_file()[POSTGRES_SWITCH]["value"])
    assert substitution == ("FACEGATE_POSTGRES_ENABLED", "false")


@pytest.mark.parametrize("name", [s.name for s in settings.SETTINGS if s.name not in NOT_IN_AZURE])
def test_azure_value_defaults_to_the_code_default(name: str) -> None:
    """Bicep literal or the defaults of the parameters it flows from, azd variable included."""
    declared = _declared()[name]
    source = _bicep_settings().get(name)
    if source is None:
        pytest.fail(f"{name} is not set by the Bicep")
    expected = _normalised(AZURE_OVERRIDES.get(name, declared.default))
    value = bicep.literal(source)
    if value is not None:
        assert _normalised(value) == expected
        return
    app = bicep.module("function-app")
    used = bicep.identifiers(source) & set(app["parameters"])
    assert len(used) == 1, f"{name}: value {source!r} should use one module parameter"
    (param,) = used
    assert _normalised(bicep.param_default(app, param)) == expected
    passed = bicep.module_params("functionApp").get(param)
    if name in POSTGRES_DERIVED:
        return  # test_postgres_connection_settings_follow_the_switch
    assert isinstance(passed, str) and passed in bicep.main()["parameters"], (
        f"{name}: main.bicep should pass a parameter to {param}"
    )
    assert _normalised(bicep.param_default(bicep.main(), passed)) == expected
    substitution = bicep.azd_substitution(bicep.parameters_file()[passed]["value"])
    azure_default = AZURE_OVERRIDES.get(name, declared.default)
    assert substitution == (name, azure_default), (
        f"main.parameters.json should read {passed} from ${{{name}={azure_default}}}"
    )


def test_no_keys_or_flex_incompatible_settings_anywhere() -> None:
    forbidden = ("listKeys(", "AccountKey=", "InstrumentationKey=", "SharedAccessSignature")
    for path in sorted(Path(bicep.INFRA).rglob("*.bicep")):
        text = path.read_text(encoding="utf-8")
        for word in forbidden:
            assert word not in text, f"{path.name} uses {word}"
    # Flex Consumption rejects these: the runtime lives in functionAppConfig.
    for name in (
        "FUNCTIONS_WORKER_RUNTIME",
        "FUNCTIONS_EXTENSION_VERSION",
        "WEBSITE_RUN_FROM_PACKAGE",
    ):
        assert name not in _bicep_settings()
