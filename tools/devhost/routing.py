"""HTTP route templates as the Functions host (ASP.NET Core routing) reads them.

Supported: literal segments (case-insensitive), ``{name}``, optional ``{name?}``,
defaults ``{name=value}``, catch-all ``{*rest}`` / ``{**rest}``, complex segments
such as ``{file}.{ext}``, and the inline constraints int, long, bool, guid,
alpha, double, float, decimal, datetime, min, max, range, minlength,
maxlength, length, regex and required.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Generic, TypeVar
from urllib.parse import unquote

T = TypeVar("T")

_INT32 = (-(2**31), 2**31 - 1)
_INT64 = (-(2**63), 2**63 - 1)


class RouteError(ValueError):
    """A route template the host would refuse."""


def _as_int(value: str, bounds: tuple[int, int]) -> int | None:
    if not re.fullmatch(r"[+-]?\d+", value):
        return None
    number = int(value)
    return number if bounds[0] <= number <= bounds[1] else None


def _is_float(value: str) -> bool:
    try:
        float(value)
    except ValueError:
        return False
    return value.strip().lower() not in {"nan", "inf", "-inf", "+inf", "infinity"}


def _is_decimal(value: str) -> bool:
    try:
        Decimal(value)
    except InvalidOperation:
        return False
    return _is_float(value)


def _is_datetime(value: str) -> bool:
    try:
        datetime.fromisoformat(value)
    except ValueError:
        return False
    return True


def _is_guid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def _constraint(text: str) -> Callable[[str], bool]:
    """One inline constraint such as ``int`` or ``range(1,10)`` -> a predicate."""
    match = re.fullmatch(r"(\w+)(?:\((.*)\))?", text, re.S)
    if not match:
        raise RouteError(f"bad route constraint {text!r}")
    name, arg = match.group(1).lower(), match.group(2)
    args = [a.strip() for a in arg.split(",")] if arg is not None and name != "regex" else []
    simple: dict[str, Callable[[str], bool]] = {
        "int": lambda v: _as_int(v, _INT32) is not None,
        "long": lambda v: _as_int(v, _INT64) is not None,
        "bool": lambda v: v.lower() in {"true", "false"},
        "guid": _is_guid,
        "alpha": lambda v: re.fullmatch(r"[A-Za-z]+", v) is not None,
        "double": _is_float,
        "float": _is_float,
        "decimal": _is_decimal,
        "datetime": _is_datetime,
        "required": lambda v: v != "",
    }
    if name in simple and arg is None:
        return simple[name]
    try:
        if name == "min":
            low = int(args[0])
            return lambda v: (n := _as_int(v, _INT64)) is not None and n >= low
        if name == "max":
            high = int(args[0])
            return lambda v: (n := _as_int(v, _INT64)) is not None and n <= high
        if name == "range":
            low, high = int(args[0]), int(args[1])
            return lambda v: (n := _as_int(v, _INT64)) is not None and low <= n <= high
        if name == "minlength":
            low = int(args[0])
            return lambda v: len(v) >= low
        if name == "maxlength":
            high = int(args[0])
            return lambda v: len(v) <= high
        if name == "length":
            if len(args) == 1:
                exact = int(args[0])
                return lambda v: len(v) == exact
            low, high = int(args[0]), int(args[1])
            return lambda v: low <= len(v) <= high
        if name == "regex" and arg is not None:
            pattern = re.compile(arg, re.IGNORECASE)  # ASP.NET: case-insensitive, not anchored
            return lambda v: pattern.search(v) is not None
    except (IndexError, ValueError, re.error) as exc:
        raise RouteError(f"bad route constraint {text!r}: {exc}") from exc
    raise RouteError(f"unknown route constraint {text!r}")


def _split_constraints(body: str) -> list[str]:
    """``id:int:range(1,5)`` -> [``id``, ``int``, ``range(1,5)``] (colons in parens kept)."""
    parts, depth, current = [], 0, []
    for char in body:
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        if char == ":" and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return parts


@dataclass
class _Param:
    name: str
    group: str
    optional: bool = False
    default: str | None = None
    catch_all: bool = False
    checks: list[Callable[[str], bool]] = field(default_factory=list)


def _tokens(segment: str) -> list[str | tuple[str]]:
    """A segment -> literal strings and ``(parameter body,)`` tuples."""
    out: list[str | tuple[str]] = []
    literal, i = [], 0
    while i < len(segment):
        pair = segment[i : i + 2]
        if pair in ("{{", "}}"):
            literal.append(pair[0])
            i += 2
        elif segment[i] == "{":
            end = segment.find("}", i)
            if end < 0:
                raise RouteError(f"unclosed '{{' in route segment {segment!r}")
            if literal:
                out.append("".join(literal))
                literal = []
            out.append((segment[i + 1 : end],))
            i = end + 1
        elif segment[i] == "}":
            raise RouteError(f"unmatched '}}' in route segment {segment!r}")
        else:
            literal.append(segment[i])
            i += 1
    if literal:
        out.append("".join(literal))
    return out


@dataclass
class Route(Generic[T]):
    """A compiled route template bound to a target (the function) and its methods."""

    template: str
    target: T
    methods: frozenset[str] | None  # None: every method
    regex: re.Pattern[str]
    params: list[_Param]
    precedence: tuple[int, ...]

    def match(self, path: str) -> dict[str, str] | None:
        found = self.regex.fullmatch(path)
        if not found:
            return None
        values: dict[str, str] = {}
        for param in self.params:
            raw = found.group(param.group)
            if raw is None or raw == "":
                if param.default is not None:
                    values[param.name] = param.default
                elif not (param.optional or param.catch_all):
                    return None
                continue
            value = unquote(raw)
            if not all(check(value) for check in param.checks):
                return None
            values[param.name] = value
        return values

    def allows(self, method: str) -> bool:
        return self.methods is None or method.upper() in self.methods


def compile_route(template: str, target: T, methods: Iterable[str] | None = None) -> Route[T]:
    """Compile one route template (without the ``api/`` prefix)."""
    segments = [s for s in template.strip("/").split("/")] if template.strip("/") else []
    params: list[_Param] = []
    names: set[str] = set()
    pattern: list[str] = []
    precedence: list[int] = []
    for index, segment in enumerate(segments):
        if segment == "":
            raise RouteError(f"empty segment in route {template!r}")
        tokens = _tokens(segment)
        last = index == len(segments) - 1
        piece: list[str] = []
        segment_params = [t for t in tokens if isinstance(t, tuple)]
        optional_segment = False
        for token in tokens:
            if isinstance(token, str):
                piece.append(re.escape(token))
                continue
            body = token[0]
            catch_all = body.startswith("*")
            body = body.lstrip("*")
            default = None
            if "=" in body:
                body, default = body.split("=", 1)
            optional = body.endswith("?")
            body = body.rstrip("?")
            name, *constraints = _split_constraints(body)
            if not re.fullmatch(r"[A-Za-z_][\w.-]*", name) or name.lower() in names:
                raise RouteError(f"bad or repeated route parameter {name!r} in {template!r}")
            names.add(name.lower())
            if (
                (catch_all or optional or default is not None)
                and not (last and len(segment_params) == 1)
                and (catch_all or not last)
            ):
                raise RouteError(
                    f"optional and catch-all parameters must end the route: {template!r}"
                )
            param = _Param(name, f"p{len(params)}", optional, default, catch_all)
            param.checks = [_constraint(c) for c in constraints if c]
            params.append(param)
            if catch_all:
                piece.append(f"(?P<{param.group}>.*)")
            else:
                # greedy: in ``{file}.{ext}`` the last dot splits, as ASP.NET does
                piece.append(f"(?P<{param.group}>[^/]+)")
            optional_segment = len(tokens) == 1 and (catch_all or optional or default is not None)
        joined = "".join(piece)
        if optional_segment:
            pattern.append(f"(?:/{joined})?" if index else f"(?:{joined})?")
        else:
            pattern.append(f"/{joined}" if index else joined)
        if not segment_params:
            precedence.append(1)
        elif any(p.catch_all for p in params[-len(segment_params) :]):
            precedence.append(5)
        elif len(tokens) > 1:
            precedence.append(2)
        elif params[-1].checks:
            precedence.append(3)
        else:
            precedence.append(4)
    regex = re.compile("".join(pattern), re.IGNORECASE | re.S)
    allowed = frozenset(m.upper() for m in methods) if methods else None
    return Route(template, target, allowed, regex, params, tuple(precedence))


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
