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
AZURE_OVERRIDES: dict[str, str] = {}
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
    missing = set(_declared()) - set(_bicep_settings())
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


@pytest.mark.parametrize("name", [s.name for s in settings.SETTINGS])
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
    assert isinstance(passed, str) and passed in bicep.main()["parameters"], (
        f"{name}: main.bicep should pass a parameter to {param}"
    )
    assert _normalised(bicep.param_default(bicep.main(), passed)) == expected
    substitution = bicep.azd_substitution(bicep.parameters_file()[passed]["value"])
    assert substitution == (name, declared.default), (
        f"main.parameters.json should read {passed} from ${{{name}={declared.default}}}"
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
