"""Read the Bicep under infra/ for the infra tests: pycep trees plus a few source facts.

pycep turns both string literals and identifiers into plain Python strings, so where
a test must tell ``'managedidentity'`` (a literal) from ``identityClientId`` (a
parameter) it reads the expression's source text with ``setting_sources``.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tools.infra import bicep_grammar

REPO = bicep_grammar.REPO
INFRA = bicep_grammar.INFRA
MAIN = INFRA / "main.bicep"
MODULES = INFRA / "modules"


@functools.cache
def tree(path: Path) -> dict[str, Any]:
    """The pycep tree of a file (parsed once per test session)."""
    return bicep_grammar.parse(path)


def module(name: str) -> dict[str, Any]:
    return tree(MODULES / f"{name}.bicep")


def main() -> dict[str, Any]:
    return tree(MAIN)


def strings(node: Any) -> Iterator[str]:
    """Every string anywhere in a subtree (identifiers and literals alike)."""
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for key, value in node.items():
            yield key
            yield from strings(value)
    elif isinstance(node, list):
        for item in node:
            yield from strings(item)


def variable(tree_: dict[str, Any], name: str) -> Any:
    return tree_["variables"][name]["value"]


def module_call(name: str) -> dict[str, Any]:
    """The ``module <name> '...' = {...}`` block of main.bicep, by symbolic name."""
    return main()["modules"][name]


def module_params(name: str) -> dict[str, Any]:
    return module_call(name)["config"]["params"]


def param_default(tree_: dict[str, Any], name: str) -> Any:
    return tree_["parameters"][name]["default"]


_SETTING = re.compile(r"\{\s*name:\s*'(?P<name>[^']+)'\s*\n\s*value:\s*(?P<value>[^\n]+)\n\s*\}")


def setting_sources() -> dict[str, str]:
    """App setting name -> the source text of its value, from function-app.bicep."""
    text = (MODULES / "function-app.bicep").read_text(encoding="utf-8")
    start = text.index("var appSettings = [")
    end = text.index("\n]\n", start)
    return {m["name"]: m["value"] for m in _SETTING.finditer(text[start:end])}


def literal(source: str) -> str | None:
    """The value of a plain string literal (``'x'`` -> ``x``), else None."""
    match = re.fullmatch(r"'([^'$]*)'", source.strip())
    return match[1] if match else None


def identifiers(source: str) -> set[str]:
    """Identifiers used in an expression, string literals removed."""
    without_strings = re.sub(r"'[^']*'", "", source)
    return set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", without_strings))


def parameters_file() -> dict[str, Any]:
    data = json.loads((INFRA / "main.parameters.json").read_text(encoding="utf-8"))
    return data["parameters"]


_AZD_VAR = re.compile(r"^\$\{(?P<var>[A-Z0-9_]+)(?:=(?P<default>[^}]*))?\}$")


def azd_substitution(value: str) -> tuple[str, str | None] | None:
    """``${VAR=default}`` -> (VAR, default); ``${VAR}`` -> (VAR, None); else None."""
    match = _AZD_VAR.match(value)
    return (match["var"], match["default"]) if match else None
