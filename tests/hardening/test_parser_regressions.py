"""Inputs the fuzzers found that escaped the parsers as unhandled exceptions (a 500).

Each stays here as a plain example so it can never come back unnoticed.
"""

from __future__ import annotations

import pytest

from shared.api import requests as api
from shared.errors import BadArgument, PayloadTooLarge

# str.isdigit() is true for these, but int() refuses them (or refuses >4300 digits)
NOT_ASCII_DIGITS = ["²", "³", "¹⁰", "9" * 5000]


@pytest.mark.parametrize("value", NOT_ASCII_DIGITS)
def test_max_faces_that_only_looks_like_a_number_is_a_bad_argument(value: str) -> None:
    with pytest.raises(BadArgument, match="maxFaces"):
        api.parse_detect_options({"maxFaces": value})


def test_max_faces_in_other_scripts_is_a_bad_argument() -> None:
    for value in ("٣", "１０", "৫"):  # int() would accept these: refuse them all the same
        with pytest.raises(BadArgument, match="maxFaces"):
            api.parse_detect_options({"maxFaces": value})
    assert api.parse_detect_options({"maxFaces": "7"}).max_faces == 7
    assert api.parse_detect_options({"maxFaces": "0" * 5000 + "100"}).max_faces == 100


@pytest.mark.parametrize("value", ["²", "³", "¹⁰", "٣", "１０"])
def test_a_content_length_that_only_looks_like_a_number_is_ignored(value: str) -> None:
    """The body itself is then measured; the header never raises anything else."""
    assert api.bound_image(b"abc", value) == b"abc"
    assert api.parse_json_body(b'{"a": 1}', value) == {"a": 1}


def test_a_huge_content_length_is_still_too_large() -> None:
    for value in ("9" * 40, "9" * 5000, "0" * 5000 + "7" * 9):  # past int()'s 4300 digits
        with pytest.raises(PayloadTooLarge):
            api.bound_image(b"abc", value)
    assert api.bound_image(b"abc", "0" * 5000 + "3") == b"abc"
    with pytest.raises(PayloadTooLarge):
        api.parse_json_body(b"{}", str(api.MAX_JSON_BYTES + 1))


def test_an_error_never_echoes_more_than_a_little_of_the_callers_input() -> None:
    """X-Purpose (up to the header limit) used to come back whole in the 400 body."""
    from shared.policy import context_from

    with pytest.raises(BadArgument) as raised:
        context_from(purpose="9" * 5000)
    assert len(raised.value.message) < 300
    with pytest.raises(BadArgument) as raised:
        context_from(capture="drone" * 1000)
    assert len(raised.value.message) < 300
