"""`make run`: Azurite + the function app on 127.0.0.1:7071, a demo customer, the console, and how
to call it.

Starts Azurite on its default ports with data in .azurite/ (or reuses one that
is already listening there), then `func start` when Functions Core Tools is on
PATH, otherwise our dev host. Ctrl-C stops everything this started.

``--galleries postgres`` (`make run GALLERIES=postgres`) also starts a local PostgreSQL
with pgvector (data in .postgres/, a Unix socket only) and makes it the default gallery
store of the app (FACEGATE_GALLERY_STORE=postgres, FACEGATE_POSTGRES_URL).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request

from tools.dev.azurite import ROOT, Azurite, port_open, stop_process_group
from tools.dev.postgres import LocalPostgres
from tools.dev.seed import BLOB_EVENTS, ensure_local_storage

APP_PORT = 7071
HEALTH_URL = f"http://127.0.0.1:{APP_PORT}/api/health"
LOCAL_OPERATOR = "local-operator"


def _local_settings() -> dict[str, str]:
    """Values from local.settings.json (created from the sample when missing)."""
    path = ROOT / "local.settings.json"
    if not path.exists():
        shutil.copy(ROOT / "local.settings.sample.json", path)
        print("created local.settings.json from local.settings.sample.json")
    return json.loads(path.read_text())["Values"]


def _wait_for_health(app: subprocess.Popen, timeout: float = 120.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if app.poll() is not None:
            raise RuntimeError(f"the app exited with {app.returncode} before it was healthy")
        try:
            with urllib.request.urlopen(HEALTH_URL, timeout=2) as response:
                return json.loads(response.read())
        except OSError:
            time.sleep(0.25)
    raise TimeoutError(f"{HEALTH_URL} did not answer within {timeout}s")


def _start_events(env: dict[str, str]) -> subprocess.Popen | None:
    """With Core Tools, the dev host's Event Grid emulation runs on its own."""
    if not shutil.which("func"):
        return None  # the dev host emulates it itself
    print("emulating Event Grid for blob uploads (python -m tools.devhost.blobevents)")
    cmd = [sys.executable, "-m", "tools.devhost.blobevents"]
    return subprocess.Popen(cmd, cwd=ROOT, env=env, start_new_session=True)


def _start_app(env: dict[str, str]) -> subprocess.Popen:
    func = shutil.which("func")
    if func:
        print("starting the app with Azure Functions Core Tools (func start)")
        cmd = [func, "start", "--port", str(APP_PORT)]
    else:
        print("Functions Core Tools not found: starting the FaceGate dev host (tools/devhost)")
        cmd = [sys.executable, "-m", "tools.devhost", "--port", str(APP_PORT)]
    return subprocess.Popen(cmd, cwd=ROOT, env=env, start_new_session=True)


def _stop(process: subprocess.Popen | None, name: str) -> None:
    if process is None or process.poll() is not None:
        return
    print(f"stopping {name}")
    stop_process_group(process, 15)


def _seed_demo_customer() -> dict | None:
    """Create the demo customer if the policy registry exists yet; returns its key."""
    try:
        from tools.dev.seed import seed_demo_customer
    except ImportError:
        return None
    return seed_demo_customer()


def _issue_operator_credential() -> str:
    """A fresh console credential for the local operator (any earlier one stops working)."""
    from shared.console import operators

    return operators.issue_credential(LOCAL_OPERATOR)


def _print_usage(health: dict, demo: dict | None, operator_credential: str) -> None:
    key = (demo or {}).get("key", "<your key>")
    print()
    print(f"FaceGate is running on http://127.0.0.1:{APP_PORT}/api  (health: {health['status']})")
    if demo:
        print(f"demo customer: {demo['customerId']}  key: {key}")
        if not demo.get("new", True):
            print("  (the demo customer existed already; a fresh key was issued for it)")
    print()
    print("try:")
    print(f"  curl -s {HEALTH_URL}")
    print(
        f'  curl -s -H "Ocp-Apim-Subscription-Key: {key}" '
        '-H "Content-Type: application/octet-stream" '
        f"--data-binary @tests/data/photos/astronaut.png "
        f'"http://127.0.0.1:{APP_PORT}/api/detect?returnFaceAttributes=headPose,qualityForRecognition"'
    )
    print('  (age, gender and emotion need the request\'s purpose: -H "X-Purpose: product-demo")')
    uploads = (demo or {}).get("uploads")
    if uploads:
        print()
        print(f"demo upload credential (SAS, until {uploads['expiresOn']}):")
        print(f"  uploads: {uploads['uploadsContainerUrl']}")
        print(f"  results: {uploads['resultsContainerUrl']}")
        print("  (README, 'Blob pipeline': how to use them with azure-storage-blob)")
    print()
    print(f"operators' console: http://127.0.0.1:{APP_PORT}/api/console")
    print(f"  operator: {LOCAL_OPERATOR}  credential: {operator_credential}")
    print("  (a new credential each run; it opens the console only, never the API)")
    print()
    store = os.environ.get("FACEGATE_GALLERY_STORE") or "table"
    print(f"galleries: {store} store (make run GALLERIES=postgres for PostgreSQL)")
    print("Ctrl-C stops the app and everything `make run` started.")


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _start_postgres() -> tuple[LocalPostgres, dict[str, str]]:
    """A local PostgreSQL with pgvector as the app's default gallery store."""
    server = LocalPostgres(ROOT / ".postgres" / "data").start()
    print("PostgreSQL started (data in .postgres/): galleries are stored there")
    return server, {"FACEGATE_GALLERY_STORE": "postgres", "FACEGATE_POSTGRES_URL": server.url}


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="make run", description=__doc__.split("\n")[0])
    parser.add_argument(
        "--galleries",
        choices=("table", "postgres"),
        default="table",
        help="the default gallery store (postgres: a local PostgreSQL is started too)",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _arguments(argv)
    # Ctrl-C and SIGTERM both stop everything this started (also when started from a
    # non-interactive shell, where SIGINT would otherwise be ignored).
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)
    settings = _local_settings()
    settings.setdefault("DEVHOST_BLOB_EVENTS", BLOB_EVENTS)  # older local.settings.json
    azurite: Azurite | None = None
    postgres: LocalPostgres | None = None
    app: subprocess.Popen | None = None
    events: subprocess.Popen | None = None
    try:
        if args.galleries == "postgres":
            postgres, galleries = _start_postgres()
            settings.update(galleries)
        env = {**os.environ, **settings}
        if all(port_open(p) for p in Azurite().ports):
            print("Azurite is already listening on 10000-10002: using it")
        else:
            azurite = Azurite(location=ROOT / ".azurite" / "data")
            azurite.log_path = ROOT / ".azurite" / "azurite.log"
            azurite.location.mkdir(parents=True, exist_ok=True)
            azurite.start()
            print("Azurite started (data in .azurite/, log in .azurite/azurite.log)")
        os.environ.update(settings)
        ensure_local_storage()  # tables, queues, the Event Grid subscription, as Bicep makes them
        app = _start_app(env)
        events = _start_events(env)
        health = _wait_for_health(app)
        _print_usage(health, _seed_demo_customer(), _issue_operator_credential())
        app.wait()
        return app.returncode or 0
    except KeyboardInterrupt:
        return 0
    finally:
        _stop(app, "the app")
        _stop(events, "the Event Grid emulation")
        if azurite is not None:
            print("stopping Azurite")
            azurite.stop()
        if postgres is not None:
            print("stopping PostgreSQL")
            postgres.close()


if __name__ == "__main__":
    raise SystemExit(main())
