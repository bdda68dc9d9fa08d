"""The postdeploy hook (infra/scripts/postdeploy.sh) run against stand-in az/curl/azd.

The stand-ins record their arguments and answer like the real CLIs, so these tests
check what the script asks Azure to do, offline. (The PowerShell twin cannot run
here: no PowerShell on our machines; test_azd checks it reads the same values.)
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.infra import bicep

SCRIPT = bicep.INFRA / "scripts" / "postdeploy.sh"
KEY = "k3y-not-to-be-printed"
OUTPUTS = {
    "AZURE_RESOURCE_GROUP": "rg-test",
    "AZURE_FUNCTION_APP_NAME": "func-abc",
    "AZURE_FUNCTION_APP_HOSTNAME": "func-abc.azurewebsites.net",
    "AZURE_EVENTGRID_SYSTEM_TOPIC_NAME": "evgt-abc",
    "UPLOADS_CONTAINER_NAME": "uploads",
}

FAKE_AZ = """#!/bin/sh
printf '%s\\037' "$@" >> "$FAKE_DIR/az.log"; printf '\\n' >> "$FAKE_DIR/az.log"
if [ "$1 $2 $3" = "functionapp keys list" ]; then
  n=$(cat "$FAKE_DIR/key_calls" 2>/dev/null || echo 0); n=$((n + 1))
  echo "$n" > "$FAKE_DIR/key_calls"
  if [ "$n" -ge "$FAKE_KEY_AFTER" ]; then echo "$FAKE_KEY"; fi
fi
exit 0
"""
FAKE_CURL = """#!/bin/sh
for arg in "$@"; do case "$arg" in https://*) echo "$arg" >> "$FAKE_DIR/curl.log";; esac; done
exit 0
"""
FAKE_AZD = """#!/bin/sh
if [ "$1 $2" = "env get-value" ]; then
  eval "v=\\${FAKE_AZD_$3:-}"; [ -n "$v" ] && { echo "$v"; exit 0; }
  echo "ERROR: key '$3' not found" >&2; exit 1
fi
exit 1
"""


def _fake_bin(tmp_path: Path) -> Path:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, body in (("az", FAKE_AZ), ("curl", FAKE_CURL), ("azd", FAKE_AZD)):
        path = bin_dir / name
        path.write_text(body)
        path.chmod(0o755)
    return bin_dir


def _run(
    tmp_path: Path, outputs: dict[str, str], key_after: int = 1, **extra: str
) -> subprocess.CompletedProcess[str]:
    sh = shutil.which("sh")
    assert sh, "no POSIX sh"
    env = {
        "PATH": f"{_fake_bin(tmp_path)}:/usr/bin:/bin",
        "FAKE_DIR": str(tmp_path),
        "FAKE_KEY": KEY,
        "FAKE_KEY_AFTER": str(key_after),
        "POSTDEPLOY_WAIT_SECONDS": "0",
        **outputs,
        **extra,
    }
    return subprocess.run(
        [sh, str(SCRIPT)], env=env, capture_output=True, text=True, timeout=60, check=False
    )


def _az_calls(tmp_path: Path) -> list[list[str]]:
    log = tmp_path / "az.log"
    if not log.exists():
        return []
    return [line.rstrip("\x1f").split("\x1f") for line in log.read_text().splitlines()]


def _option(call: list[str], name: str) -> str:
    return call[call.index(name) + 1]


def test_creates_the_event_grid_subscription_for_the_blob_trigger(tmp_path: Path) -> None:
    done = _run(tmp_path, OUTPUTS, key_after=2)
    assert done.returncode == 0, done.stderr
    calls = _az_calls(tmp_path)
    key_calls = [c for c in calls if c[:3] == ["functionapp", "keys", "list"]]
    assert len(key_calls) == 2
    assert _option(key_calls[0], "--query") == "systemKeys.blobs_extension"
    assert _option(key_calls[0], "--name") == "func-abc"
    creates = [
        c for c in calls if c[:4] == ["eventgrid", "system-topic", "event-subscription", "create"]
    ]
    assert len(creates) == 1
    create = creates[0]
    assert _option(create, "--resource-group") == "rg-test"
    assert _option(create, "--system-topic-name") == "evgt-abc"
    assert _option(create, "--endpoint-type") == "webhook"
    assert _option(create, "--endpoint") == (
        "https://func-abc.azurewebsites.net/runtime/webhooks/blobs"
        f"?functionName=Host.Functions.process_upload&code={KEY}"
    )
    assert _option(create, "--included-event-types") == "Microsoft.Storage.BlobCreated"
    assert _option(create, "--subject-begins-with") == "/blobServices/default/containers/uploads/"
    woken = (tmp_path / "curl.log").read_text().split()
    assert woken[0] == "https://func-abc.azurewebsites.net/api/health"


def test_never_prints_the_key(tmp_path: Path) -> None:
    done = _run(tmp_path, OUTPUTS)
    assert done.returncode == 0, done.stderr
    assert KEY not in done.stdout + done.stderr


def test_function_name_can_be_overridden(tmp_path: Path) -> None:
    done = _run(tmp_path, OUTPUTS, BLOB_TRIGGER_FUNCTION="other_trigger")
    assert done.returncode == 0, done.stderr
    create = _az_calls(tmp_path)[-1]
    assert "functionName=Host.Functions.other_trigger&" in _option(create, "--endpoint")


def test_gives_up_when_the_key_never_appears(tmp_path: Path) -> None:
    done = _run(tmp_path, OUTPUTS, key_after=99, POSTDEPLOY_TRIES="3")
    assert done.returncode != 0
    assert "no blobs_extension key after 3 tries" in done.stderr
    calls = _az_calls(tmp_path)
    assert len(calls) == 3
    assert not [c for c in calls if "event-subscription" in c]


def test_reads_missing_values_from_azd(tmp_path: Path) -> None:
    outputs = {k: v for k, v in OUTPUTS.items() if k != "UPLOADS_CONTAINER_NAME"}
    done = _run(tmp_path, outputs, FAKE_AZD_UPLOADS_CONTAINER_NAME="uploads")
    assert done.returncode == 0, done.stderr
    create = _az_calls(tmp_path)[-1]
    assert _option(create, "--subject-begins-with") == "/blobServices/default/containers/uploads/"


@pytest.mark.parametrize("missing", sorted(OUTPUTS))
def test_fails_clearly_without_an_output(tmp_path: Path, missing: str) -> None:
    outputs = {k: v for k, v in OUTPUTS.items() if k != missing}
    done = _run(tmp_path, outputs)
    assert done.returncode != 0
    assert f"{missing} is not set" in done.stderr
    assert not _az_calls(tmp_path)


def test_needs_the_azure_cli(tmp_path: Path) -> None:
    sh = shutil.which("sh")
    assert sh
    empty = tmp_path / "empty"
    empty.mkdir()
    env = {**OUTPUTS, "PATH": str(empty)}
    done = subprocess.run(
        [sh, str(SCRIPT)], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode != 0
    assert "Azure CLI (az) is required" in done.stderr
    assert os.access(SCRIPT, os.X_OK)
