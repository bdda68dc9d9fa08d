"""The OpenAPI document of the HTTP API, kept in the repo beside the code that serves it."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

OPENAPI_PATH = Path(__file__).with_name("openapi.json")


@cache
def openapi_text() -> str:
    return OPENAPI_PATH.read_text()


def openapi() -> dict[str, Any]:
    return json.loads(openapi_text())
