"""Route parameters fuzzed over real HTTP against the running app (dev host + Azurite).

Every HTTP route comes from the app's own metadata, so a new route is fuzzed without
a change here. Each case sends one route with each ``{param}`` replaced by: acme's own
real id, a random UUID, unicode, a very long string, path traversal (``..``,
``%2e%2e``, ``%2F``), NUL, invalid UTF-8 (``%ff``), or anything, percent-encoded in a
random way, and sometimes hostile capture/purpose/key headers. Properties: never a
5xx; every app answer matches the OpenAPI document with a known error code; the
host's own answers are its documented ones; nothing reaches the log as a traceback.
"""

from __future__ import annotations

import re
import string
import uuid
from urllib.parse import quote

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.data import make_photos as photos
from tests.hardening.fuzzing import fuzz_settings, outcome, target
from tests.hardening.http import check_answer, send
from tests.support.metadata import http_routes
from tests.support.resources import customer_resources

pytestmark = pytest.mark.fuzz

PHOTO = {"X-Capture-Context": "photo"}
ROUTES = sorted(http_routes().items())  # name -> (route, methods)
PARAM = re.compile(r"\{([^}:?*=]+)[^}]*\}")
BLANK = photos.encode(__import__("numpy").full((64, 64, 3), 90, "uint8"), "PNG")


@pytest.fixture(scope="module")
def own(acme):
    """acme's real ids, so some cases go deep instead of failing validation."""
    return customer_resources(acme, "fz")


HOSTILE = st.sampled_from(
    [
        "..",
        ".",
        "%2e%2e",
        "%2E%2E%2F%2E%2E",
        "..%2f..%2fetc%2fpasswd",
        "%2F",
        "%00",
        "%ff%fe",
        "%",
        "%zz",
        "%25",
        "a%20b",
        "%C0%AE%C0%AE",
        "%E2%80%AE",
        "\u202e",
        "ᴀᴅᴍɪɴ",
        "ﬁ",
        "Ａ",
        "null",
        "undefined",
        "' or 1 eq 1",
        "PartitionKey eq 'x'",
        "$filter",
        "*",
        "x" * 65,
        "a" * 3000,
        str(uuid.UUID(int=0)),
        "{" + str(uuid.uuid4()) + "}",
        str(uuid.uuid4()).upper(),
    ]
)


@st.composite
def param_value(draw: st.DrawFn, name: str, own: dict[str, str], method: str) -> str:
    """One path segment, already percent-encoded (never a raw '/', '?' or '#')."""
    kind = draw(st.sampled_from(["own", "uuid", "hostile", "text", "long", "ascii"]))
    if kind == "own" and name in own and method != "DELETE":
        return quote(own[name], safe="")
    if kind == "uuid":
        return str(draw(st.uuids()))
    if kind == "hostile":
        raw = draw(HOSTILE)
        return raw if "%" in raw else quote(raw, safe=".")
    if kind == "long":
        return quote(draw(st.text(min_size=200, max_size=2000)), safe="")
    if kind == "ascii":
        text = draw(st.text(alphabet=string.ascii_letters + string.digits + "-_.~", min_size=1))
        return text
    text = draw(st.text(min_size=1, max_size=40))
    safe = draw(st.sampled_from(["", ".", "-_.~", "-_.~!$&'()*+,;=:@"]))
    return quote(text, safe=safe) or "x"


def _body(name: str, draw: st.DrawFn) -> tuple[bytes | None, dict[str, str]]:
    if name in ("faces_add", "azure_face_add"):
        return BLANK, {"Content-Type": "application/octet-stream"}
    if name in ("gallery_put", "persons_add") or name.startswith(
        ("azure_group_", "azure_persons_", "azure_person_", "azure_face_")
    ):
        return b'{"name": "fuzz"}', {"Content-Type": "application/json"}
    return None, {}


HEADER_TEXT = st.text(
    alphabet=st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f"),
    max_size=60,
)


@fuzz_settings("http")
@given(route=st.sampled_from([r for r in ROUTES if "{" in r[1][0]]), data=st.data())
@target("http/route-params")
def test_fuzz_route_parameters(route, data, app, acme, own) -> None:
    name, (template, methods) = route
    method = data.draw(st.sampled_from(methods))
    path = "/api/" + PARAM.sub(
        lambda m: data.draw(param_value(m.group(1), own, method), label=m.group(1)), template
    )
    body, headers = _body(name, data.draw)
    headers = {"Ocp-Apim-Subscription-Key": acme.key, **PHOTO, **headers}
    if data.draw(st.integers(0, 4)) == 0:  # hostile headers too, sometimes
        for header in ("X-Capture-Context", "X-Purpose", "Ocp-Apim-Subscription-Key"):
            if data.draw(st.booleans()):
                headers[header] = data.draw(HEADER_TEXT)
    answer = send(app.url, method, path, body, headers)
    outcome("http/route-params", check_answer(method, path, answer))


@fuzz_settings("http")
@given(
    query=st.dictionaries(
        st.sampled_from(["returnFaceId", "returnFaceLandmarks", "returnFaceAttributes", "maxFaces"])
        | st.text(max_size=8),
        st.text(max_size=40) | st.sampled_from(["true", "²", "9" * 5000, "age,gender", ""]),
        max_size=4,
    ),
    capture=st.sampled_from([None, "photo", "drone", "realtime"]),
)
@target("http/detect-query")
def test_fuzz_detect_query_over_http(query, capture, app, acme) -> None:
    """The query string is fuzzed over HTTP too, with an image that decodes (no face)."""
    encoded = "&".join(f"{quote(k, safe='')}={quote(v, safe=',')}" for k, v in query.items())
    path = f"/api/detect?{encoded}" if encoded else "/api/detect"
    headers = {"Ocp-Apim-Subscription-Key": acme.key, "Content-Type": "image/png"}
    if capture:
        headers["X-Capture-Context"] = capture
    answer = send(app.url, "POST", path, BLANK, headers)
    outcome("http/detect-query", check_answer("POST", path, answer))


def test_the_fuzzed_app_logged_no_failure(app) -> None:
    """After the fuzzing above: no invocation failed and no traceback was logged."""
    log = app.log()
    assert "Traceback" not in log
    assert "(Failed," not in log
