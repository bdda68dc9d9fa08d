"""Oversized bodies are refused before they are read whole.

Two limits: the host's request-body limit (100 MB, FUNCTIONS_REQUEST_BODY_SIZE_LIMIT)
is applied to the Content-Length before a byte of the body is read; the app's own
6 MB (images) and 64 KB (JSON) limits answer 413 PayloadTooLarge from the declared
length before the body is parsed or decoded.
"""

from __future__ import annotations

import json
import socket
from urllib.parse import urlsplit

from shared.api.requests import MAX_IMAGE_BYTES, MAX_JSON_BYTES
from tests.hardening.http import send

HOST_LIMIT = 100 * 1024 * 1024


def _raw_exchange(url: str, head: bytes, timeout: float = 20) -> tuple[int, dict, bytes]:
    """Send ``head`` (request line and headers, no body), read one response."""
    parts = urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port), timeout=timeout) as sock:
        sock.sendall(head)
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            assert chunk, "the server closed without answering"
            data += chunk
        header_text, _, rest = data.partition(b"\r\n\r\n")
        lines = header_text.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {k.lower(): v.strip() for k, v in (ln.split(":", 1) for ln in lines[1:])}
        length = int(headers.get("content-length", "0"))
        while len(rest) < length:
            chunk = sock.recv(65536)
            if not chunk:
                break
            rest += chunk
    return status, headers, rest


def _head(url: str, key: str, length: int, *extra: str) -> bytes:
    host = urlsplit(url).netloc
    lines = [
        "POST /api/detect HTTP/1.1",
        f"Host: {host}",
        f"Ocp-Apim-Subscription-Key: {key}",
        "Content-Type: application/octet-stream",
        f"Content-Length: {length}",
        *extra,
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def test_the_host_refuses_a_huge_content_length_without_reading_the_body(app, acme) -> None:
    """200 MB declared, not one byte sent: the answer comes at once, from the host."""
    status, headers, body = _raw_exchange(app.url, _head(app.url, acme.key, 2 * HOST_LIMIT))
    assert status == 413
    assert json.loads(body)["error"]["code"] == "PayloadTooLarge"
    assert headers.get("connection", "").lower() == "close"
    assert "x-request-id" not in headers  # the app never ran


def test_expect_100_continue_is_refused_before_the_client_sends(app, acme) -> None:
    head = _head(app.url, acme.key, 2 * HOST_LIMIT, "Expect: 100-continue")
    status, _, body = _raw_exchange(app.url, head)
    assert status == 413  # not "100 Continue": the client never uploads the body
    assert json.loads(body)["error"]["code"] == "PayloadTooLarge"


def test_the_app_refuses_an_image_over_6_mb_before_decoding(app, acme) -> None:
    """Not an image at all: had it been decoded, the answer would be 400 InvalidImage."""
    junk = b"\0" * (MAX_IMAGE_BYTES + 1)
    answer = send(app.url, "POST", "/api/detect", junk, {"Ocp-Apim-Subscription-Key": acme.key})
    assert answer.status == 413 and answer.code == "PayloadTooLarge"
    assert answer.from_app
    exactly = send(
        app.url, "POST", "/api/detect", junk[:-1], {"Ocp-Apim-Subscription-Key": acme.key}
    )
    assert exactly.status == 400 and exactly.code == "InvalidImage"  # 6 MB itself is allowed


def test_a_chunked_image_over_6_mb_is_refused_too(app, acme) -> None:
    """Without a Content-Length the body is measured once read (chunks up to the host's
    limit), still before any decoding."""

    def chunks():
        piece = b"\0" * (1 << 20)
        for _ in range(7):
            yield piece

    import requests

    response = requests.post(
        f"{app.url}/api/detect",
        data=chunks(),
        headers={"Ocp-Apim-Subscription-Key": acme.key},
        timeout=60,
    )
    assert response.request.headers.get("Transfer-Encoding") == "chunked"
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "PayloadTooLarge"


def test_json_bodies_over_64_kb_are_refused(app, acme) -> None:
    body = json.dumps({"faceIds": ["x" * (MAX_JSON_BYTES)]}).encode()
    for path in (
        "/api/verify",
        "/api/identify",
        "/api/galleries/big",
        "/api/galleries/big/persons",
    ):
        method = "PUT" if path == "/api/galleries/big" else "POST"
        answer = send(
            app.url, method, path, body,
            {"Ocp-Apim-Subscription-Key": acme.key, "Content-Type": "application/json"},
        )  # fmt: skip
        assert (answer.status, answer.code) == (413, "PayloadTooLarge"), path
