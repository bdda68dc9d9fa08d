"""Customer records and request contexts are validated with clear BadArgument errors."""

from __future__ import annotations

import pytest

from shared.errors import BadArgument
from shared.policy import UNKNOWN_CAPTURE, context_from, model
from shared.policy.countries import ISO_3166_ALPHA2
from tests.policy.helpers import BASE, make_customer


def test_a_valid_record_is_normalised():
    customer = model.Customer.create(
        id="city-clinic",
        name="  City Clinic  ",
        sector="HEALTHCARE",
        country="de",
        actions="verify, detect,verify",
        purposes="Patient-Check-In",
        sensitive_use="yes",
        default_features="age,detect",
    )
    assert customer.name == "City Clinic"
    assert customer.sector == "healthcare"
    assert customer.country == "DE"
    assert customer.actions == ("detect", "verify")
    assert customer.purposes == ("patient-check-in",)
    assert customer.sensitive_use is True
    assert customer.default_features == ("detect", "age")
    assert (customer.status, customer.review_state, customer.retention) == (
        "pending",
        "none",
        "delete",
    )
    assert customer.created_at == customer.updated_at
    assert customer.created_at.endswith("Z")
    assert not customer.active and not customer.keeps_uploads


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("id", "Acme", "customer id"),
        ("id", "a/b", "customer id"),
        ("id", "a:b", "customer id"),
        ("id", "", "required"),
        ("name", "x" * 201, "name"),
        ("name", "bad\nname", "name"),
        ("sector", "police", "sector must be one of"),
        ("country", "XX", "ISO 3166-1"),
        ("country", "USA", "ISO 3166-1"),
        ("country", "UK", "did you mean GB"),
        ("status", "deleted", "status"),
        ("review_state", "done", "review state"),
        ("sensitive_use", "maybe", "sensitive use"),
        ("actions", "detect,recognise", "unknown recognise"),
        ("actions", 5, "list"),
        ("purposes", "fine,Not Fine!", "purpose"),
        ("purposes", ",".join(f"p{i}" for i in range(21)), "at most 20"),
        ("retention", "forever", "retention"),
        ("default_features", "detect,enroll", "default features: unknown enroll"),
    ],
)
def test_invalid_fields_are_named(field, value, message):
    with pytest.raises(BadArgument) as raised:
        model.Customer.create(**{**BASE, field: value})
    assert message in raised.value.message


def test_changes_are_validated_and_restricted_to_editable_fields():
    customer = make_customer()
    changed = customer.changed(status="suspended", actions=["detect"])
    assert (changed.status, changed.actions) == ("suspended", ("detect",))
    assert changed.created_at == customer.created_at
    with pytest.raises(BadArgument, match="cannot change id"):
        customer.changed(id="other")
    with pytest.raises(BadArgument, match="country"):
        customer.changed(country="ZZ")


def test_the_country_list_is_iso_3166_alpha2():
    assert len(ISO_3166_ALPHA2) == 249
    assert {"US", "GB", "FR", "DE", "CN", "IN", "BR", "ZA", "SS", "XK"} - ISO_3166_ALPHA2 == {
        "XK"  # Kosovo's user-assigned code is not part of the standard
    }


@pytest.mark.parametrize("value", [None, "", "   "])
def test_an_absent_capture_context_is_unknown(value):
    assert context_from(value).capture == UNKNOWN_CAPTURE


@pytest.mark.parametrize("value", ["photo", "Realtime", " body-camera ", "VEHICLE-CAMERA"])
def test_capture_contexts_are_case_insensitive(value):
    assert context_from(value).capture == value.strip().lower()


@pytest.mark.parametrize("value", ["video", "body_camera", "unknown", "photo,realtime", "x" * 500])
def test_an_invalid_capture_context_is_a_bad_argument(value):
    with pytest.raises(BadArgument, match="capture context must be one of"):
        context_from(value)


def test_context_flags_channel_purpose_and_request_id():
    law = {"FACEGATE_US_FEDERAL_FACE_LAW_IN_FORCE": "true"}
    on = context_from("photo", "blob", "Research", "req-1", env=law)
    assert (on.channel, on.purpose, on.request_id) == ("blob", "research", "req-1")
    assert on.us_federal_face_law_in_force is True
    assert on.cedar() == {
        "capture": "photo",
        "channel": "blob",
        "purpose": "research",
        "usFederalFaceLawInForce": True,
    }
    off = context_from(env={})
    assert off.us_federal_face_law_in_force is False
    assert "purpose" not in off.cedar()
    assert len(off.request_id) == 36
    with pytest.raises(BadArgument, match="channel"):
        context_from(channel="ftp")
    with pytest.raises(BadArgument, match="purpose"):
        context_from(purpose="two words")
    with pytest.raises(BadArgument, match="request id"):
        context_from(request_id="a b")
