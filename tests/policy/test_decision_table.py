"""Table-driven decisions: every policy, and the cases just beside each rule.

Each row: who asks (overrides of a commercial French customer approved for
everything with a declared purpose), what, in which context, and the exact
outcome and deciding policy ids. Evaluated with the real Cedar files; no storage.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from shared.policy import engine
from shared.policy.decisions import evaluate_all
from tests.policy.helpers import make_context, make_customer

LE_US = {"sector": "law_enforcement", "country": "US"}
LE_FR = {"sector": "law_enforcement", "country": "FR"}
ALLOW = ("approved-action",)
NOT_ACTIVE = "customer-not-active"
NOT_APPROVED = "action-not-approved"
MORATORIUM = "us-law-enforcement-moratorium"
NO_LIVE = "law-enforcement-no-realtime-recognition"
NEEDS_PURPOSE = "attribute-inference-needs-purpose"
NO_EMOTION = "no-emotion-inference-at-work-or-school"
NEEDS_REVIEW = "sensitive-use-needs-review"
UNDECLARED = "purpose-not-declared"
TEMPLATE = "template-needs-recognition-approval"
STATED = "age-verification"  # the purpose make_customer declares, stated with a request


def case(name, who, action, capture=None, *, purpose=None, law=False, deny=(), allow=ALLOW):
    """One row: allowed by ``allow`` (``approved-action``) unless ``deny`` names the refusing
    policies."""
    return pytest.param(who, action, capture, purpose, law, not deny, deny or allow, id=name)


OWNER_ERASES = ("owner-may-erase",)


SUSPENDED = {"status": "suspended"}
REVIEW_PENDING = {"sensitive_use": True, "review_state": "pending"}

CASES = [
    # an ordinary commercial customer
    case("commercial detect, no capture", {}, "detect"),
    case("commercial emotion on a photo", {}, "emotion", "photo", purpose=STATED),
    case("commercial identify in realtime", {}, "identify", "realtime"),
    case("commercial verify, body camera", {}, "verify", "body-camera"),
    case("US commercial identify", {"country": "US"}, "identify", "photo"),
    # inactive customers: denied everything
    case("pending detect", {"status": "pending"}, "detect", "photo", deny=(NOT_ACTIVE,)),
    case("suspended detect", SUSPENDED, "detect", deny=(NOT_ACTIVE,)),
    case("suspended identify", SUSPENDED, "identify", "photo", deny=(NOT_ACTIVE,)),
    case(
        "suspended, not approved",
        {**SUSPENDED, "actions": "detect"},
        "verify",
        "photo",
        deny=(NOT_ACTIVE, NOT_APPROVED),
    ),
    # each action approved one by one, attributes included
    case("verify not approved", {"actions": "detect"}, "verify", "photo", deny=(NOT_APPROVED,)),
    case("enroll not approved", {"actions": "detect,identify"}, "enroll", deny=(NOT_APPROVED,)),
    case("age approved", {"actions": "detect,age"}, "age", "photo", purpose=STATED),
    case(
        "gender beside age",
        {"actions": "detect,age"},
        "gender",
        purpose=STATED,
        deny=(NOT_APPROVED,),
    ),
    case(
        "emotion beside age",
        {"actions": "detect,age"},
        "emotion",
        purpose=STATED,
        deny=(NOT_APPROVED,),
    ),
    case("nothing approved", {"actions": ""}, "detect", "photo", deny=(NOT_APPROVED,)),
    # a template (faceId) follows from verify or identify, never from enroll or detect alone
    case("template, verify only", {"actions": "detect,verify"}, "createTemplate", "photo"),
    case("template, identify only", {"actions": "detect,identify"}, "createTemplate"),
    case("template, detect only", {"actions": "detect"}, "createTemplate", deny=(TEMPLATE,)),
    case("template, enroll only", {"actions": "enroll"}, "createTemplate", deny=(TEMPLATE,)),
    case("template, suspended", SUSPENDED, "createTemplate", "photo", deny=(NOT_ACTIVE,)),
    case("template, US police", LE_US, "createTemplate", "photo", deny=(MORATORIUM,)),
    case("template, FR police photo", LE_FR, "createTemplate", "photo"),
    case("template, FR police realtime", LE_FR, "createTemplate", "realtime", deny=(NO_LIVE,)),
    case("template, under review", REVIEW_PENDING, "createTemplate", deny=(NEEDS_REVIEW,)),
    # attributes need a purpose stated with the request, and declared by the customer
    case("age, no purpose", {"purposes": ""}, "age", "photo", deny=(NEEDS_PURPOSE,)),
    case("gender, no purpose", {"purposes": ""}, "gender", "photo", deny=(NEEDS_PURPOSE,)),
    case("emotion, no purpose", {"purposes": ""}, "emotion", "photo", deny=(NEEDS_PURPOSE,)),
    # ... stated with the request: a purpose declared in the registry is not enough alone
    case("age, declared, none stated", {}, "age", "photo", deny=(NEEDS_PURPOSE,)),
    case("gender, declared, none stated", {}, "gender", deny=(NEEDS_PURPOSE,)),
    case("emotion, declared, none stated", {}, "emotion", deny=(NEEDS_PURPOSE,)),
    case("age, stated, none declared", {"purposes": ""}, "age", purpose=STATED, deny=(UNDECLARED,)),
    case("detect, no purpose", {"purposes": ""}, "detect"),
    case("identify, no purpose", {"purposes": ""}, "identify", "photo"),
    # a purpose stated with the request must be a declared one
    case("declared purpose", {}, "age", "photo", purpose="age-verification"),
    case("undeclared purpose", {}, "age", "photo", purpose="marketing", deny=(UNDECLARED,)),
    case("undeclared purpose, detect", {}, "detect", purpose="marketing", deny=(UNDECLARED,)),
    # US law enforcement: no recognition until a federal law; detection still allowed
    case("US police detect", LE_US, "detect", "photo"),
    case("US police detect, body camera", LE_US, "detect", "body-camera"),
    case("US police age", LE_US, "age", "photo", purpose=STATED),
    case("US police verify", LE_US, "verify", "photo", deny=(MORATORIUM,)),
    case("US police identify", LE_US, "identify", "photo", deny=(MORATORIUM,)),
    case("US police enroll", LE_US, "enroll", "photo", deny=(MORATORIUM,)),
    case("US police identify, federal law", LE_US, "identify", "photo", law=True),
    case("US police verify, federal law", LE_US, "verify", "photo", law=True),
    case(
        "US police body camera, federal law",
        LE_US,
        "identify",
        "body-camera",
        law=True,
        deny=(NO_LIVE,),
    ),
    case(
        "US police body camera, no law",
        LE_US,
        "identify",
        "body-camera",
        deny=(MORATORIUM, NO_LIVE),
    ),
    # law enforcement anywhere: recognition on still photos only; unknown is not a photo
    case("FR police verify photo", LE_FR, "verify", "photo"),
    case("FR police identify photo", LE_FR, "identify", "photo"),
    case("FR police verify, no capture", LE_FR, "verify", deny=(NO_LIVE,)),
    case("FR police identify realtime", LE_FR, "identify", "realtime", deny=(NO_LIVE,)),
    case("FR police identify body camera", LE_FR, "identify", "body-camera", deny=(NO_LIVE,)),
    case("FR police identify vehicle", LE_FR, "identify", "vehicle-camera", deny=(NO_LIVE,)),
    case("FR police enroll body camera", LE_FR, "enroll", "body-camera", deny=(NO_LIVE,)),
    case("FR police detect vehicle camera", LE_FR, "detect", "vehicle-camera"),
    case(
        "FR police verify not approved",
        {**LE_FR, "actions": "detect"},
        "verify",
        "photo",
        deny=(NOT_APPROVED,),
    ),
    case("government identify body camera", {"sector": "government"}, "identify", "body-camera"),
    # emotion refused at work and in education, and nothing else refused there
    case("workplace detect", {"sector": "workplace"}, "detect", "photo"),
    case("workplace age", {"sector": "workplace"}, "age", "photo", purpose=STATED),
    case(
        "workplace emotion", {"sector": "workplace"}, "emotion", purpose=STATED, deny=(NO_EMOTION,)
    ),
    case(
        "education emotion", {"sector": "education"}, "emotion", purpose=STATED, deny=(NO_EMOTION,)
    ),
    case("education gender", {"sector": "education"}, "gender", purpose=STATED),
    case("healthcare emotion", {"sector": "healthcare"}, "emotion", purpose=STATED),
    # sensitive use: recognition waits for an approved review
    case("sensitive, no review", {"sensitive_use": True}, "identify", deny=(NEEDS_REVIEW,)),
    case("sensitive, pending, verify", REVIEW_PENDING, "verify", "photo", deny=(NEEDS_REVIEW,)),
    case("sensitive, pending, enroll", REVIEW_PENDING, "enroll", "photo", deny=(NEEDS_REVIEW,)),
    case(
        "sensitive, review approved, identify",
        {"sensitive_use": True, "review_state": "approved"},
        "identify",
        "photo",
    ),
    case("sensitive, pending, detect", REVIEW_PENDING, "detect", "photo"),
    case("sensitive, pending, emotion", REVIEW_PENDING, "emotion", purpose=STATED),
    case("not sensitive, review none, verify", {"review_state": "none"}, "verify", "photo"),
    # erasing one's own data is never blocked: not by status, approvals, context or purpose
    case("commercial erase", {}, "erase", allow=OWNER_ERASES),
    case("suspended erase", SUSPENDED, "erase", allow=OWNER_ERASES),
    case("pending erase", {"status": "pending"}, "erase", "photo", allow=OWNER_ERASES),
    case("enroll withdrawn, erase", {"actions": "detect"}, "erase", allow=OWNER_ERASES),
    case("US police erase, no capture", LE_US, "erase", allow=OWNER_ERASES),
    case("FR police erase, body camera", LE_FR, "erase", "body-camera", allow=OWNER_ERASES),
    case("sensitive, pending, erase", REVIEW_PENDING, "erase", allow=OWNER_ERASES),
    case("erase, undeclared purpose", {}, "erase", purpose="other-purpose", allow=OWNER_ERASES),
]


@pytest.mark.parametrize(
    ("overrides", "action", "capture", "purpose", "federal_law", "allowed", "policy_ids"),
    CASES,
)
def test_decision(overrides, action, capture, purpose, federal_law, allowed, policy_ids):
    customer = make_customer(**overrides)
    context = make_context(capture, purpose, federal_law)
    decision = evaluate_all(customer, action, context)
    assert decision.allowed is allowed
    assert decision.policy_ids == policy_ids
    assert decision.denied_actions == (() if allowed else (action,))


def test_table_is_large_and_names_every_policy():
    assert len(CASES) >= 30
    named = {pid for row in CASES for pid in row.values[-1]}
    assert set(engine.bundle().order) <= named


def test_combined_decision_names_the_denied_action_and_its_policy():
    customer = make_customer(sector="workplace")
    context = make_context("photo", STATED)
    decision = evaluate_all(customer, ["detect", "age", "emotion"], context)
    assert not decision.allowed
    assert decision.denied_actions == ("emotion",)
    assert decision.policy_ids == (NO_EMOTION,)
    assert decision.action == "emotion"
    assert decision.per_action["detect"] == (True, ALLOW)
    assert decision.per_action["age"] == (True, ALLOW)


def test_combined_decision_merges_deny_policies_in_file_order():
    customer = make_customer(**LE_US, purposes="")
    decision = evaluate_all(customer, ["emotion", "identify", "detect"], make_context())
    assert decision.denied_actions == ("emotion", "identify")
    assert decision.policy_ids == (MORATORIUM, NO_LIVE, NEEDS_PURPOSE)


def test_combined_allow_lists_every_action():
    context = make_context("photo", STATED)
    decision = evaluate_all(make_customer(), ["detect", "age", "age"], context)
    assert decision.allowed
    assert decision.actions == ("detect", "age")
    assert decision.policy_ids == ALLOW


def test_default_deny_is_named_when_no_policy_decides(tmp_path: Path):
    """With only the grant loaded, an unapproved action is refused by Cedar's implicit deny."""
    (tmp_path / "10-approved-action.cedar").write_text(
        (engine.POLICY_DIR / "10-approved-action.cedar").read_text()
    )
    only_grant = engine.load(tmp_path, engine.SCHEMA_PATH)
    customer = make_customer(actions="detect")
    assert engine.evaluate(customer, "verify", make_context("photo"), only_grant) == (
        False,
        (engine.DEFAULT_DENY,),
    )
    assert engine.evaluate(customer, "detect", make_context("photo"), only_grant) == (
        True,
        ALLOW,
    )


def test_a_faceid_request_is_one_decision_naming_the_template_rule():
    """detect + createTemplate for a detect-only customer: one decision, denied for the template."""
    customer = make_customer(actions="detect")
    decision = evaluate_all(customer, ["detect", "createTemplate"], make_context("photo"))
    assert not decision.allowed
    assert decision.denied_actions == ("createTemplate",)
    assert decision.policy_ids == (TEMPLATE,)
    assert decision.per_action["detect"] == (True, ALLOW)
    message = decision.denial().message
    assert "'createTemplate' (template-needs-recognition-approval)" in message
    assert decision.decision_id in message


def test_a_verify_only_customer_gets_a_template_without_any_identify_decision():
    customer = make_customer(actions="detect,verify")
    decision = evaluate_all(customer, ["detect", "createTemplate"], make_context())
    assert decision.allowed and decision.actions == ("detect", "createTemplate")
    assert set(decision.per_action) == {"detect", "createTemplate"}


def test_action_names_are_case_insensitive_and_canonical():
    decision = evaluate_all(make_customer(), ["DETECT", "createtemplate"], make_context())
    assert decision.actions == ("detect", "createTemplate")
