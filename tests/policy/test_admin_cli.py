"""`python -m tools.admin` end to end, as a subprocess against Azurite."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime

import pytest

from shared.errors import Unauthorized
from shared.policy import audit_rows, authenticate, decide, engine, registry
from tests.policy.helpers import make_context, unique_id
from tools.dev.azurite import ROOT

pytestmark = pytest.mark.usefixtures("azurite")


def admin(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tools.admin", *args],
        cwd=ROOT,
        env={**os.environ},
        capture_output=True,
        text=True,
        timeout=120,
    )


def ok(*args: str):
    done = admin(*args)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_customer_lifecycle_keys_and_audit():
    cid = unique_id("cli")
    added = ok(
        "customers", "add", "--id", cid, "--name", "Ville de Lyon", "--sector", "law_enforcement",
        "--country", "fr", "--actions", "detect,verify,identify", "--status", "active",
        "--review-state", "approved", "--sensitive-use", "--purposes", "missing-persons",
        "--retention", "keep",
    )  # fmt: skip
    customer = added["customer"]
    assert (customer["id"], customer["country"], customer["sensitive_use"]) == (cid, "FR", True)
    assert customer["actions"] == ["detect", "verify", "identify"]
    key = added["key"]
    assert authenticate(key).id == cid
    assert decide(authenticate(key), "verify", make_context("photo")).allowed

    shown = ok("customers", "show", "--id", cid)
    assert shown["customer"] == customer
    assert [k["key_id"] for k in shown["keys"]] == [added["keyId"]]
    assert key not in json.dumps(shown)
    assert cid in {c["id"] for c in ok("customers", "list")}

    updated = ok("customers", "update", "--id", cid, "--actions", "detect", "--purposes", "")
    assert (updated["customer"]["actions"], updated["customer"]["purposes"]) == (["detect"], [])
    assert ok("customers", "suspend", "--id", cid)["customer"]["status"] == "suspended"
    assert ok("customers", "activate", "--id", cid)["customer"]["status"] == "active"

    issued = ok("keys", "issue", "--customer", cid)
    assert issued["key"] != key and issued["customerId"] == cid
    assert len(ok("keys", "list", "--customer", cid)) == 2
    revoked = ok("keys", "revoke", "--customer", cid, "--key-id", added["keyId"])
    assert revoked["revoked"] is True
    registry.reset_caches()
    with pytest.raises(Unauthorized):
        authenticate(key)
    assert authenticate(issued["key"]).id == cid

    day = datetime.now(UTC).date().isoformat()
    rows = ok("audit", "list", "--customer", cid, "--day", day)
    assert [(r["action"], r["decision"]) for r in rows] == [("verify", "allow")]
    assert rows == audit_rows(cid, day)


def test_policy_check_is_a_dry_run():
    cid = unique_id("cli")
    ok(
        "customers", "add", "--id", cid, "--name", "Metro PD", "--sector", "law_enforcement",
        "--country", "US", "--actions", "detect,identify", "--status", "active", "--no-key",
    )  # fmt: skip
    denied = ok("policy", "check", "--customer", cid, "--action", "identify", "--capture", "photo")
    assert denied["allowed"] is False
    assert denied["policyIds"] == ["us-law-enforcement-moratorium"]
    assert denied["dryRun"] is True
    lifted = ok(
        "policy", "check", "--customer", cid, "--action", "detect,identify",
        "--capture", "body-camera", "--federal-law-in-force", "true",
    )  # fmt: skip
    assert lifted["deniedActions"] == ["identify"]
    assert lifted["perAction"]["detect"] == {"allowed": True, "policyIds": ["approved-action"]}
    assert lifted["policyIds"] == ["law-enforcement-no-realtime-recognition"]
    assert audit_rows(cid, datetime.now(UTC).date()) == []  # nothing was audited


def test_policy_validate_lists_every_rule():
    listed = ok("policy", "validate")
    assert listed["valid"] is True
    files = sorted(engine.POLICY_DIR.glob("*.cedar"))
    assert [p["id"] for p in listed["policies"]] == [f.stem.split("-", 1)[1] for f in files]
    assert all(p["why"] for p in listed["policies"])


ADD_X = ("customers", "add", "--id", "x1", "--name", "X", "--sector", "commercial")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((*ADD_X, "--country", "UK"), "did you mean GB"),
        ((*ADD_X, "--country", "FR", "--actions", "detect,fly"), "unknown fly"),
        ((*ADD_X, "--country", "FR", "--status", "gone"), "invalid choice"),
        (("customers", "show", "--id", "nobody-here"), "NotFound"),
        (("customers", "update", "--id", "nobody-here", "--status", "active"), "NotFound"),
        (("keys", "issue", "--customer", "nobody-here"), "NotFound"),
        (("audit", "list", "--customer", "x", "--day", "2024-13-01"), "YYYY-MM-DD"),
        (("policy", "check", "--customer", "nobody-here", "--action", "detect"), "NotFound"),
    ],
)
def test_errors_go_to_stderr_with_exit_code_2(args, message):
    done = admin(*args)
    assert done.returncode == 2
    assert done.stdout == ""
    assert message in done.stderr


def test_an_existing_id_is_a_conflict():
    cid = unique_id("cli")
    base = ("customers", "add", "--id", cid, "--name", "A", "--sector", "research", "--country")
    ok(*base, "NL")
    done = admin(*base, "NL")
    assert done.returncode == 2 and "Conflict" in done.stderr
