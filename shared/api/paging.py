"""Paging of lists as Azure Face does it: ``start`` (list ids after this one) and ``top``."""

from __future__ import annotations

import re
from dataclasses import dataclass

from shared.errors import BadArgument

MAX_TOP = 1000
_START = re.compile(r"^[A-Za-z0-9_-]{0,64}$")  # gallery ids and UUIDs; nothing else sorts in
_TOP = re.compile(r"^0*([1-9][0-9]{0,3})$")


@dataclass(frozen=True)
class Page:
    start: str = ""  # exclusive: ids that sort after it
    top: int = MAX_TOP


FIRST_PAGE = Page()


def page_from(start: str | None, top: str | None) -> Page:
    """Validate the query parameters; absent means the first page of at most 1000."""
    start = start or ""
    if not _START.fullmatch(start):
        raise BadArgument("start must be at most 64 letters, digits, '-' or '_' (an id).")
    if top is None or top == "":
        return Page(start, MAX_TOP)
    match = _TOP.fullmatch(top)
    if match is None or int(match.group(1)) > MAX_TOP:
        raise BadArgument(f"top must be an integer from 1 to {MAX_TOP}.")
    return Page(start, int(match.group(1)))
