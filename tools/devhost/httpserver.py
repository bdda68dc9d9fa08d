"""The HTTP front end: real azure.functions HttpRequest/HttpResponse over a threaded server.

Routes ``/{routePrefix}/{route}`` to HTTP functions, checks function keys for
FUNCTION/ADMIN auth levels, refuses bodies over the host's limit before reading
them (413), bounds concurrent and outstanding requests, and logs one line per
request without bodies or query strings (a ``code`` key may be in the query).
"""

from __future__ import annotations

import contextlib
import json
import logging
import socket
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol
from urllib.parse import parse_qsl, urlsplit

from azure.functions import meta

from tools.devhost.functions import FunctionSpec
from tools.devhost.hostconfig import HostConfig
from tools.devhost.keys import Keys
from tools.devhost.routing import RouteTable
from tools.devhost.runtime import Tracker


class ServedHost(Protocol):
    """What the HTTP front end needs from the host (host.DevHost provides it)."""

    config: HostConfig
    keys: Keys
    state: str
    tracker: Tracker
    routes: RouteTable[FunctionSpec]
    last_activity: float

    def function_names(self) -> list[str]: ...

    def invoke_http(
        self, spec: FunctionSpec, request: Any, traceparent: str | None
    ) -> tuple[int, list[tuple[str, str]], bytes]: ...

    def blob_webhook(self, function_name: str, headers: Any, body: bytes) -> tuple[int, bytes]: ...


log = logging.getLogger("devhost.http")

_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "upgrade"}
_STATUS_TEXT = {
    404: "NotFound",
    405: "MethodNotAllowed",
    413: "PayloadTooLarge",
    503: "ServiceUnavailable",
}


class BodyTooLarge(Exception):
    """The request body is larger than the host's limit."""


class ClientGone(Exception):
    """The client closed the connection while we were reading its request."""


class DevHostServer(ThreadingHTTPServer):
    """ThreadingHTTPServer with a cap on open connections and a handle on the dev host."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], host: ServedHost, max_connections: int = 256):
        self.devhost = host
        self._slots = threading.BoundedSemaphore(max_connections)
        super().__init__(address, RequestHandler)

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self._slots.acquire(blocking=False):
            with contextlib.suppress(OSError):
                request.sendall(
                    b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n"
                    b"Connection: close\r\n\r\n"
                )
            self.shutdown_request(request)
            return
        super().process_request(request, client_address)

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._slots.release()

    def handle_error(self, request: Any, client_address: Any) -> None:
        log.debug("connection error from %s", client_address[0], exc_info=True)


class RequestHandler(BaseHTTPRequestHandler):
    """One connection; HTTP/1.1 keep-alive; every method goes through ``_dispatch``."""

    protocol_version = "HTTP/1.1"
    server_version = "FaceGateDevHost/1.0"
    timeout = 30  # idle keep-alive connections and stalled uploads are closed after this
    server: DevHostServer

    # -- plumbing ------------------------------------------------------------------------
    def setup(self) -> None:
        super().setup()
        # headers and body go out in separate writes: without this, Nagle + delayed ACK
        # add ~40 ms to every keep-alive response
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:
        return  # we log our own line per request

    def handle_expect_100(self) -> bool:
        """Refuse an oversized body before the client sends it."""
        length = self._content_length()
        if length is not None and length > self.server.devhost.config.body_limit:
            self._too_large()
            return False
        return super().handle_expect_100()

    def __getattr__(self, name: str) -> Callable[[], None]:
        if name.startswith("do_"):
            return self._dispatch
        raise AttributeError(name)

    def _content_length(self) -> int | None:
        raw = self.headers.get("Content-Length")
        if raw is None:
            return None
        try:
            value = int(raw)
        except ValueError:
            return -1
        return value

    def _read_body(self) -> bytes:
        limit = self.server.devhost.config.body_limit
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return self._read_chunked(limit)
        length = self._content_length()
        if length is None or length == 0:
            return b""
        if length < 0:
            raise ValueError("bad Content-Length")
        if length > limit:
            raise BodyTooLarge
        return self._read_exact(length)

    def _read_exact(self, length: int) -> bytes:
        chunks, remaining = [], length
        while remaining:
            try:
                chunk = self.rfile.read(min(remaining, 1 << 20))
            except (TimeoutError, OSError) as exc:
                raise ClientGone from exc
            if not chunk:
                raise ClientGone
            chunks.append(chunk)
            remaining -= len(chunk)
        return b"".join(chunks)

    def _read_chunked(self, limit: int) -> bytes:
        body = bytearray()
        while True:
            try:
                line = self.rfile.readline(1026)
            except (TimeoutError, OSError) as exc:
                raise ClientGone from exc
            if not line:
                raise ClientGone
            try:
                size = int(line.split(b";", 1)[0].strip(), 16)
            except ValueError as exc:
                raise ValueError("bad chunk size") from exc
            if size == 0:
                while True:  # trailers, up to the empty line
                    trailer = self.rfile.readline(8192)
                    if trailer in (b"\r\n", b"\n", b""):
                        return bytes(body)
            if len(body) + size > limit:
                raise BodyTooLarge
            body += self._read_exact(size)
            self._read_exact(2)  # CRLF after each chunk

    # -- responses -----------------------------------------------------------------------
    def _send(
        self,
        status: int,
        body: bytes = b"",
        headers: list[tuple[str, str]] | None = None,
        close: bool = False,
    ) -> None:
        self._status = status
        try:
            self.send_response(status)
            for name, value in headers or []:
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            if close:
                self.send_header("Connection", "close")
                self.close_connection = True
            self.end_headers()
            if body and self.command != "HEAD":
                self.wfile.write(body)
            self.wfile.flush()
        except (TimeoutError, BrokenPipeError, ConnectionResetError):
            self.close_connection = True
            log.info("client went away before the response was sent")

    def _send_error_json(
        self, status: int, message: str, headers: list[tuple[str, str]] | None = None, **kw: Any
    ) -> None:
        code = _STATUS_TEXT.get(status, "InternalServerError" if status >= 500 else "BadRequest")
        payload = json.dumps({"error": {"code": code, "message": message}}).encode()
        all_headers = [("Content-Type", "application/json; charset=utf-8"), *(headers or [])]
        self._send(status, payload, all_headers, **kw)

    def _too_large(self) -> None:
        limit = self.server.devhost.config.body_limit
        self._send_error_json(
            413, f"The request body is larger than the limit of {limit} bytes.", close=True
        )

    # -- the request ---------------------------------------------------------------------
    def _dispatch(self) -> None:
        started = time.monotonic()
        self._status = 0
        host = self.server.devhost
        url = urlsplit(self.path)
        path = url.path
        try:
            if host.state != "Running":  # a kept-alive connection after shutdown began
                self._send_error_json(503, "The host is stopping.", close=True)
            elif path in ("", "/"):
                self._send(
                    200, b"FaceGate dev host is running.\n", [("Content-Type", "text/plain")]
                )
            elif path.rstrip("/").lower() == "/admin/host/status":
                self._admin_status(url.query)
            elif path.rstrip("/").lower() == "/runtime/webhooks/blobs":
                with host.tracker.track():
                    self._blob_webhook(url.query)
            else:
                with host.tracker.track():  # until the response is written: shutdown waits
                    self._function_request(path, url.query)
        except BodyTooLarge:
            self._too_large()
        except ClientGone:
            self.close_connection = True
            log.info("%s %s: client disconnected while sending the body", self.command, path)
        except ValueError as exc:
            self._send_error_json(400, str(exc), close=True)
        finally:
            if self._status:
                log.info(
                    "%s %s -> %d (%.0f ms)",
                    self.command,
                    path,
                    self._status,
                    (time.monotonic() - started) * 1000,
                )
            host.last_activity = time.monotonic()

    def _presented_key(self, query: str) -> str | None:
        key = self.headers.get("x-functions-key")
        if key:
            return key
        return dict(parse_qsl(query)).get("code")

    def _admin_status(self, query: str) -> None:
        host = self.server.devhost
        if not host.keys.allows("ADMIN", self._presented_key(query)):
            self._send(401)
            return
        body = json.dumps({"state": host.state, "functions": host.function_names()}).encode()
        self._send(200, body, [("Content-Type", "application/json; charset=utf-8")])

    def _blob_webhook(self, query: str) -> None:
        host = self.server.devhost
        if self.command == "OPTIONS":  # CloudEvents abuse-protection handshake
            origin = self.headers.get("WebHook-Request-Origin", "*")
            self._send(200, headers=[("WebHook-Allowed-Origin", origin), ("Allow", "POST")])
            return
        if self.command != "POST":
            self._send_error_json(405, "Use POST.", [("Allow", "POST, OPTIONS")])
            return
        if not host.keys.allows("ADMIN", self._presented_key(query)):
            self._send(401)
            return
        body = self._read_body()
        function_name = dict(parse_qsl(query)).get("functionName", "")
        status, payload = host.blob_webhook(function_name, self.headers, body)
        headers = [("Content-Type", "application/json; charset=utf-8")] if payload else []
        self._send(status, payload, headers)

    def _function_request(self, path: str, query: str) -> None:
        host = self.server.devhost
        prefix = f"/{host.config.route_prefix}" if host.config.route_prefix else ""
        if prefix and not (
            path.lower() == prefix.lower() or path.lower().startswith(prefix.lower() + "/")
        ):
            self._send_error_json(404, f"No function matches {path}.")
            return
        route_path = path[len(prefix) :].strip("/")
        method = self.command.upper()
        route, route_params, allowed = host.routes.resolve(route_path, method)
        if route is None and method == "HEAD":
            route, route_params, allowed = host.routes.resolve(route_path, "GET")
        if route is None:
            if allowed:
                allow = ", ".join(sorted(allowed | ({"HEAD"} if "GET" in allowed else set())))
                self._send_error_json(
                    405, f"{method} is not allowed on {path}.", [("Allow", allow)]
                )
            else:
                self._send_error_json(404, f"No function matches {path}.")
            return
        spec = route.target
        if not host.keys.allows(
            spec.trigger.get("authLevel", "FUNCTION"), self._presented_key(query)
        ):
            # like the host: refuse before reading the body
            self._send(401, close=self._content_length() not in (None, 0))
            return
        body = self._read_body()
        request = self._build_request(spec.trigger["name"], route_params, query, body)
        status, headers, payload = host.invoke_http(spec, request, self.headers.get("traceparent"))
        self._send(status, payload, headers)

    def _build_request(
        self, binding: str, route_params: dict[str, str], query: str, body: bytes
    ) -> Any:
        headers: dict[str, str] = {}
        for name, value in self.headers.items():
            key = name.lower()
            headers[key] = f"{headers[key]}, {value}" if key in headers else value
        params: dict[str, str] = {}
        for name, value in parse_qsl(query, keep_blank_values=True):
            params[name] = f"{params[name]},{value}" if name in params else value
        host_header = self.headers.get("Host") or "{}:{}".format(*self.server.server_address[:2])
        url = f"http://{host_header}{self.path}"
        datum = meta.Datum(
            type="http",
            value={
                "method": meta.Datum(self.command, "string"),
                "url": meta.Datum(url, "string"),
                "headers": {k: meta.Datum(v, "string") for k, v in headers.items()},
                "query": {k: meta.Datum(v, "string") for k, v in params.items()},
                "params": {k: meta.Datum(v, "string") for k, v in route_params.items()},
                "body": meta.Datum(body, "bytes"),
            },
        )
        converter = meta.get_binding_registry().get("httpTrigger")
        return converter.decode(datum, trigger_metadata=None)


def response_parts(result: Any) -> tuple[int, list[tuple[str, str]], bytes]:
    """A function's return value -> (status, headers, body), via the worker's converter."""
    if result is None:
        return 204, [], b""
    converter = meta.get_binding_registry().get("http")
    datum = converter.encode(result, expected_type=None)
    if datum.type == "string":
        return 200, [("Content-Type", "text/plain; charset=utf-8")], datum.value.encode("utf-8")
    value = datum.value
    headers = [
        (name, header.value)
        for name, header in value["headers"].items()
        if name.lower() not in _HOP_BY_HOP
    ]
    for cookie in value.get("cookies") or []:
        for morsel in cookie.values():
            headers.append(("Set-Cookie", morsel.OutputString()))
    body = value["body"].value or b""
    return int(value["status_code"].value), headers, bytes(body)
