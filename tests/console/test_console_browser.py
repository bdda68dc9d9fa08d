"""The console in a real headless Chromium (Debian's), driven by Playwright.

The scenario the issue asks for: an operator signs in with the keyboard only, approves a
waiting review with a written reason, the customer's next recognition call over HTTP is
allowed within the registry cache window, and that decision is found in the audit view with
the policy that allowed it. Every page is saved as a screenshot in reports/console/.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests
from playwright.sync_api import expect

from tests.console.conftest import CACHE_SECONDS, new_customer
from tests.support.apphost import wait_until

PHOTO = "tests/data/photos/astronaut.png"
HOSTILE_NAME = '<img src=x onerror="window.pwned=1">Mallory & Co'


def _call(app, key: str, path: str, **kw: Any) -> requests.Response:
    headers = {"Ocp-Apim-Subscription-Key": key, "X-Capture-Context": "photo"}
    return requests.post(f"{app.url}/api{path}", headers={**headers, **kw.pop("headers", {})},
                         timeout=120, **kw)  # fmt: skip


def _face_id(app, key: str) -> requests.Response:
    with open(PHOTO, "rb") as image:
        return _call(
            app, key, "/detect?returnFaceId=true", data=image.read(),
            headers={"Content-Type": "application/octet-stream"},
        )  # fmt: skip


@pytest.fixture
def page(browser, app) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1200, "height": 820}, base_url=app.url)
    page = context.new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.problems = problems  # type: ignore[attr-defined]
    yield page
    context.close()


UNLABELLED = """() => Array.from(document.querySelectorAll("input, select, textarea, button"))
  .filter((el) => el.offsetParent !== null)
  .filter((el) => el.tagName === "BUTTON" ? !el.textContent.trim()
    : el.labels.length === 0 && !el.getAttribute("aria-label"))
  .map((el) => el.outerHTML.slice(0, 80))"""


def _shot(page, screenshots, name: str) -> None:
    """Save the page, and check on the way that every visible control has a label."""
    assert page.evaluate(UNLABELLED) == [], f"{name}: controls without a label"
    page.screenshot(path=str(screenshots / f"{name}.png"))


def _sign_in_with_the_keyboard(page, credential: str) -> None:
    page.goto("/api/console")
    page.wait_for_selector("#credential:focus")  # the page puts the focus on the only field
    page.keyboard.type(credential)
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Sign in"
    page.keyboard.press("Enter")
    page.wait_for_selector("#nav:not([hidden])")
    page.wait_for_selector("h1:has-text('Customers')")


def test_keyboard_sign_in_approve_review_recognise_and_find_the_decision(
    app, credential, operator_name, page, screenshots
) -> None:
    waiting = new_customer(
        "clinic",
        name="Northside Clinic",
        sector="healthcare",
        country="GB",
        actions=("detect", "verify", "identify"),
        sensitive_use=True,
        review_state="pending",
        purposes=("patient-identity",),
    )
    cid, key = waiting["customerId"], waiting["key"]
    refused = _face_id(app, key)
    assert refused.status_code == 403
    assert "sensitive-use-needs-review" in refused.json()["error"]["policyIds"]

    page.goto("/api/console")
    page.wait_for_selector("#credential:focus")
    _shot(page, screenshots, "1-sign-in")
    _sign_in_with_the_keyboard(page, credential)
    assert page.evaluate("document.cookie") == ""  # HttpOnly: the script cannot read it
    cookie = next(c for c in page.context.cookies() if c["name"] == "fg_console")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    assert credential not in page.content()
    _shot(page, screenshots, "2-customers")

    page.get_by_role("link", name="Review queue").click()
    page.wait_for_selector(f"#review-{cid}")
    _shot(page, screenshots, "3-review-queue")
    page.get_by_label(f"Reason for the decision on {cid}").fill(
        "DPIA received 2026-11-30; identity checks at reception only."
    )
    page.get_by_role("button", name=f"Approve {cid}").click()
    page.wait_for_selector(f"#status:has-text('Approved {cid}')")
    expect(page.locator(f"#review-{cid}")).to_have_count(0)

    # the customer's next recognition calls, over HTTP with its key, within the window
    def allowed_face_id() -> str | None:
        response = _face_id(app, key)
        return response.json()[0]["faceId"] if response.status_code == 200 else None

    first = wait_until(allowed_face_id, "the approval to reach the gate", CACHE_SECONDS + 30)
    second = allowed_face_id()
    verified = _call(app, key, "/verify", json={"faceId1": first, "faceId2": second})
    assert verified.status_code == 200, verified.text
    assert verified.json()["isIdentical"] is True
    request_id = verified.headers["x-request-id"]

    page.get_by_role("link", name="Audit").click()
    page.get_by_label("Customer").fill(cid)
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("td", has_text="sensitive-use-needs-review").first).to_be_visible()
    _shot(page, screenshots, "4-audit")
    page.get_by_label("Action").select_option("verify")
    page.get_by_label("Outcome").select_option("allow")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_selector("caption:has-text('(1)')")
    csv_link = page.get_by_role("link", name="Export these rows as CSV")
    assert f"customer={cid}" in csv_link.get_attribute("href")
    page.get_by_role("link", name="Decision ").first.click()
    page.wait_for_selector("h2:has-text('Why: the deciding policies')")
    assert page.locator("dd", has_text=request_id).count() == 1  # the very call we made
    assert page.locator("h3 code", has_text="approved-action").count() == 1
    assert page.locator("pre", has_text='@id("approved-action")').count() == 1
    _shot(page, screenshots, "5-decision")

    page.goto(f"/api/console#/customers/{cid}")
    page.wait_for_selector(f"h1:has-text('Customer {cid}')")
    history = page.locator("table", has_text="Console changes")
    assert history.locator("td", has_text="approve-review").count() == 1
    assert history.locator("td", has_text=f"{operator_name} (local)").count() == 1
    assert history.locator("td", has_text="DPIA received").count() == 1
    assert page.locator("code", has_text=waiting["keyId"]).count() == 1
    assert key not in page.content()
    _shot(page, screenshots, "6-customer")

    page.get_by_role("link", name="Customers").click()
    page.get_by_role("link", name="Register a customer").click()
    page.wait_for_selector("h1:has-text('Register a customer')")
    _shot(page, screenshots, "8-register")

    page.get_by_role("link", name="Policies").click()
    page.wait_for_selector("#policy-sensitive-use-needs-review")
    _shot(page, screenshots, "7-policies")
    assert page.problems == []  # type: ignore[attr-defined]  # no script error, no CSP violation
    log = app.log()
    assert credential not in log and cookie["value"] not in log and key not in log


def test_values_from_the_registry_are_text_never_markup(app, credential, page) -> None:
    hostile = new_customer("hostile", name=HOSTILE_NAME, actions=("detect",))
    _sign_in_with_the_keyboard(page, credential)
    page.goto(f"/api/console#/customers?q={hostile['customerId']}")
    page.wait_for_selector(f"td:has-text('{HOSTILE_NAME}')")
    assert page.evaluate("window.pwned") is None
    assert page.locator("td img").count() == 0


def test_a_wrong_credential_is_announced_and_nothing_opens(app, page) -> None:
    page.goto("/api/console")
    page.wait_for_selector("#credential:focus")
    page.keyboard.type("fgop_not-a-real-credential")
    page.keyboard.press("Enter")
    page.wait_for_selector("#status.error")
    assert "Invalid operator credential" in page.locator("#status").text_content()
    assert page.locator("#status").get_attribute("role") == "status"
    assert page.locator("#nav").is_hidden()
    assert page.context.cookies() == []
