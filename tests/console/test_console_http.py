"""The console's HTTP surface: sign-in, sessions, CSRF, headers, and every change audited.

The real app in the dev host, real Azurite, plain HTTP (the browser tests drive the page).
"""

from __future__ import annotations

import base64
import csv
import io
import json
import re
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from shared.console import web
from tests.console.conftest import CACHE_SECONDS, Console, new_customer
from tests.support.apphost import wait_until

PHOTO = "tests/data/photos/astronaut.png"


def _detect(base: str, key: str, query: str = "") -> requests.Response:
    with open(PHOTO, "rb") as image:
        return requests.post(
            f"{base}/api/detect{query}",
            data=image.read(),
            headers={
                "Ocp-Apim-Subscription-Key": key,
                "Content-Type": "application/octet-stream",
                "X-Capture-Context": "photo",
            },
            timeout=120,
        )


def test_the_page_has_a_strict_csp_and_no_inline_script_or_secret(app) -> None:
    response = requests.get(f"{app.url}/api/console", timeout=30)
    assert response.status_code == 200
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "default-src 'none'" in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert response.headers["X-Frame-Options"] == "DENY"
    html = response.text
    assert "<script>" not in html and " on" + "click=" not in html and "style=" not in html
    assert "fgop_" not in html and "fg_" + "console=" not in html
    for name in web.ASSETS:
        asset = requests.get(f"{app.url}/api/console/static/{name}", timeout=30)
        assert asset.status_code == 200 and asset.headers["Content-Security-Policy"] == csp
    assert requests.get(f"{app.url}/api/console/static/..%2Fweb.py", timeout=30).status_code == 404
    assert requests.get(f"{app.url}/api/console/static/index.html", timeout=30).status_code == 404


def test_signing_in_sets_a_strict_http_only_cookie(app, credential) -> None:
    response = requests.post(
        f"{app.url}/api/console/api/session", json={"credential": credential}, timeout=30
    )
    assert response.status_code == 200
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith(f"{web.COOKIE}=")
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/api/console" in cookie
    assert "Secure" not in cookie  # plain HTTP on loopback; Secure in Azure (tests below)
    assert credential not in cookie and credential not in response.text


def test_a_customer_key_never_opens_the_console(app) -> None:
    customer = new_customer("keyholder", actions=("detect",))
    key = customer["key"]
    as_credential = requests.post(
        f"{app.url}/api/console/api/session", json={"credential": key}, timeout=30
    )
    assert as_credential.status_code == 401
    with_header = requests.get(
        f"{app.url}/api/console/api/customers",
        headers={"Ocp-Apim-Subscription-Key": key},
        timeout=30,
    )
    assert with_header.status_code == 401
    assert with_header.json()["error"]["code"] == "Unauthorized"
    wrong = requests.post(
        f"{app.url}/api/console/api/session", json={"credential": "fgop_wrong"}, timeout=30
    )
    assert wrong.status_code == 401


def test_a_forged_easy_auth_header_is_ignored_when_easy_auth_is_off(app) -> None:
    principal = {
        "auth_typ": "aad",
        "claims": [
            {"typ": "roles", "val": "FaceGate.Operator"},
            {"typ": "oid", "val": "00000000-0000-0000-0000-000000000001"},
            {"typ": "name", "val": "mallory"},
        ],
    }
    header = base64.b64encode(json.dumps(principal).encode()).decode()
    url = f"{app.url}/api/console/api/session"
    headers = {"X-MS-CLIENT-PRINCIPAL": header}
    assert requests.post(url, headers=headers, json={}, timeout=30).status_code == 401
    assert requests.get(url, headers=headers, timeout=30).json()["operator"] is None
    listing = requests.get(f"{app.url}/api/console/api/customers", headers=headers, timeout=30)
    assert listing.status_code == 401


def test_every_change_needs_the_anti_forgery_token_and_same_origin(console: Console) -> None:
    customer = new_customer("csrf", actions=("detect",))
    path = f"/customers/{customer['customerId']}/suspend"
    body = {"reason": "testing CSRF"}
    no_token = console.http.post(console.url(path), json=body, timeout=30)
    assert no_token.status_code == 403 and no_token.json()["error"]["code"] == "Forbidden"
    wrong = console.change("POST", path, body, headers={"X-CSRF-Token": "0" * 64})
    assert wrong.status_code == 403
    for origin in ("https://evil.example", "null", f"{console.base}.evil.example"):
        cross_site = console.change("POST", path, body, headers={"Origin": origin})
        assert cross_site.status_code == 403, origin
    fetch_site = console.change("POST", path, body, headers={"Sec-Fetch-Site": "cross-site"})
    assert fetch_site.status_code == 403
    form = console.http.post(
        console.url(path),
        data="reason=x",
        headers={"X-CSRF-Token": console.csrf, "Content-Type": "text/plain"},
        timeout=30,
    )
    assert form.status_code == 403
    record = console.get(f"/customers/{customer['customerId']}").json()
    assert record["customer"]["status"] == "active" and record["changes"] == []
    ok = console.change("POST", path, body, headers={"Origin": console.base})
    assert ok.status_code == 200


def test_a_change_needs_a_reason_and_is_recorded_with_who_and_why(
    console: Console, operator_name: str
) -> None:
    customer = new_customer("audited", actions=("detect",))
    cid = customer["customerId"]
    no_reason = console.change("PATCH", f"/customers/{cid}", {"changes": {"country": "FR"}})
    assert no_reason.status_code == 400 and no_reason.json()["error"]["code"] == "BadArgument"
    bad = console.change(
        "PATCH", f"/customers/{cid}", {"changes": {"country": "XX"}, "reason": "typo"}
    )
    assert bad.status_code == 400
    changed = console.change(
        "PATCH",
        f"/customers/{cid}",
        {"changes": {"country": "FR", "actions": ["detect", "age"]}, "reason": "moved to Paris"},
    )
    assert changed.status_code == 200, changed.text
    record = console.get(f"/customers/{cid}").json()
    assert record["customer"]["country"] == "FR"
    assert record["customer"]["actions"] == ["detect", "age"]
    (change,) = record["changes"]
    assert change["operator"] == operator_name and change["via"] == "local"
    assert change["reason"] == "moved to Paris" and change["kind"] == "change"
    assert change["before"] == {"country": "US", "actions": ["detect"]}
    assert change["after"] == {"country": "FR", "actions": ["detect", "age"]}
    assert [k["keyId"] for k in record["keys"]] == [customer["keyId"]]
    assert customer["key"] not in json.dumps(record)


def test_register_search_and_a_duplicate_is_a_conflict(console: Console) -> None:
    cid = "registered-by-console"
    body = {
        "customer": {"id": cid, "name": "Registered Ltd", "sector": "research", "country": "NL"},
        "reason": "signed contract 42",
    }
    assert console.change("POST", "/customers", body).status_code == 201
    assert console.change("POST", "/customers", body).status_code == 409
    found = console.get("/customers", params={"q": "registered ltd"}).json()
    assert [c["id"] for c in found] == [cid]
    assert console.get("/customers", params={"status": "nonsense"}).status_code == 400
    assert console.get("/customers/nobody-here").status_code == 404


def test_suspension_and_key_revocation_reach_the_gate_within_the_cache_window(
    app, console: Console
) -> None:
    customer = new_customer("suspendme", actions=("detect",))
    cid, key = customer["customerId"], customer["key"]
    assert _detect(app.url, key).status_code == 200
    assert (
        console.change("POST", f"/customers/{cid}/suspend", {"reason": "unpaid"}).status_code == 200
    )
    wait_until(
        lambda: _detect(app.url, key).status_code == 403,
        "the suspension to reach the gate",
        timeout=CACHE_SECONDS + 30,
    )
    assert "customer-not-active" in _detect(app.url, key).json()["error"]["policyIds"]
    assert (
        console.change("POST", f"/customers/{cid}/reactivate", {"reason": "paid"}).status_code
        == 200
    )
    wait_until(lambda: _detect(app.url, key).status_code == 200, "reactivation", CACHE_SECONDS + 30)
    revoke = console.change(
        "POST", f"/customers/{cid}/keys/{customer['keyId']}/revoke", {"reason": "key leaked"}
    )
    assert revoke.status_code == 200
    wait_until(lambda: _detect(app.url, key).status_code == 401, "revocation", CACHE_SECONDS + 30)
    again = console.change(
        "POST", f"/customers/{cid}/keys/{customer['keyId']}/revoke", {"reason": "twice"}
    )
    assert again.status_code == 409
    kinds = [c["kind"] for c in console.get(f"/customers/{cid}").json()["changes"]]
    assert kinds == ["revoke-key", "reactivate", "suspend"]


def test_a_review_is_decided_once_and_only_when_pending(console: Console) -> None:
    not_pending = new_customer("noreview", actions=("detect",))
    response = console.change(
        "POST",
        f"/customers/{not_pending['customerId']}/review",
        {"decision": "approve", "reason": "x"},
    )
    assert response.status_code == 409
    pending = new_customer(
        "denyme", actions=("detect", "verify"), sensitive_use=True, review_state="pending"
    )
    cid = pending["customerId"]
    assert cid in [c["id"] for c in console.get("/reviews").json()]
    bad = console.change("POST", f"/customers/{cid}/review", {"decision": "maybe", "reason": "x"})
    assert bad.status_code == 400
    denied = console.change(
        "POST", f"/customers/{cid}/review", {"decision": "deny", "reason": "no DPIA"}
    )
    assert denied.status_code == 200
    assert console.get(f"/customers/{cid}").json()["customer"]["review_state"] == "denied"
    assert cid not in [c["id"] for c in console.get("/reviews").json()]


def test_audit_filters_decision_record_and_csv(app, console: Console) -> None:
    customer = new_customer("audit", actions=("detect",), country="DE")
    cid, key = customer["customerId"], customer["key"]
    allowed = _detect(app.url, key)
    denied = _detect(app.url, key, "?returnFaceAttributes=age")
    assert (allowed.status_code, denied.status_code) == (200, 403)
    day = console.get("/audit", params={"customer": cid}).json()["day"]
    everything = console.get("/audit", params={"customer": cid, "day": day}).json()["rows"]
    assert {r["customer"] for r in everything} == {cid}
    denials = console.get("/audit", params={"customer": cid, "outcome": "deny"}).json()["rows"]
    assert denials and all(r["decision"] == "deny" for r in denials)
    by_policy = console.get(
        "/audit", params={"customer": cid, "policy": "action-not-approved"}
    ).json()["rows"]
    assert by_policy == [r for r in everything if "action-not-approved" in r["policyIds"]]
    by_action = console.get("/audit", params={"customer": cid, "action": "age"}).json()["rows"]
    assert by_action and all("age" in r["action"].split(",") for r in by_action)
    across = console.get("/audit", params={"outcome": "deny"}).json()["rows"]
    assert {r["decisionId"] for r in denials} <= {r["decisionId"] for r in across}

    decision_id = denied.json()["error"]["decisionId"]
    record = console.get(
        f"/audit/decisions/{decision_id}", params={"customer": cid, "day": day}
    ).json()
    assert record["allowed"] is False and record["customer"] == cid
    assert record["context"]["capture"] == "photo" and record["context"]["channel"] == "http"
    why = {p["id"]: p for p in record["policies"]}
    assert "action-not-approved" in why
    assert '@id("action-not-approved")' in why["action-not-approved"]["text"]
    assert why["action-not-approved"]["comment"]
    assert record["customerAtDecision"]["country"] == "DE"
    wrong_day = console.get(
        f"/audit/decisions/{decision_id}", params={"customer": cid, "day": "2001-01-01"}
    )
    assert wrong_day.status_code == 404
    assert console.get("/audit", params={"day": "yesterday"}).status_code == 400

    exported = console.get("/audit/csv", params={"customer": cid})
    assert exported.status_code == 200
    assert exported.headers["Content-Type"].startswith("text/csv")
    assert "attachment" in exported.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert [r["decisionId"] for r in rows] == [r["decisionId"] for r in everything]


def test_csv_cells_cannot_become_spreadsheet_formulas() -> None:
    from shared.console.auditview import to_csv

    text = to_csv([{"customer": "=HYPERLINK(1)", "purpose": "@x", "action": "detect"}])
    row = next(csv.DictReader(io.StringIO(text)))
    assert row["customer"] == "'=HYPERLINK(1)" and row["purpose"] == "'@x"
    assert row["action"] == "detect"


def test_policies_are_listed_read_only_with_id_comment_and_text(console: Console) -> None:
    from shared.policy import engine

    listed = console.get("/policies").json()
    files = sorted(p.name for p in engine.POLICY_DIR.glob("*.cedar"))
    assert [p["file"] for p in listed] == files
    for policy in listed:
        assert f'@id("{policy["id"]}")' in policy["text"]
        assert policy["comment"] and policy["effect"] in ("permit", "forbid")
    assert console.change("POST", "/policies", {"reason": "x"}).status_code in (404, 405)


def test_an_operator_erases_a_customers_galleries(app, console: Console) -> None:
    customer = new_customer("erase", actions=("detect", "enroll"))
    cid, key = customer["customerId"], customer["key"]
    headers = {"Ocp-Apim-Subscription-Key": key}
    for gallery in ("one", "two"):
        created = requests.put(
            f"{app.url}/api/galleries/{gallery}",
            json={"name": gallery},
            headers=headers,
            timeout=30,
        )
        assert created.status_code in (200, 201), created.text
        person = requests.post(
            f"{app.url}/api/galleries/{gallery}/persons",
            json={"name": "p"},
            headers=headers,
            timeout=30,
        ).json()["personId"]
        with open(PHOTO, "rb") as image:
            face = requests.post(
                f"{app.url}/api/galleries/{gallery}/persons/{person}/faces",
                data=image.read(),
                headers={**headers, "Content-Type": "application/octet-stream"},
                timeout=120,
            )
        assert face.status_code == 200, face.text
    assert (
        console.change("POST", f"/customers/{cid}/erase-galleries", {}).status_code == 400
    )  # no reason
    erased = console.change("POST", f"/customers/{cid}/erase-galleries", {"reason": "contract end"})
    assert erased.status_code == 200, erased.text
    assert erased.json()["erasedGalleries"] == ["one", "two"]
    listing = requests.get(f"{app.url}/api/galleries", headers=headers, timeout=30)
    assert listing.json() == []
    from shared.biometrics import store

    assert store.list_galleries(cid) == []
    left = [r for r in store.stored_rows(cid) if r.get("kind") != "gallery"]
    assert left == []  # no person or face template in any of its partitions
    (change,) = console.get(f"/customers/{cid}").json()["changes"]
    assert change["kind"] == "erase-galleries" and change["operator"]
    assert change["reason"] == "contract end"
    from shared.policy import audit_rows

    erase_rows = [r for r in audit_rows(cid, erased.json()["change"]["time"][:10]) if "actor" in r]
    assert erase_rows and erase_rows[-1]["actor"].startswith(change["operator"])


def test_signing_out_ends_the_session(app, credential) -> None:
    session = Console(app.url)
    assert session.sign_in(credential).status_code == 200
    assert session.get("/customers").status_code == 200
    stolen_cookie = dict(session.http.cookies)
    assert session.change("DELETE", "/session", {}).status_code == 200
    replay = requests.get(session.url("/customers"), cookies=stolen_cookie, timeout=30)
    assert replay.status_code == 401


STATIC_ROUTES = {"console_page", "console_asset"}  # the page and its files: no data in them


def test_every_console_route_refuses_a_customer_key(app) -> None:
    """Every console function from the app's metadata, each method, with a valid customer key
    and no session: 401 (the page, its files and "who am I" hold no data)."""
    from tests.support.metadata import console_routes

    customer = new_customer("prober", actions=("detect", "verify", "identify", "enroll"))
    headers = {"Ocp-Apim-Subscription-Key": customer["key"], "Content-Type": "application/json"}
    routes = console_routes()
    assert len(routes) >= 10 and set(routes) >= STATIC_ROUTES
    for name, (template, methods) in sorted(routes.items()):
        path = re.sub(r"\{([^}:?*=]+)[^}]*\}", lambda m: {"customerId": customer[
            "customerId"]}.get(m.group(1), "suspend"), template)  # fmt: skip
        for method in methods:
            response = requests.request(
                method, f"{app.url}/api/{path}", headers=headers, json={"reason": "x"}, timeout=30
            )
            if name in STATIC_ROUTES or (name == "console_session" and method == "GET"):
                assert response.status_code in (200, 404), f"{name} {method}"
                assert customer["customerId"] not in response.text
            else:
                assert response.status_code == 401, f"{name} {method} {path}: {response.text}"
    from shared.policy import registry

    # the key's POST .../suspend and PATCH changed nothing
    assert registry.load_customer(customer["customerId"]).status == "active"


RACE_ROUNDS = 8


def _decide(session: Console, cid: str, decision: str, start: threading.Barrier) -> int:
    start.wait()
    body = {"decision": decision, "reason": "race"}
    return session.change("POST", f"/customers/{cid}/review", body).status_code


def test_two_operators_deciding_one_review_at_once_leave_one_decision(
    app, credential, console: Console
) -> None:
    """Approve and deny race over HTTP, many rounds: exactly one wins, one record, and the
    record says what the registry says."""
    other = Console(app.url)
    assert other.sign_in(credential).status_code == 200
    for round_ in range(RACE_ROUNDS):
        pending = new_customer(
            f"race{round_}", actions=("verify",), sensitive_use=True, review_state="pending"
        )
        cid = pending["customerId"]
        start = threading.Barrier(2)
        with ThreadPoolExecutor(2) as pool:
            approve = pool.submit(_decide, console, cid, "approve", start)
            deny = pool.submit(_decide, other, cid, "deny", start)
            statuses = {"approve": approve.result(), "deny": deny.result()}
        assert sorted(statuses.values()) == [200, 409], statuses
        winner = next(d for d, status in statuses.items() if status == 200)
        record = console.get(f"/customers/{cid}").json()
        assert (
            record["customer"]["review_state"] == {"approve": "approved", "deny": "denied"}[winner]
        )
        assert [c["kind"] for c in record["changes"]] == [f"{winner}-review"]


def test_a_change_and_its_record_are_written_together_or_not_at_all(azurite) -> None:
    """If the change record cannot be written, the customer record is not changed either."""
    from shared.console import changes
    from shared.console.operators import Operator
    from shared.errors import ServiceUnavailable
    from shared.policy import registry

    cid = new_customer("atomic", actions=("detect",))["customerId"]
    operator = Operator("tester", "local")
    changes.suspend(cid, operator, "first")
    (first,) = registry.journal_rows(cid)

    def clashing(current, updated) -> dict:
        return {"RowKey": first["RowKey"], "Reason": "a record that cannot be written"}

    with pytest.raises(ServiceUnavailable):
        registry.update_customer(cid, journal=clashing, status="active")
    assert registry.load_customer(cid).status == "suspended"
    assert len(registry.journal_rows(cid)) == 1


def test_make_run_prints_the_console_url_and_a_working_operator_credential(app, capsys) -> None:
    from tools.dev import run

    credential = run._issue_operator_credential()
    run._print_usage({"status": "ok"}, None, credential)
    printed = capsys.readouterr().out
    assert "http://127.0.0.1:7071/api/console" in printed and credential in printed
    assert Console(app.url).sign_in(credential).status_code == 200
    replaced = run._issue_operator_credential()  # the next `make run`
    assert Console(app.url).sign_in(credential).status_code == 401
    assert Console(app.url).sign_in(replaced).status_code == 200


@pytest.fixture(scope="module")
def second_instance(azurite, tmp_path_factory):
    """Another instance of the app on the same storage, with its own registry cache."""
    from tests.console.conftest import CACHE_SECONDS
    from tests.support.apphost import AppHost, app_env

    env = app_env(azurite.connection_string, FACEGATE_CONSOLE_AUTH="local")
    env["FACEGATE_REGISTRY_CACHE_SECONDS"] = str(CACHE_SECONDS)
    host = AppHost(tmp_path_factory.mktemp("console-instance-b"), env).start()
    yield host
    host.stop()


def test_an_approval_reaches_another_instance_within_the_cache_window(
    console: Console, second_instance
) -> None:
    """The console runs on one instance; the customer calls another, which had cached the
    pending record: that instance allows recognition once its cache entry expires."""
    pending = new_customer("elsewhere", actions=("detect", "verify"), sensitive_use=True,
                           review_state="pending")  # fmt: skip
    cid, key = pending["customerId"], pending["key"]
    assert _detect(second_instance.url, key, "?returnFaceId=true").status_code == 403  # cached
    approved = console.change(
        "POST", f"/customers/{cid}/review", {"decision": "approve", "reason": "DPIA on file"}
    )
    assert approved.status_code == 200
    wait_until(
        lambda: _detect(second_instance.url, key, "?returnFaceId=true").status_code == 200,
        "the other instance to see the approval",
        timeout=CACHE_SECONDS + 20,
    )


def test_the_admin_cli_issues_an_operator_credential_once(app, capsys) -> None:
    from tools.admin.cli import main

    assert main(["operators", "issue", "--name", "grace@example.org"]) == 0
    issued = json.loads(capsys.readouterr().out)
    assert issued["operator"] == "grace@example.org"
    assert Console(app.url).sign_in(issued["credential"]).status_code == 200
    assert main(["operators", "issue", "--name", "Not A Name!"]) == 2
