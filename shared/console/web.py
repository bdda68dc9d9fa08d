"""What the console's HTTP layer serves and how: static files, security headers, the cookie.

The page is plain HTML, CSS and JavaScript in ``static/`` (no CDN, no build
step). Only the files named in ``ASSETS`` are served. The Content-Security-
Policy allows scripts, styles and requests from the app itself only: no inline
script or style, no frames, no other origin.
"""

from __future__ import annotations

from pathlib import Path

STATIC = Path(__file__).resolve().parent / "static"
ASSETS: dict[str, str] = {
    "console.js": "text/javascript; charset=utf-8",
    "console.css": "text/css; charset=utf-8",
    "favicon.svg": "image/svg+xml",
}
PAGE = "index.html"
COOKIE = "fg_console"
COOKIE_PATH = "/api/console"
CSRF_HEADER = "X-CSRF-Token"

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
SECURITY_HEADERS: dict[str, str] = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Cache-Control": "no-store",
}


def page() -> bytes:
    return (STATIC / PAGE).read_bytes()


def asset(name: str) -> tuple[bytes, str] | None:
    """(bytes, content type) of a listed asset, or None (never a path from the request)."""
    content_type = ASSETS.get(name)
    if content_type is None:
        return None
    return (STATIC / name).read_bytes(), content_type


def session_cookie(token: str, secure: bool, max_age: int) -> str:
    """The Set-Cookie value: HttpOnly, SameSite=Strict, scoped to the console's path."""
    parts = [
        f"{COOKIE}={token}",
        f"Path={COOKIE_PATH}",
        f"Max-Age={max_age}",
        "HttpOnly",
        "SameSite=Strict",
    ]
    if secure:
        parts.append("Secure")
    return "; ".join(parts)


def cookie_value(header: str | None) -> str | None:
    """Our session token from a Cookie header, if there is one."""
    for part in (header or "").split(";"):
        name, _, value = part.strip().partition("=")
        if name == COOKIE and value:
            return value
    return None
