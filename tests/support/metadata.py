"""The app's own function metadata, read once (get_functions() works once per app)."""

from __future__ import annotations

import json
from functools import cache
from typing import Any


@cache
def functions() -> dict[str, dict[str, Any]]:
    """Function name -> its trigger binding (type, route, methods, path, ...)."""
    import function_app
    from tools.devhost.functions import app_functions  # the one cache of get_functions()

    out = {}
    for function in app_functions(function_app.app):
        bindings = json.loads(function.get_function_json())["bindings"]
        trigger = next(b for b in bindings if b["type"].endswith("Trigger"))
        out[function.get_function_name()] = trigger
    return out


def http_routes() -> dict[str, tuple[str, tuple[str, ...]]]:
    """HTTP function name -> (route, methods)."""
    return {
        name: (trigger["route"], tuple(m.upper() for m in trigger.get("methods") or ()))
        for name, trigger in functions().items()
        if trigger["type"] == "httpTrigger"
    }


CONSOLE_PREFIX = "console"  # the operators' console (functions/console.py): no customer route


def customer_api_routes() -> dict[str, tuple[str, tuple[str, ...]]]:
    """The customer API's HTTP functions: every route but the operators' console."""
    return {
        name: value
        for name, value in http_routes().items()
        if value[0].split("/")[0] != CONSOLE_PREFIX
    }


def console_routes() -> dict[str, tuple[str, tuple[str, ...]]]:
    """The operators' console's HTTP functions (tests/console checks a key never opens them)."""
    return {
        name: value
        for name, value in http_routes().items()
        if value[0].split("/")[0] == CONSOLE_PREFIX
    }
