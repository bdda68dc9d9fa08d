"""Entra ID sign-in (App Service authentication): the principal header, its app role, and
that it is trusted only when FACEGATE_CONSOLE_AUTH says Easy Auth is on."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator

import pytest
import requests

from shared.console import operators
from shared.errors import Forbidden, Unauthorized
from tests.support.apphost import AppHost, app_env

OID = "0b7c7a52-1111-4d2c-9a8e-5f1f7a0c0001"
OTHER_OID = "0b7c7a52-1111-4d2c-9a8e-5f1f7a0c0002"


def principal(oid: str = OID, roles: tuple[str, ...] = ("FaceGate.Operator",)) -> str:
    """An X-MS-CLIENT-PRINCIPAL header as App Service authentication builds it."""
    claims = [
        {"typ": "http://schemas.microsoft.com/identity/claims/objectidentifier", "val": oid},
        {"typ": "preferred_username", "val": "ada@contoso.example"},
        *({"typ": "roles", "val": r} for r in roles),
    ]
    body = {
        "auth_typ": "aad",
        "claims": claims,
        "name_typ": "preferred_username",
        "role_typ": "roles",
    }
    return base64.b64encode(json.dumps(body).encode()).decode()


@pytest.fixture
def entra(monkeypatch, azurite) -> None:
    monkeypatch.setenv("FACEGATE_CONSOLE_AUTH", "entra")


def test_an_operator_principal_is_read_from_the_header() -> None:
    operator = operators.entra_operator(principal())
    assert (operator.name, operator.via, operator.subject) == (
        "ada@contoso.example",
        "entra",
        OID,
    )


@pytest.mark.parametrize("header", [None, "", "not base64!", base64.b64encode(b"[]").decode()])
def test_a_missing_or_unreadable_principal_is_unauthorized(header) -> None:
    with pytest.raises(Unauthorized):
        operators.entra_operator(header)


def test_a_principal_without_the_operator_role_is_forbidden() -> None:
    with pytest.raises(Forbidden):
        operators.entra_operator(principal(roles=("Reader",)))


def test_entra_sessions_are_bound_to_the_principal(entra) -> None:
    token, session = operators.sign_in(None, principal())
    assert session.operator.subject == OID
    assert operators.session(token, principal()).operator.name == "ada@contoso.example"
    with pytest.raises(Unauthorized):
        operators.session(token, None)  # signed out of Entra: the console session ends too
    with pytest.raises(Unauthorized):
        operators.session(token, principal(OTHER_OID))
    with pytest.raises(Forbidden):
        operators.session(token, principal(roles=()))  # the role was taken away


def test_local_credentials_do_not_work_when_entra_is_on(entra) -> None:
    credential = operators.issue_credential("local-only")
    with pytest.raises(Unauthorized):
        operators.sign_in(credential, None)


def test_a_local_session_does_not_survive_a_switch_to_entra(monkeypatch, azurite) -> None:
    monkeypatch.setenv("FACEGATE_CONSOLE_AUTH", "local")
    token, _ = operators.sign_in(operators.issue_credential("switcher"), None)
    monkeypatch.setenv("FACEGATE_CONSOLE_AUTH", "entra")
    with pytest.raises(Unauthorized):
        operators.session(token, principal())


@pytest.mark.parametrize("value", ["off", "OFF ", "nonsense"])
def test_off_or_unknown_mode_refuses_everyone(monkeypatch, azurite, value) -> None:
    monkeypatch.setenv("FACEGATE_CONSOLE_AUTH", value)
    assert operators.mode() == "off"
    with pytest.raises(Unauthorized):
        operators.sign_in(operators.issue_credential("nobody"), principal())


@pytest.fixture(scope="module")
def entra_app(azurite, tmp_path_factory) -> Iterator[AppHost]:
    env = app_env(azurite.connection_string, FACEGATE_CONSOLE_AUTH="entra")
    host = AppHost(tmp_path_factory.mktemp("console-entra"), env)
    host.start()
    yield host
    host.stop()


def test_over_http_easy_auth_signs_in_with_a_secure_cookie(entra_app) -> None:
    url = f"{entra_app.url}/api/console/api/session"
    anonymous = requests.get(url, timeout=30)
    assert anonymous.status_code == 200 and anonymous.json()["operator"] is None
    assert anonymous.json()["signIn"]["url"].startswith("/.auth/login/aad")
    forged_cookie = requests.get(url, headers={"Cookie": "fg_console=forged"}, timeout=30)
    assert forged_cookie.status_code == 401
    no_role = requests.post(
        url, json={}, headers={"X-MS-CLIENT-PRINCIPAL": principal(roles=())}, timeout=30
    )
    assert no_role.status_code == 403
    http = requests.Session()
    http.headers["X-MS-CLIENT-PRINCIPAL"] = principal()
    signed_in = http.post(url, json={}, timeout=30)
    assert signed_in.status_code == 200, signed_in.text
    cookie = signed_in.headers["Set-Cookie"]
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Strict" in cookie
    token = cookie.split(";")[0].split("=", 1)[1]
    who = requests.get(
        url,
        headers={"Cookie": f"fg_console={token}", "X-MS-CLIENT-PRINCIPAL": principal()},
        timeout=30,
    )
    assert who.status_code == 200 and who.json()["operator"]["name"] == "ada@contoso.example"
    assert who.json()["mode"] == "entra"


def test_expired_sessions_are_refused_and_cleared_at_the_next_sign_in(monkeypatch, azurite) -> None:
    from shared.storage import clients, names

    monkeypatch.setenv("FACEGATE_CONSOLE_AUTH", "local")
    credential = operators.issue_credential("expiring")
    token, _ = operators.sign_in(credential, None)
    table = clients.table_service().get_table_client(names.CONSOLE_SESSIONS)
    row = table.get_entity(operators.digest(token), operators.SESSION_ROW)
    row["ExpiresAt"] = "2000-01-01T00:00:00Z"
    table.update_entity(row)
    with pytest.raises(Unauthorized):
        operators.session(token)
    operators.sign_in(credential, None)
    remaining = [r["PartitionKey"] for r in table.list_entities(select=["PartitionKey"])]
    assert operators.digest(token) not in remaining


def _console_page(browser, entra_app, header: str | None):
    headers = {"X-MS-CLIENT-PRINCIPAL": header} if header else {}
    context = browser.new_context(base_url=entra_app.url, extra_http_headers=headers)
    page = context.new_page()
    page.goto("/api/console")
    return context, page


def test_the_page_signs_in_with_entra_as_easy_auth_passes_the_principal(browser, entra_app) -> None:
    """Chromium with the header App Service authentication would add: the page opens a
    console session by itself; without it, the page offers the Entra sign-in link; without
    the app role, it says so."""
    context, page = _console_page(browser, entra_app, principal())
    page.wait_for_selector("#nav:not([hidden])")
    assert page.locator("#who-name").text_content() == "ada@contoso.example"
    context.close()

    context, page = _console_page(browser, entra_app, None)
    link = page.get_by_role("link", name="Sign in with Microsoft Entra ID")
    link.wait_for()
    assert link.get_attribute("href") == "/.auth/login/aad?post_login_redirect_uri=/api/console"
    assert page.locator("#sign-in-form").is_hidden() and page.locator("#nav").is_hidden()
    context.close()

    context, page = _console_page(browser, entra_app, principal(roles=("Reader",)))
    page.wait_for_selector("#status.error")
    assert "FaceGate.Operator" in page.locator("#status").text_content()
    assert page.locator("#nav").is_hidden()
    context.close()
