"""The app's blob triggers match what the infra feeds them.

Their metadata is read in a fresh interpreter (the setting FACEGATE_BLOB_SOURCE is
read at import time, and azure.functions lets an app list its functions only once),
from every blueprint under functions/, registered or not.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from typing import Any

import pytest

from shared import settings
from tests.infra import bicep

LIST_BLOB_TRIGGERS = """
import importlib, json, pkgutil
import azure.functions as func
import functions
app = func.FunctionApp()
for module in pkgutil.iter_modules(functions.__path__):
    bp = getattr(importlib.import_module("functions." + module.name), "bp", None)
    if isinstance(bp, func.Blueprint):
        app.register_functions(bp)
found = []
for function in app.get_functions():
    for binding in json.loads(function.get_function_json())["bindings"]:
        if binding["type"] == "blobTrigger":
            found.append({"function": function.get_function_name(), **binding})
print(json.dumps(found))
"""


def _blob_triggers(blob_source: str | None) -> list[dict[str, Any]]:
    env = {k: v for k, v in os.environ.items() if k != "FACEGATE_BLOB_SOURCE"}
    if blob_source is not None:
        env["FACEGATE_BLOB_SOURCE"] = blob_source
    done = subprocess.run(
        [sys.executable, "-c", LIST_BLOB_TRIGGERS],
        cwd=bicep.REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def azure_triggers() -> list[dict[str, Any]]:
    """Blob triggers as configured in Azure (FACEGATE_BLOB_SOURCE from the Bicep)."""
    value = bicep.literal(bicep.setting_sources()["FACEGATE_BLOB_SOURCE"])
    assert value
    triggers = _blob_triggers(value)
    if not triggers:
        pytest.skip("no blob trigger in functions/ yet")
    return triggers


def _hook_default_function() -> str:
    script = (bicep.INFRA / "scripts" / "postdeploy.sh").read_text(encoding="utf-8")
    match = re.search(r"BLOB_TRIGGER_FUNCTION=\$\{BLOB_TRIGGER_FUNCTION:-(\w+)\}", script)
    assert match, "postdeploy.sh has no default function name"
    ps = (bicep.INFRA / "scripts" / "postdeploy.ps1").read_text(encoding="utf-8")
    assert f"else {{ '{match[1]}' }}" in ps, "postdeploy.ps1 uses another default"
    return match[1]


def test_blob_triggers_use_event_grid_and_the_storage_connection(
    azure_triggers: list[dict[str, Any]],
) -> None:
    for trigger in azure_triggers:
        assert trigger["source"] == "EventGrid", trigger
        assert trigger["connection"] == settings.STORAGE_CONNECTION, trigger


def test_blob_triggers_watch_containers_the_bicep_creates(
    azure_triggers: list[dict[str, Any]],
) -> None:
    containers = set(bicep.variable(bicep.main(), "appContainerNames"))
    for trigger in azure_triggers:
        assert trigger["path"].split("/", 1)[0] in containers, trigger


def test_the_hook_subscribes_the_uploads_trigger(azure_triggers: list[dict[str, Any]]) -> None:
    """One Event Grid subscription, for the uploads container, to the hook's function."""
    uploads = bicep.variable(bicep.main(), "uploadsContainerName")
    on_uploads = [t for t in azure_triggers if t["path"].split("/", 1)[0] == uploads]
    assert [t["function"] for t in on_uploads] == [_hook_default_function()]
    assert len(azure_triggers) == 1, "a second blob trigger needs its own Event Grid subscription"


def test_local_default_is_polling(azure_triggers: list[dict[str, Any]]) -> None:
    """Without the Azure setting the same triggers poll: the setting is what switches them."""
    local = _blob_triggers(None)
    assert [t["function"] for t in local] == [t["function"] for t in azure_triggers]
    assert all(t["source"] == "LogsAndContainerScan" for t in local)
