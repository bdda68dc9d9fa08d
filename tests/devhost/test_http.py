"""HTTP functions through the dev host over real HTTP (a subprocess on a free port)."""

from __future__ import annotations

import hashlib
import http.client
import os
import socket
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

import requests

from tests.devhost.conftest import BODY_LIMIT, FUNCTION_KEY, MASTER_KEY, records, wait_until
from tools.dev.azurite import ROOT


def _address(host) -> tuple[str, int]:
    parts = urlsplit(host.url)
    return parts.hostname, parts.port


def test_route_params_query_and_headers(sample_host):
    response = sample_host.get("/api/echo/42?a=1&a=2&b=", headers={"X-Sample": "hi"})
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    assert response.headers["X-Echo"] == "1"
    body = response.json()
    assert body["method"] == "GET"
    assert body["id"] == "42"
    assert body["params"] == {"a": "1,2", "b": ""}
    assert body["header"] == "hi"
    assert body["url"].endswith("/api/echo/42?a=1&a=2&b=")


def test_route_parameters_are_whole_decoded_segments(sample_host):
    missing = sample_host.get("/api/files/docs")  # every parameter is required
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "NotFound"
    assert sample_host.get("/api/files/docs/a%20b.png").json() == {
        "folder": "docs",
        "name": "a b.png",
    }


def test_unknown_route_is_404_with_json_error(sample_host):
    for path in ("/api/nothing-here", "/elsewhere/echo/1"):
        response = sample_host.get(path)
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "NotFound"


def test_wrong_method_is_405_with_allow(sample_host):
    response = requests.delete(sample_host.url + "/api/echo/7", timeout=30)
    assert response.status_code == 405
    assert response.json()["error"]["code"] == "MethodNotAllowed"
    assert set(response.headers["Allow"].split(", ")) == {"GET", "HEAD", "POST"}


def test_head_answers_like_get_without_a_body(sample_host):
    response = requests.head(sample_host.url + "/api/echo/1", timeout=30)
    assert response.status_code == 200
    assert int(response.headers["Content-Length"]) > 0
    assert response.content == b""


def test_binary_body_round_trip(sample_host):
    payload = os.urandom(300_000) + b"\x00\r\n\xff" * 10
    response = sample_host.post(
        "/api/bytes", data=payload, headers={"Content-Type": "application/octet-stream"}
    )
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/octet-stream"
    assert response.content == payload


def test_chunked_body_round_trip(sample_host):
    parts = [os.urandom(10_000) for _ in range(7)]
    response = sample_host.post("/api/bytes", data=iter(parts))  # a generator: chunked upload
    assert response.status_code == 200
    assert response.content == b"".join(parts)


def test_body_over_the_limit_is_refused_before_it_is_read(sample_host):
    """Only the headers are sent; a host that tried to read the body would wait for it."""
    with socket.create_connection(_address(sample_host), timeout=10) as sock:
        sock.sendall(
            b"POST /api/bytes HTTP/1.1\r\nHost: test\r\n"
            + f"Content-Length: {BODY_LIMIT + 1}\r\n\r\n".encode()
        )
        chunks = []
        while chunk := sock.recv(65536):  # the host closes the connection after its answer
            chunks.append(chunk)
        response = b"".join(chunks).decode()
    assert response.startswith("HTTP/1.1 413")
    assert "PayloadTooLarge" in response
    assert "Connection: close" in response


def test_chunked_body_over_the_limit_is_refused(sample_host):
    chunks = (os.urandom(100_000) for _ in range(BODY_LIMIT // 100_000 + 2))
    try:
        response = sample_host.post("/api/bytes", data=chunks)
    except requests.ConnectionError:
        return  # the host may close while the client still sends; then it never ran the function
    assert response.status_code == 413


def test_unhandled_exception_is_a_generic_500_and_the_traceback_is_logged(sample_host):
    secret = "BODY-MARKER-7f3a9c"
    response = sample_host.post("/api/fail", data=secret.encode())
    assert response.status_code == 500
    assert response.json()["error"]["code"] == "InternalServerError"
    assert "on purpose" not in response.text
    log = wait_until(
        lambda: (text := sample_host.log()) and "failed on purpose" in text and text,
        "the traceback in the log",
    )
    assert "Traceback" in log
    assert "Executed 'Functions.fail' (Failed" in log
    assert secret not in log


def test_async_function(sample_host):
    response = sample_host.get("/api/aio/hello")
    assert response.status_code == 200
    assert response.text == "HELLO"


def test_function_and_admin_auth_levels(sample_host):
    assert sample_host.get("/api/secure").status_code == 401
    assert sample_host.get("/api/secure", params={"code": "wrong"}).status_code == 401
    assert sample_host.get("/api/secure", params={"code": FUNCTION_KEY}).text == "secret"
    keyed = sample_host.get("/api/secure", headers={"x-functions-key": FUNCTION_KEY})
    assert keyed.status_code == 200
    assert (
        sample_host.get("/api/admin", headers={"x-functions-key": FUNCTION_KEY}).status_code == 401
    )
    assert sample_host.get("/api/admin", headers={"x-functions-key": MASTER_KEY}).text == "admin"
    assert sample_host.log().count(FUNCTION_KEY) == 1  # the startup banner; never per request


def test_requests_run_concurrently(sample_host):
    """The function waits on a 4-party barrier: it passes only if 4 calls overlap."""
    with ThreadPoolExecutor(max_workers=4) as pool:
        responses = list(pool.map(lambda _: sample_host.get("/api/together"), range(4)))
    assert [r.status_code for r in responses] == [200] * 4
    with ThreadPoolExecutor(max_workers=16) as pool:
        bodies = list(pool.map(lambda i: sample_host.get(f"/api/echo/{i}").json(), range(40)))
    assert sorted(int(b["id"]) for b in bodies) == list(range(40))


def test_keep_alive_serves_several_requests_on_one_connection(sample_host):
    connection = http.client.HTTPConnection(*_address(sample_host), timeout=10)
    try:
        for i in range(3):
            connection.request("POST", f"/api/echo/{i}", body=b"abc")
            response = connection.getresponse()
            body = response.read()
            assert response.status == 200
            assert f'"id": "{i}"'.encode() in body
            assert hashlib.sha256(b"abc").hexdigest().encode() in body
    finally:
        connection.close()


def test_a_client_that_disconnects_mid_body_does_not_hurt_the_host(sample_host):
    for _ in range(3):
        sock = socket.create_connection(_address(sample_host), timeout=10)
        sock.sendall(b"POST /api/bytes HTTP/1.1\r\nHost: t\r\nContent-Length: 5000\r\n\r\nabc")
        sock.close()
    assert sample_host.get("/api/echo/1").status_code == 200


def test_graceful_shutdown_finishes_running_requests(start_devhost):
    host = start_devhost("tests.devhost.sample_app:app", "host.json", "--no-eventgrid-polling")
    tag = uuid.uuid4().hex
    result: dict[str, requests.Response] = {}
    worker = threading.Thread(target=lambda: result.update(r=host.get(f"/api/sleep?s=2&tag={tag}")))
    worker.start()
    wait_until(lambda: records("sleep", tag), "the slow function to start")
    assert host.stop() == 0
    worker.join(30)
    assert result["r"].status_code == 200
    assert result["r"].text == "slept"
    try:
        socket.create_connection(_address(host), timeout=2).close()
        still_listening = True
    except OSError:
        still_listening = False
    assert not still_listening


def test_the_real_function_app_is_served(start_devhost):
    """`python -m tools.devhost` with its defaults: function_app.app and the repo's host.json."""
    events = "FACEGATE_STORAGE:up-:uploadevents"
    host = start_devhost("function_app:app", str(ROOT / "host.json"), "--blob-events", events)
    response = host.get("/api/health")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"
    banner = host.log()
    assert "queueTrigger uploadevents-poison" in banner  # upload_poison is polled
    assert "queueTrigger uploadevents " in banner  # process_upload
    assert "-> queue uploadevents (Event Grid emulated)" in banner
    assert "not loaded" not in banner and "not started" not in banner
    assert host.stop() == 0
