"""The console over real HTTP: the app in the dev host, real Azurite, and a real Chromium.

The browser is Debian's ``chromium`` (``make test`` installs it when missing), driven by
Playwright for Python; Playwright's own browser downloads are never used.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests

from shared.console import operators
from tests.support.apphost import AppHost, app_env
from tools.dev.azurite import ROOT
from tools.dev.seed import seed_customer

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = ROOT / "reports" / "console"
CACHE_SECONDS = 2  # FACEGATE_REGISTRY_CACHE_SECONDS of the app under test


@pytest.fixture(scope="module")
def app(azurite, tmp_path_factory) -> Iterator[AppHost]:
    env = app_env(azurite.connection_string, FACEGATE_CONSOLE_AUTH="local")
    env["FACEGATE_REGISTRY_CACHE_SECONDS"] = str(CACHE_SECONDS)
    host = AppHost(tmp_path_factory.mktemp("console-app"), env)
    host.start()
    yield host
    host.stop()


@pytest.fixture(scope="module")
def operator_name() -> str:
    return f"op-{uuid.uuid4().hex[:6]}"


@pytest.fixture(scope="module")
def credential(app, operator_name) -> str:
    """A local operator credential, issued as `make run` does."""
    return operators.issue_credential(operator_name)


@dataclass
class Console:
    """An operator's HTTP session with the console API (cookie jar + anti-forgery token)."""

    base: str
    http: requests.Session = field(default_factory=requests.Session)
    csrf: str = ""

    def url(self, path: str) -> str:
        return f"{self.base}/api/console/api{path}"

    def sign_in(self, credential: str) -> requests.Response:
        response = self.http.post(self.url("/session"), json={"credential": credential}, timeout=30)
        if response.status_code == 200:
            self.csrf = self.http.get(self.url("/session"), timeout=30).json()["csrfToken"]
        return response

    def get(self, path: str, **kw: Any) -> requests.Response:
        return self.http.get(self.url(path), timeout=60, **kw)

    def change(self, method: str, path: str, body: Any, **kw: Any) -> requests.Response:
        headers = {"X-CSRF-Token": self.csrf, **kw.pop("headers", {})}
        return self.http.request(
            method, self.url(path), json=body, headers=headers, timeout=120, **kw
        )


@pytest.fixture
def console(app, credential) -> Console:
    session = Console(app.url)
    assert session.sign_in(credential).status_code == 200
    return session


def new_customer(prefix: str, **fields: Any) -> dict:
    """A registered customer with one key (the key is for the API, never the console)."""
    return seed_customer(f"{prefix}-{uuid.uuid4().hex[:8]}", **fields)


@pytest.fixture(scope="session")
def chromium_path() -> str:
    found = shutil.which("chromium") or (CHROMIUM if Path(CHROMIUM).exists() else None)
    if not found:
        pytest.fail("chromium is not installed: run `make test` (it apt-get installs chromium)")
    return found


@pytest.fixture(scope="module")
def browser(chromium_path) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=chromium_path, headless=True, args=CHROMIUM_FLAGS
        )
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture(scope="session")
def screenshots() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS
