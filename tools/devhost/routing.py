"""HTTP route templates: the part of ASP.NET Core routing that FaceGate's functions use.

Supported: literal segments (matched ignoring case) and whole-segment parameters
``{name}`` (a value is one non-empty path segment, percent-decoded). Anything else the
host would accept -- inline constraints (``{id:int}``), optional ``{name?}``, defaults,
catch-all ``{*rest}``, complex segments such as ``{file}.{ext}`` -- is refused at
indexing with a RouteError, so the function is reported "not started" instead of
being routed differently from Azure. Literal segments win over parameters, as in
ASP.NET's precedence.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Generic, TypeVar
from urllib.parse import unquote

T = TypeVar("T")
_PARAM = re.compile(r"\{([A-Za-z_][\w.-]*)\}")


class RouteError(ValueError):
    """A route template the dev host does not support (or the host would refuse)."""


@dataclass
class Route(Generic[T]):
    """A compiled route template bound to a target (the function) and its methods."""

    template: str
    target: T
    methods: frozenset[str] | None  # None: every method
    segments: tuple[str | None, ...]  # a lowercased literal, or None for a parameter
    names: tuple[str, ...]  # parameter names, in order

    @property
    def precedence(self) -> tuple[int, ...]:
        return tuple(1 if s is not None else 4 for s in self.segments)

    def match(self, path: str) -> dict[str, str] | None:
        parts = path.strip("/").split("/") if path.strip("/") else []
        if len(parts) != len(self.segments):
            return None
        values: list[str] = []
        for part, literal in zip(parts, self.segments, strict=True):
            if literal is None:
                if not part:
                    return None
                values.append(unquote(part))
            elif part.lower() != literal:
                return None
        return dict(zip(self.names, values, strict=True))

    def allows(self, method: str) -> bool:
        return self.methods is None or method.upper() in self.methods


def compile_route(template: str, target: T, methods: Iterable[str] | None = None) -> Route[T]:
    """Compile one route template (without the ``api/`` prefix)."""
    segments: list[str | None] = []
    names: list[str] = []
    for segment in template.strip("/").split("/") if template.strip("/") else []:
        found = _PARAM.fullmatch(segment)
        if found:
            name = found.group(1)
            if name.lower() in (n.lower() for n in names):
                raise RouteError(f"repeated route parameter {name!r} in {template!r}")
            names.append(name)
            segments.append(None)
        elif not segment or "{" in segment or "}" in segment:
            raise RouteError(
                f"route {template!r}: only literal segments and plain {{name}} parameters are "
                "supported by the dev host (no constraints, optional, default or catch-all "
                "parameters)"
            )
        else:
            segments.append(segment.lower())
    allowed = frozenset(m.upper() for m in methods) if methods else None
    return Route(template, target, allowed, tuple(segments), tuple(names))


class RouteTable(Generic[T]):
    """All HTTP routes, matched in ASP.NET precedence order (literals before parameters)."""

    def __init__(self) -> None:
        self._routes: list[Route[T]] = []

    def add(self, route: Route[T]) -> None:
        self._routes.append(route)
        self._routes.sort(key=lambda r: (r.precedence, -len(r.template)))

    def __iter__(self):
        return iter(self._routes)

    def resolve(self, path: str, method: str) -> tuple[Route[T] | None, dict[str, str], set[str]]:
        """(route, route params, allowed methods of matching routes if none allows ``method``)."""
        allowed: set[str] = set()
        for route in self._routes:
            values = route.match(path)
            if values is None:
                continue
            if route.allows(method):
                return route, values, set()
            allowed |= set(route.methods or ())
        return None, {}, allowed
