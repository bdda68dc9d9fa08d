"""Blob path patterns, matched and filled in the way the WebJobs storage extension does.

A trigger path is ``container`` or ``container/blob-pattern``. The container is
a literal (no ``{...}``). Every ``{param}`` in the blob pattern becomes the
greedy capture ``(.*)`` anchored at both ends, so a parameter may contain
slashes, and where several could, the first one takes as much as it can:
``uploads/{customer}/{name}`` on ``uploads/c1/sub/x.png`` gives
customer=``c1/sub``, name=``x.png`` (exactly the real host's regex). ``{{`` and
``}}`` are literal braces, ``%Setting%`` is replaced by an app setting first.
"""

from __future__ import annotations

import os
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any


class BlobPathError(ValueError):
    """A path the host would refuse at startup."""


def resolve_settings(text: str, env: dict[str, str] | None = None) -> str:
    """Replace ``%Name%`` app-setting expressions (``%%`` is not special in the host)."""
    source = os.environ if env is None else env

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in source:
            raise BlobPathError(f"app setting {name!r} used in {text!r} is not set")
        return source[name]

    return re.sub(r"%([^%{}]+)%", value, text)


def _tokens(pattern: str) -> list[tuple[str, str]]:
    """-> [("literal", text) | ("param", name)]."""
    out: list[tuple[str, str]] = []
    i, literal = 0, []
    while i < len(pattern):
        pair = pattern[i : i + 2]
        if pair in ("{{", "}}"):
            literal.append(pair[0])
            i += 2
            continue
        char = pattern[i]
        if char == "{":
            end = pattern.find("}", i)
            if end < 0:
                raise BlobPathError(f"unclosed '{{' in {pattern!r}")
            name = pattern[i + 1 : end].strip()
            if not re.fullmatch(r"[A-Za-z_][\w-]*(\.[\w-]+)*", name):
                raise BlobPathError(f"the parameter name {name!r} is invalid")
            if literal:
                out.append(("literal", "".join(literal)))
                literal = []
            out.append(("param", name))
            i = end + 1
            continue
        if char == "}":
            raise BlobPathError(f"unmatched '}}' in {pattern!r}")
        literal.append(char)
        i += 1
    if literal:
        out.append(("literal", "".join(literal)))
    return out


@dataclass(frozen=True)
class BlobPathPattern:
    """A blob trigger path such as ``uploads/{customer}/{name}``."""

    container: str
    blob_pattern: str
    regex: re.Pattern[str] | None
    parameters: tuple[str, ...]
    groups: tuple[tuple[str, str], ...] = ()  # (regex group, parameter name)

    @classmethod
    def parse(cls, path: str) -> BlobPathPattern:
        path = resolve_settings(path)
        container, slash, blob_pattern = path.partition("/")
        if not container or (slash and not blob_pattern) or "\\" in container:
            raise BlobPathError(f"invalid blob trigger path {path!r}: use 'container/blob'")
        if "{" in container or "}" in container:
            raise BlobPathError(f"invalid blob trigger path {path!r}: a container is a literal")
        if not blob_pattern:
            return cls(container, "", None, ())
        tokens = _tokens(path)
        names = [value for kind, value in tokens if kind == "param"]
        if len({n.lower() for n in names}) != len(names):
            raise BlobPathError(f"a parameter is repeated in {path!r}")
        groups, pieces = {}, []
        for kind, value in tokens:
            if kind == "literal":
                pieces.append(re.escape(value))
            else:
                groups[f"g{len(groups)}"] = value
                pieces.append(f"(?P<g{len(groups) - 1}>.*)")
        regex = re.compile("^" + "".join(pieces) + "$", re.S)
        return cls(container, blob_pattern, regex, tuple(names), tuple(groups.items()))

    @property
    def literal_prefix(self) -> str:
        """The blob-name prefix before the first parameter (used to narrow listings)."""
        if not self.blob_pattern:
            return ""
        tokens = _tokens(self.blob_pattern)
        return tokens[0][1] if tokens and tokens[0][0] == "literal" else ""

    def match(self, container: str, blob_name: str) -> dict[str, str] | None:
        """Binding data for a blob, or None when it is not this trigger's."""
        if container.lower() != self.container.lower():
            return None
        if self.regex is None:
            return {}
        found = self.regex.match(f"{self.container}/{blob_name}")
        if not found:
            return None
        return {name: found.group(group) for group, name in self.groups}


def fill(template: str, binding_data: dict[str, Any]) -> str:
    """An output/input binding path with ``{param}``, ``{rand-guid}``, ``{DateTime}`` filled in."""
    template = resolve_settings(template)
    lookup = {k.lower(): v for k, v in binding_data.items()}
    out = []
    for kind, value in _tokens(template):
        if kind == "literal":
            out.append(value)
            continue
        key = value.lower()
        found = _dotted(lookup, key)
        if found is not None:
            out.append(str(found))
        elif key == "rand-guid":
            out.append(str(uuid.uuid4()))
        elif key == "datetime":
            out.append(datetime.now(UTC).strftime("%Y-%m-%dT%H-%M-%SZ"))
        else:
            raise BlobPathError(f"no value for named parameter {value!r} in {template!r}")
    return "".join(out)


def _dotted(lookup: dict[str, Any], key: str) -> Any:
    """``key`` in the binding data; ``a.b`` walks into a JSON object, as the host's templates do."""
    if key in lookup:
        return lookup[key]
    head, dot, rest = key.partition(".")
    value = lookup.get(head) if dot else None
    if isinstance(value, dict):
        return _dotted({k.lower(): v for k, v in value.items()}, rest)
    return None


def blob_path(path: str) -> tuple[str, str]:
    """``container/blob``, or an absolute blob URL (``{data.url}``), -> (container, blob)."""
    if "://" in path:
        from azure.storage.blob import BlobClient

        client = BlobClient.from_blob_url(path)
        return client.container_name, client.blob_name
    container, _, name = path.partition("/")
    if not container or not name:
        raise BlobPathError(f"{path!r} is not container/blob or a blob URL")
    return container, name
