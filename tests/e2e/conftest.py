"""End-to-end: the real app in the dev host, real Azurite, real models, real HTTP.

Every response the ``Client`` receives is checked against the OpenAPI document.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import requests

from tests.support import contract
from tests.support.apphost import AppHost, app_env
from tools.dev.seed import seed_customer

ALL_ACTIONS = ("detect", "age", "gender", "emotion", "verify", "identify", "enroll")
PURPOSE = "product-demo"


@dataclass
class Client:
    """A caller of the API with one key (or none)."""

    base: str
    key: str | None
    customer_id: str = ""

    def request(
        self,
        method: str,
        path: str,
        *,
        headers: dict[str, str] | None = None,
        check_contract: bool = True,
        **kwargs: Any,
    ) -> requests.Response:
        all_headers = dict(headers or {})
        if self.key is not None:
            all_headers.setdefault("Ocp-Apim-Subscription-Key", self.key)
        response = requests.request(
            method, f"{self.base}/api{path}", headers=all_headers, timeout=120, **kwargs
        )
        if check_contract:
            body = response.json() if response.content else None
            contract.check(method, f"/api{path.split('?')[0]}", response.status_code, body)
        return response

    def detect(self, image: bytes, query: str = "", **kw: Any) -> requests.Response:
        return self.request(
            "POST",
            f"/detect{'?' + query if query else ''}",
            data=image,
            headers={"Content-Type": "application/octet-stream", **kw.pop("headers", {})},
            **kw,
        )

    def post_json(self, path: str, body: Any, **kw: Any) -> requests.Response:
        return self.request("POST", path, json=body, **kw)


def error_code(response: requests.Response) -> str:
    return response.json()["error"]["code"]


@pytest.fixture(scope="module")
def app(azurite, tmp_path_factory) -> Iterator[AppHost]:
    """The app for one test module: stopped at its end, so no dev host outlives its tests
    (a running host would also process other modules' uploads)."""
    host = AppHost(tmp_path_factory.mktemp("app"), app_env(azurite.connection_string))
    host.start()
    yield host
    host.stop()


def _tenant(app: AppHost, prefix: str, **fields: Any) -> Client:
    seeded = seed_customer(f"{prefix}-{uuid.uuid4().hex[:8]}", **fields)
    return Client(app.url, seeded["key"], seeded["customerId"])


@pytest.fixture(scope="module")
def acme(app) -> Client:
    """An active commercial customer approved for everything, with a declared purpose."""
    return _tenant(app, "acme", actions=ALL_ACTIONS, purposes=(PURPOSE,))


@pytest.fixture(scope="module")
def globex(app) -> Client:
    """Another such customer: it must never see acme's data."""
    return _tenant(app, "globex", actions=ALL_ACTIONS, purposes=(PURPOSE,))


@pytest.fixture(scope="module")
def us_police(app) -> Client:
    return _tenant(
        app, "uspd", sector="law_enforcement", country="US", actions=ALL_ACTIONS,
        purposes=("investigation",),
    )  # fmt: skip


@pytest.fixture(scope="module")
def workplace(app) -> Client:
    return _tenant(
        app, "office", sector="workplace", country="DE", actions=ALL_ACTIONS,
        purposes=("access-control",),
    )  # fmt: skip


@pytest.fixture(scope="module")
def anonymous(app) -> Client:
    return Client(app.url, None)
