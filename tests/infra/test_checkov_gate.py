"""The checkov gate's rules, and every inline skip is justified in docs/deploy.md.

checkov itself runs in `make check-infra` (its own venv); here the gate's decision
logic is fed checkov-shaped reports, and the skips are read from the Bicep source.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from tests.infra import bicep
from tools.infra import checkov_gate

SKIP = re.compile(r"//\s*checkov:skip=(?P<id>[A-Z0-9_]+)(?::(?P<reason>.*))?$", re.MULTILINE)
REASON = "A sentence long enough to say why the check does not apply."


def _report(
    failed: list[dict[str, Any]] | None = None,
    skipped: list[dict[str, Any]] | None = None,
    parsing_errors: list[str] | None = None,
    resources: int = 10,
) -> dict[str, Any]:
    failed, skipped, parsing_errors = failed or [], skipped or [], parsing_errors or []
    return {
        "check_type": "bicep",
        "results": {
            "passed_checks": [],
            "failed_checks": failed,
            "skipped_checks": skipped,
            "parsing_errors": parsing_errors,
        },
        "summary": {
            "passed": 5,
            "failed": len(failed),
            "skipped": len(skipped),
            "parsing_errors": len(parsing_errors),
            "resource_count": resources,
        },
    }


def _skip(check_id: str, reason: str) -> dict[str, Any]:
    return {
        "check_id": check_id,
        "check_result": {"result": "SKIPPED", "suppress_comment": reason},
        "resource": "Microsoft.Storage/storageAccounts.storage",
        "file_path": "/modules/storage.bicep",
    }


def test_clean_report_passes() -> None:
    assert (
        checkov_gate.problems(_report(skipped=[_skip("CKV_AZURE_35", REASON)]), {"CKV_AZURE_35"})
        == []
    )


def test_parsing_errors_fail_although_checkov_exits_zero() -> None:
    found = checkov_gate.problems(_report(parsing_errors=["/modules/x.bicep"]), set())
    assert any("could not parse" in p and "x.bicep" in p for p in found)


def test_failed_checks_fail() -> None:
    failed = {
        "check_id": "CKV_AZURE_206",
        "check_name": "Ensure that Storage Accounts use replication",
        "resource": "Microsoft.Storage/storageAccounts.storage",
        "file_path": "/modules/storage.bicep",
        "file_line_range": [31, 80],
    }
    found = checkov_gate.problems(_report(failed=[failed]), set())
    assert found == [
        "FAILED CKV_AZURE_206 Ensure that Storage Accounts use replication on "
        "Microsoft.Storage/storageAccounts.storage (/modules/storage.bicep:31)"
    ]


def test_a_scan_of_nothing_fails() -> None:
    assert checkov_gate.problems(_report(resources=0), set()) == ["checkov scanned no resources"]


def test_skips_need_a_reason_and_a_docs_entry() -> None:
    found = checkov_gate.problems(_report(skipped=[_skip("CKV_AZURE_35", "n/a")]), set())
    assert len(found) == 2
    assert "no real reason" in found[0]
    assert "not justified in docs/deploy.md" in found[1]


def test_report_list_form_and_file_input(tmp_path: Path) -> None:
    report = _report(parsing_errors=["/main.bicep"])
    path = tmp_path / "report.json"
    path.write_text(json.dumps([report]))
    docs = tmp_path / "deploy.md"
    docs.write_text("nothing skipped\n")
    assert checkov_gate.main(["--report", str(path), "--docs", str(docs)]) == 1
    path.write_text(json.dumps(_report()))
    assert checkov_gate.main(["--report", str(path), "--docs", str(docs)]) == 0


def _inline_skips() -> list[tuple[str, str, str]]:
    skips = []
    for path in sorted(bicep.INFRA.rglob("*.bicep")):
        for match in SKIP.finditer(path.read_text(encoding="utf-8")):
            skips.append((path.name, match["id"], (match["reason"] or "").strip()))
    return skips


def test_every_inline_skip_has_a_reason_and_is_documented() -> None:
    documented = checkov_gate.documented_ids()
    skips = _inline_skips()
    assert skips, "no inline skips found (has the syntax changed?)"
    for file, check_id, reason in skips:
        assert len(reason) >= checkov_gate.MIN_REASON, (file, check_id, reason)
        assert check_id in documented, f"{check_id} ({file}) is not justified in docs/deploy.md"


def test_docs_list_no_stale_skip() -> None:
    """Every check the docs' skip table names is still skipped in the Bicep."""
    text = checkov_gate.DOCS.read_text(encoding="utf-8")
    table = text[text.index("### Justified checkov skips") :]
    listed = set(re.findall(r"^\| (CKV2?_[A-Z]+_\d+)", table, re.MULTILINE))
    assert listed == {check_id for _, check_id, _ in _inline_skips()}
