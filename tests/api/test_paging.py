"""`start` and `top` of the list routes (Azure Face's paging): bounds and refusals."""

from __future__ import annotations

import pytest

from shared.api.paging import MAX_TOP, Page, page_from
from shared.errors import BadArgument


@pytest.mark.parametrize(
    ("start", "top", "page"),
    [
        (None, None, Page("", MAX_TOP)),
        ("", "", Page("", MAX_TOP)),
        ("crew", "1", Page("crew", 1)),
        (
            "0b7c1a5e-3f7e-4c0e-9a51-2f1d7d4c1e2a",
            "1000",
            Page("0b7c1a5e-3f7e-4c0e-9a51-2f1d7d4c1e2a", 1000),
        ),
        ("a" * 64, "007", Page("a" * 64, 7)),
    ],
)
def test_valid_pages(start, top, page):
    assert page_from(start, top) == page


@pytest.mark.parametrize(
    ("start", "top"),
    [
        (None, "0"),
        (None, "1001"),
        (None, "-1"),
        (None, "²"),
        (None, "１０"),
        (None, "9" * 5000),
        (None, " 5"),
        ("a" * 65, None),
        ("crew'; or 1 eq 1", None),
        ("x:y", None),
        ("\x00", None),
    ],
)
def test_invalid_pages_are_bad_arguments(start, top):
    with pytest.raises(BadArgument):
        page_from(start, top)
