"""The operators' console: one static page and the JSON API it calls, under /api/console.

Thin: sign-in, sessions, CSRF, changes, audit and policies live in shared/console.
Every change (POST/PATCH/DELETE) needs the session cookie, the session's
anti-forgery token in X-CSRF-Token, a JSON body and a same-origin request.
Customer keys are never looked at here.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import azure.functions as func

from functions.http_support import status_of
from shared.console import auditview, changes, customers, erasure, operators, policies, web
from shared.errors import BadArgument, FaceGateError, Forbidden, NotFound
from shared.identifiers import new_id

bp = func.Blueprint()
log = logging.getLogger("facegate.console")

ANON = func.AuthLevel.ANONYMOUS
PRINCIPAL_HEADER = "X-MS-CLIENT-PRINCIPAL"
ENTRA_LOGIN = "/.auth/login/aad?post_login_redirect_uri=/api/console"
MAX_BODY = 64 * 1024


class Ctx:
    """One console request from a signed-in operator."""

    def __init__(self, req: func.HttpRequest, session: operators.Session) -> None:
        self.req = req
        self.session = session

    @property
    def operator(self) -> operators.Operator:
        return self.session.operator

    def route(self, name: str) -> str:
        return self.req.route_params.get(name, "")

    def body(self) -> dict[str, Any]:
        return _json_body(self.req)


def _json_body(req: func.HttpRequest) -> dict[str, Any]:
    raw = req.get_body() or b"{}"
    if len(raw) > MAX_BODY:
        raise BadArgument("the request body is over 64 KB.")
    try:
        data = json.loads(raw)
    except ValueError:
        raise BadArgument("the body must be JSON.") from None
    if not isinstance(data, dict):
        raise BadArgument("the body must be a JSON object.")
    return data


def _respond(
    status: int,
    body: bytes | str,
    content_type: str,
    request_id: str,
    extra: dict[str, str] | None = None,
) -> func.HttpResponse:
    headers = {**web.SECURITY_HEADERS, "x-request-id": request_id, **(extra or {})}
    return func.HttpResponse(body, status_code=status, mimetype=None, headers={
        **headers, "Content-Type": content_type,
    })  # fmt: skip


def _json(status: int, body: Any, request_id: str, extra: dict[str, str] | None = None):
    return _respond(status, json.dumps(body), "application/json", request_id, extra)


def _error(error: FaceGateError, request_id: str) -> func.HttpResponse:
    body: dict[str, Any] = {"error": {"code": error.code, "message": error.message}}
    if status_of(error) == 401:
        body["error"]["signIn"] = _sign_in_hint()
    return _json(status_of(error), body, request_id)


def _sign_in_hint() -> dict[str, str]:
    mode = operators.mode()
    return {"mode": mode, **({"url": ENTRA_LOGIN} if mode == "entra" else {})}


def _principal(req: func.HttpRequest) -> str | None:
    """Easy Auth's principal header, only when the app says Easy Auth is on (else forgeable)."""
    return req.headers.get(PRINCIPAL_HEADER) if operators.mode() == "entra" else None


def _same_origin(req: func.HttpRequest) -> None:
    """Changes come from the console's own page: JSON, same origin, not a cross-site form."""
    if (req.headers.get("Content-Type") or "").split(";")[0].strip() != "application/json":
        raise Forbidden("changes must be sent as application/json from the console page.")
    site = req.headers.get("Sec-Fetch-Site")
    if site and site not in ("same-origin", "none"):
        raise Forbidden("cross-site requests cannot change anything.")
    origin = req.headers.get("Origin")
    if origin:  # browsers send it on every POST; "null" is a sandboxed or opaque origin
        host = req.headers.get("X-Forwarded-Host") or req.headers.get("Host") or ""
        if urlsplit(origin).netloc.lower() != host.split(",")[0].strip().lower():
            raise Forbidden("cross-origin requests cannot change anything.")


Work = Callable[[Ctx], tuple[int, Any]]


def _serve(req: func.HttpRequest, work: Work, *, change: bool = False) -> func.HttpResponse:
    request_id = new_id()
    try:
        token = web.cookie_value(req.headers.get("Cookie"))
        session = operators.session(token, _principal(req))
        if change:
            _same_origin(req)
            operators.check_csrf(token or "", req.headers.get(web.CSRF_HEADER))
        ctx = Ctx(req, session)
        status, body = work(ctx)
        if change:
            log.info(
                "console %s %s by %s (%s)", req.method, urlsplit(req.url).path,
                session.operator.name, session.operator.via,
            )  # fmt: skip
        if isinstance(body, func.HttpResponse):
            return body
        return _json(status, body, request_id)
    except FaceGateError as error:
        log.info("console request %s refused: %s", request_id, error.code)
        return _error(error, request_id)
    except Exception:
        log.exception("console request %s failed", request_id)
        body = {"error": {"code": "InternalError", "message": "Something went wrong on our side."}}
        return _json(500, body, request_id)


def _secure_cookie(req: func.HttpRequest) -> bool:
    """Secure in Azure (always HTTPS there) and on any HTTPS URL; not on local plain HTTP."""
    return (
        operators.mode() == "entra"
        or req.url.lower().startswith("https://")
        or bool(os.environ.get("WEBSITE_INSTANCE_ID"))
    )


# --- the page ------------------------------------------------------------------------------


@bp.function_name("console_page")
@bp.route(route="console", methods=["GET"], auth_level=ANON)
def console_page(req: func.HttpRequest) -> func.HttpResponse:
    """The console's single page (sign-in first; every view is drawn by console.js)."""
    return _respond(200, web.page(), "text/html; charset=utf-8", new_id())


@bp.function_name("console_asset")
@bp.route(route="console/static/{name}", methods=["GET"], auth_level=ANON)
def console_asset(req: func.HttpRequest) -> func.HttpResponse:
    """console.js and console.css, from the repository; any other name is 404."""
    found = web.asset(req.route_params.get("name", ""))
    if found is None:
        return _error(NotFound("no such console file."), new_id())
    return _respond(200, found[0], found[1], new_id())


# --- sign-in -------------------------------------------------------------------------------


@bp.function_name("console_session")
@bp.route(route="console/api/session", methods=["GET", "POST", "DELETE"], auth_level=ANON)
def console_session(req: func.HttpRequest) -> func.HttpResponse:
    """GET: who is signed in and the session's anti-forgery token (``operator: null`` and how to
    sign in, without a session cookie). POST: sign in (an operator credential locally; the
    Entra principal in Azure). DELETE: sign out."""
    if req.method == "POST":
        return _sign_in(req)
    if req.method == "DELETE":
        return _serve(req, _sign_out, change=True)
    token = web.cookie_value(req.headers.get("Cookie"))
    if token is None:  # the page asks before anyone signed in: not an error
        return _json(200, {"operator": None, "signIn": _sign_in_hint()}, new_id())
    return _serve(req, _whoami)


def _whoami(ctx: Ctx) -> tuple[int, Any]:
    token = web.cookie_value(ctx.req.headers.get("Cookie")) or ""
    return 200, {
        "operator": {"name": ctx.operator.name, "via": ctx.operator.via},
        "csrfToken": operators.csrf_token(token),
        "expiresAt": ctx.session.expires_at,
        "mode": operators.mode(),
        "cacheSeconds": customers.record_cache_seconds(),
    }


def _sign_in(req: func.HttpRequest) -> func.HttpResponse:
    request_id = new_id()
    try:
        _same_origin(req)
        credential = None
        if operators.mode() == "local":
            credential = _json_body(req).get("credential")
        token, session = operators.sign_in(credential, _principal(req))
        log.info("console sign-in by %s (%s)", session.operator.name, session.operator.via)
        cookie = web.session_cookie(token, _secure_cookie(req), operators.SESSION_HOURS * 3600)
        body = {"operator": {"name": session.operator.name, "via": session.operator.via}}
        return _json(200, body, request_id, {"Set-Cookie": cookie})
    except FaceGateError as error:
        log.info("console sign-in refused: %s", error.code)
        return _error(error, request_id)


def _sign_out(ctx: Ctx) -> tuple[int, Any]:
    operators.sign_out(web.cookie_value(ctx.req.headers.get("Cookie")))
    cookie = web.session_cookie("", _secure_cookie(ctx.req), 0)
    return 200, _json(200, {"signedOut": True}, new_id(), {"Set-Cookie": cookie})


# --- customers -----------------------------------------------------------------------------


@bp.function_name("console_customers")
@bp.route(route="console/api/customers", methods=["GET", "POST"], auth_level=ANON)
def console_customers(req: func.HttpRequest) -> func.HttpResponse:
    """GET: list and search (``q``, ``status``). POST: register a customer (with a reason)."""
    if req.method == "POST":
        return _serve(req, lambda c: (201, _create(c)), change=True)
    return _serve(
        req, lambda c: (200, customers.find(req.params.get("q", ""), req.params.get("status", "")))
    )


def _create(ctx: Ctx) -> dict:
    body = ctx.body()
    return changes.create_customer(body.get("customer") or {}, ctx.operator, body.get("reason")
                                   ).to_dict()  # fmt: skip


@bp.function_name("console_customer")
@bp.route(route="console/api/customers/{customerId}", methods=["GET", "PATCH"], auth_level=ANON)
def console_customer(req: func.HttpRequest) -> func.HttpResponse:
    """GET: one customer's record, keys (ids only) and change history. PATCH: change fields."""
    if req.method == "PATCH":
        return _serve(req, lambda c: (200, _change(c)), change=True)
    return _serve(req, lambda c: (200, customers.record(c.route("customerId"))))


def _change(ctx: Ctx) -> dict:
    body = ctx.body()
    fields = body.get("changes")
    if not isinstance(fields, dict):
        raise BadArgument("changes must be an object of registry fields.")
    return changes.change_customer(ctx.route("customerId"), fields, ctx.operator,
                                   body.get("reason")).to_dict()  # fmt: skip


OPERATIONS = {
    "suspend": lambda c, b: changes.suspend(c.route("customerId"), c.operator, b.get("reason")),
    "reactivate": lambda c, b: changes.reactivate(
        c.route("customerId"), c.operator, b.get("reason")
    ),
    "review": lambda c, b: changes.decide_review(
        c.route("customerId"), _decision_of(b), c.operator, b.get("reason")
    ),
}


def _decision_of(body: dict) -> bool:
    value = body.get("decision")
    if value not in ("approve", "deny"):
        raise BadArgument("decision must be approve or deny.")
    return value == "approve"


@bp.function_name("console_customer_operation")
@bp.route(route="console/api/customers/{customerId}/{operation}", methods=["POST"], auth_level=ANON)
def console_customer_operation(req: func.HttpRequest) -> func.HttpResponse:
    """suspend, reactivate, review (approve/deny) or erase-galleries, each with a reason."""

    def work(ctx: Ctx) -> tuple[int, Any]:
        body, operation = ctx.body(), ctx.route("operation")
        if operation == "erase-galleries":
            return 200, erasure.erase_customer_galleries(
                ctx.route("customerId"), ctx.operator, body.get("reason")
            )
        if operation not in OPERATIONS:
            raise NotFound(f"no console operation {operation[:40]!r}.")
        return 200, OPERATIONS[operation](ctx, body).to_dict()

    return _serve(req, work, change=True)


@bp.function_name("console_key_revoke")
@bp.route(
    route="console/api/customers/{customerId}/keys/{keyId}/revoke",
    methods=["POST"],
    auth_level=ANON,
)
def console_key_revoke(req: func.HttpRequest) -> func.HttpResponse:
    """Revoke one key by its id (keys themselves are never shown)."""
    return _serve(
        req,
        lambda c: (200, changes.revoke_key(
            c.route("customerId"), c.route("keyId"), c.operator, c.body().get("reason")
        ).to_dict()),
        change=True,
    )  # fmt: skip


@bp.function_name("console_reviews")
@bp.route(route="console/api/reviews", methods=["GET"], auth_level=ANON)
def console_reviews(req: func.HttpRequest) -> func.HttpResponse:
    """Customers whose sensitive use waits for a human review."""
    return _serve(req, lambda c: (200, customers.review_queue()))


@bp.function_name("console_vocabulary")
@bp.route(route="console/api/vocabulary", methods=["GET"], auth_level=ANON)
def console_vocabulary(req: func.HttpRequest) -> func.HttpResponse:
    """The registry's words (sectors, statuses, actions...) for the forms."""
    return _serve(req, lambda c: (200, customers.vocabulary()))


# --- audit and policies --------------------------------------------------------------------


@bp.function_name("console_audit")
@bp.route(route="console/api/audit", methods=["GET"], auth_level=ANON)
def console_audit(req: func.HttpRequest) -> func.HttpResponse:
    """Decisions of a day, filtered by customer, action, outcome (allow/deny) and policy id."""
    return _serve(req, lambda c: (200, auditview.search(auditview.Filters.parse(req.params))))


@bp.function_name("console_audit_csv")
@bp.route(route="console/api/audit/csv", methods=["GET"], auth_level=ANON)
def console_audit_csv(req: func.HttpRequest) -> func.HttpResponse:
    """The same rows as /audit, as a CSV download."""

    def work(ctx: Ctx) -> tuple[int, Any]:
        found = auditview.search(auditview.Filters.parse(req.params))
        name = f"facegate-audit-{found['day']}.csv"
        return 200, _respond(
            200, auditview.to_csv(found["rows"]), "text/csv; charset=utf-8", new_id(),
            {"Content-Disposition": f'attachment; filename="{name}"'},
        )  # fmt: skip

    return _serve(req, work)


@bp.function_name("console_decision")
@bp.route(route="console/api/audit/decisions/{decisionId}", methods=["GET"], auth_level=ANON)
def console_decision(req: func.HttpRequest) -> func.HttpResponse:
    """One decision (``customer`` and ``day`` in the query): its rows, policies and context."""
    return _serve(
        req,
        lambda c: (200, auditview.decision(
            req.params.get("customer", ""), req.params.get("day", ""), c.route("decisionId")
        )),
    )  # fmt: skip


@bp.function_name("console_policies")
@bp.route(route="console/api/policies", methods=["GET"], auth_level=ANON)
def console_policies(req: func.HttpRequest) -> func.HttpResponse:
    """Every Cedar policy file, read-only: @id, effect, the why-comment and the text."""
    return _serve(req, lambda c: (200, policies.listing()))
