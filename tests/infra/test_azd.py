"""azd wiring: azure.yaml, main.parameters.json, outputs the hooks use, and the Flex app shape."""

from __future__ import annotations

import fnmatch
import re
import tomllib
from typing import Any

from tests.infra import bicep

AZURE_YAML = bicep.REPO / "azure.yaml"

# What the deployed app needs at run time: .funcignore must keep these.
RUNTIME_FILES = (
    "function_app.py",
    "host.json",
    "requirements.txt",
    "functions",
    "shared",
    "models",
)


def _yaml_text() -> str:
    return AZURE_YAML.read_text(encoding="utf-8")


def _yaml_value(key: str) -> list[str]:
    return re.findall(rf"^\s*{key}:\s*(\S+)\s*$", _yaml_text(), re.MULTILINE)


def test_azure_yaml_declares_the_python_function_service() -> None:
    text = _yaml_text()
    block = re.search(r"^services:\n((?:[ \t]+.*\n)+)", text, re.MULTILINE)
    assert block, "azure.yaml has no services block"
    services = re.findall(r"^  (\w[\w-]*):\s*$", block[1], re.MULTILINE)
    assert services == ["api"]
    assert re.search(r"^    project: \.$", block[1], re.MULTILINE)
    assert re.search(r"^    language: python$", block[1], re.MULTILINE)
    assert re.search(r"^    host: function$", block[1], re.MULTILINE)


def test_azd_finds_the_app_by_its_service_tag() -> None:
    assert bicep.module_params("functionApp")["serviceName"] == "api"
    app = bicep.module("function-app")
    tags = set(bicep.strings(app["resources"]["functionApp"]["config"]["tags"]))
    assert {"'azd-service-name'", "serviceName"} <= tags


def test_no_hooks_are_needed() -> None:
    """Event Grid delivers to a queue with its own identity: nothing to wire after deploy."""
    assert not re.search(r"^hooks:", _yaml_text(), re.MULTILINE)


def test_parameters_file_matches_main_parameters() -> None:
    declared = bicep.main()["parameters"]
    given = bicep.parameters_file()
    assert set(given) <= set(declared), set(given) - set(declared)
    required = {name for name, p in declared.items() if p["default"] is None}
    assert required <= set(given), required - set(given)
    for name, entry in given.items():
        assert bicep.azd_substitution(entry["value"]), f"{name}: not an azd ${{VAR}} substitution"
    assert given["environmentName"]["value"] == "${AZURE_ENV_NAME}"
    assert given["location"]["value"] == "${AZURE_LOCATION}"
    assert given["principalId"]["value"] == "${AZURE_PRINCIPAL_ID}"


def test_outputs_azd_and_the_docs_need() -> None:
    outputs = set(bicep.main()["outputs"])
    needed = {
        "AZURE_LOCATION",
        "AZURE_TENANT_ID",
        "AZURE_RESOURCE_GROUP",
        "AZURE_FUNCTION_APP_NAME",
        "AZURE_FUNCTION_APP_URL",
        "AZURE_STORAGE_ACCOUNT_NAME",
        "UPLOAD_EVENTS_QUEUE_NAME",
        "DEPLOYMENT_CONTAINER_NAME",
    }
    assert needed <= outputs, needed - outputs


def test_runtime_is_the_python_the_project_supports() -> None:
    runtime = bicep.module("function-app")["resources"]["functionApp"]["config"]["properties"][
        "functionAppConfig"
    ]["runtime"]
    assert runtime["name"] == "python"
    project = tomllib.loads((bicep.REPO / "pyproject.toml").read_text(encoding="utf-8"))
    assert f">={runtime['version']}" in project["project"]["requires-python"]


def _function_app() -> dict[str, Any]:
    return bicep.module("function-app")["resources"]["functionApp"]["config"]


def test_flex_consumption_plan_and_linux_app() -> None:
    plan = bicep.module("function-app")["resources"]["plan"]["config"]
    assert plan["sku"] == {"name": "FC1", "tier": "FlexConsumption"}
    assert plan["properties"]["reserved"] is True
    app = _function_app()
    assert app["kind"] == "functionapp,linux"
    assert app["properties"]["httpsOnly"] is True
    assert app["properties"]["siteConfig"]["minTlsVersion"] == "1.2"
    assert app["properties"]["siteConfig"]["ftpsState"] == "Disabled"


def test_deployment_package_is_read_with_the_app_identity() -> None:
    storage = _function_app()["properties"]["functionAppConfig"]["deployment"]["storage"]
    assert storage["type"] == "blobContainer"
    assert "deploymentContainerName" in storage["value"]
    assert storage["authentication"] == {
        "type": "UserAssignedIdentity",
        "userAssignedIdentityResourceId": "identityId",
    }


def test_instance_memory_and_scale_are_parameters() -> None:
    scale = _function_app()["properties"]["functionAppConfig"]["scaleAndConcurrency"]
    assert scale["instanceMemoryMB"] == "instanceMemoryMB"
    assert scale["maximumInstanceCount"] == "maximumInstanceCount"
    for tree in (bicep.main(), bicep.module("function-app")):
        memory = tree["parameters"]["instanceMemoryMB"]
        assert memory["default"] == 2048
        allowed = next(d for d in memory["decorators"] if d["type"] == "allowed")
        assert set(allowed["argument"]) == {512, 2048, 4096}
        assert tree["parameters"]["alwaysReadyInstances"]["default"] == 0
    assert bicep.module_params("functionApp")["instanceMemoryMB"] == "instanceMemoryMB"


def test_telemetry_has_local_auth_disabled() -> None:
    resources = bicep.module("monitoring")["resources"]
    insights = resources["applicationInsights"]["config"]["properties"]
    assert insights["DisableLocalAuth"] is True
    assert insights["WorkspaceResourceId"]
    workspace = resources["logAnalytics"]["config"]["properties"]
    assert workspace["features"]["disableLocalAuth"] is True


def test_event_grid_system_topic_is_on_the_storage_account() -> None:
    topic = bicep.module("eventgrid")["resources"]["systemTopic"]["config"]["properties"]
    assert topic["topicType"] == "Microsoft.Storage.StorageAccounts"
    assert set(bicep.strings(topic["source"])) >= {"storage", "id"}
    assert set(bicep.strings(bicep.module_params("eventGrid")["storageAccountName"])) >= {
        "storage",
        "outputs",
    }


def test_funcignore_keeps_what_the_app_needs() -> None:
    patterns = [
        line.strip().rstrip("/")
        for line in (bicep.REPO / ".funcignore").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert "tests" in patterns and ".venv" in patterns
    for needed in RUNTIME_FILES:
        hits = [p for p in patterns if fnmatch.fnmatch(needed, p)]
        assert not hits, f".funcignore drops {needed} (pattern {hits})"


def test_deploy_guide_lists_every_setting_with_its_default() -> None:
    """Each azd variable with a default has a row `| VAR | param | default |` in docs/deploy.md."""
    text = (bicep.REPO / "docs" / "deploy.md").read_text(encoding="utf-8")
    table = text[text.index("### Settings you can change before") : text.index("### Instance size")]
    checked = 0
    for name, entry in bicep.parameters_file().items():
        variable, default = bicep.azd_substitution(entry["value"]) or ("", None)
        if default is None or variable == "AZURE_RESOURCE_GROUP_NAME":
            continue  # required, or azd's own (the resource group name)
        row = re.search(rf"^\| `{variable}` \| `{name}` \| ([^|]*)\|", table, re.MULTILINE)
        assert row, f"docs/deploy.md has no row for {variable} ({name})"
        assert row[1].strip() == (f"`{default}`" if default else "empty"), variable
        checked += 1
    assert checked >= 20
