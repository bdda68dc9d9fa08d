"""Check real HTTP responses against the OpenAPI document kept in shared/api/openapi.json."""

from __future__ import annotations

import re
from functools import cache
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker

from shared.api.contract import openapi


def _resolve(node: Any, doc: dict[str, Any]) -> Any:
    """The schema with every local $ref inlined (the document has no recursive refs)."""
    if isinstance(node, dict):
        if "$ref" in node:
            target: Any = doc
            for part in node["$ref"].removeprefix("#/").split("/"):
                target = target[part]
            return _resolve(target, doc)
        return {k: _resolve(v, doc) for k, v in node.items()}
    if isinstance(node, list):
        return [_resolve(v, doc) for v in node]
    return node


@cache
def _routes() -> list[tuple[re.Pattern[str], str]]:
    doc = openapi()
    routes = []
    for template in doc["paths"]:
        pattern = re.sub(r"\{[^/]+\}", "[^/]+", template)
        routes.append((re.compile(f"^/api{pattern}$"), template))
    return routes


def operation(method: str, path: str) -> dict[str, Any]:
    """The OpenAPI operation for a concrete request path such as /api/galleries/x."""
    doc = openapi()
    for pattern, template in _routes():
        if pattern.match(path):
            ops = doc["paths"][template]
            if method.lower() in ops:
                return ops[method.lower()]
    raise AssertionError(f"{method} {path} is not in the OpenAPI document")


def check(method: str, path: str, status: int, body: Any) -> None:
    """The status is documented for the operation and the body matches its schema."""
    op = operation(method, path)
    documented = op["responses"].get(str(status))
    assert documented is not None, f"{method} {path}: status {status} is not documented"
    content = documented.get("content")
    if content is None:
        assert body in (None, b"", ""), f"{method} {path} {status}: undocumented body {body!r}"
        return
    schema = _resolve(content["application/json"]["schema"], openapi())
    errors = sorted(
        Draft202012Validator(schema, format_checker=FormatChecker()).iter_errors(body),
        key=lambda e: list(e.path),
    )
    assert not errors, f"{method} {path} {status}: " + "; ".join(
        f"{list(e.path)}: {e.message}" for e in errors[:5]
    )
