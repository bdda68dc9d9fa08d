"""Policy gate: run checkov on infra/ and fail on anything but documented, justified skips.

checkov exits 0 when it cannot parse a file, so the gate reads its JSON report
and fails on: any failed check, any parsing error, no resources scanned, a skip
without a reason, or a skip that docs/deploy.md does not list. Skips are inline
in the resource they concern: ``//checkov:skip=CKV_AZURE_35:why``.

Usage: ``python tools/infra/checkov_gate.py --checkov .build/venv-checkov/bin/checkov``
(standard library only, so any Python 3.11 runs it).
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
INFRA = REPO / "infra"
DOCS = REPO / "docs" / "deploy.md"
MIN_REASON = 20  # characters: a reason is a sentence, not "n/a"
CHECK_ID = re.compile(r"\bCKV2?_[A-Z]+_\d+\b")


def run_checkov(checkov: str, directory: Path = INFRA) -> dict[str, Any]:
    """checkov's JSON report for ``directory`` (bicep only, offline)."""
    cmd = [checkov, "-d", str(directory), "--framework", "bicep", "-o", "json", "--skip-download"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=False)
    if not done.stdout.strip():
        raise RuntimeError(
            f"checkov printed no report (rc={done.returncode}): {done.stderr[-2000:]}"
        )
    return report_of(json.loads(done.stdout))


def report_of(raw: Any) -> dict[str, Any]:
    """The bicep report, whether checkov printed one report or a list of them."""
    reports = raw if isinstance(raw, list) else [raw]
    for report in reports:
        if isinstance(report, dict) and report.get("check_type", "bicep") == "bicep":
            return report
    raise ValueError("no bicep report in checkov output")


def documented_ids(docs: Path = DOCS) -> set[str]:
    """Check ids that docs/deploy.md names (where each skip is justified for readers)."""
    return set(CHECK_ID.findall(docs.read_text(encoding="utf-8"))) if docs.exists() else set()


def problems(report: dict[str, Any], documented: set[str]) -> list[str]:
    """Everything that makes the gate fail; empty means pass."""
    found: list[str] = []
    summary = report.get("summary", {})
    results = report.get("results", {})
    if summary.get("parsing_errors", 0):
        files = ", ".join(results.get("parsing_errors", []) or ["?"])
        found.append(f"checkov could not parse {summary['parsing_errors']} file(s): {files}")
    if not summary.get("resource_count", 0):
        found.append("checkov scanned no resources")
    for failed in results.get("failed_checks", []):
        found.append(
            f"FAILED {failed.get('check_id')} {failed.get('check_name', '')} "
            f"on {failed.get('resource')} ({failed.get('file_path')}:"
            f"{(failed.get('file_line_range') or ['?'])[0]})"
        )
    if summary.get("failed", 0) and not results.get("failed_checks"):
        found.append(f"{summary['failed']} failed check(s)")
    for skipped in results.get("skipped_checks", []):
        check_id = skipped.get("check_id", "?")
        reason = (skipped.get("check_result") or {}).get("suppress_comment") or ""
        where = f"{skipped.get('resource')} ({skipped.get('file_path')})"
        if len(reason.strip()) < MIN_REASON:
            found.append(f"skip of {check_id} on {where} has no real reason: {reason!r}")
        if check_id not in documented:
            found.append(f"skip of {check_id} on {where} is not justified in docs/deploy.md")
    return found


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkov", default="checkov", help="checkov executable")
    parser.add_argument("--report", type=Path, help="read this JSON report instead of running")
    parser.add_argument("--docs", type=Path, default=DOCS)
    args = parser.parse_args(argv)
    if args.report:
        report = report_of(json.loads(args.report.read_text(encoding="utf-8")))
    else:
        report = run_checkov(args.checkov)
    found = problems(report, documented_ids(args.docs))
    summary = report.get("summary", {})
    print(
        "checkov gate: passed {passed}, failed {failed}, skipped {skipped}, parsing errors "
        "{parsing_errors}, resources {resource_count}".format(
            **{
                k: summary.get(k, "?")
                for k in ("passed", "failed", "skipped", "parsing_errors", "resource_count")
            }
        )
    )
    for skipped in report.get("results", {}).get("skipped_checks", []):
        reason = (skipped.get("check_result") or {}).get("suppress_comment", "")
        print(
            f"checkov gate: skip {skipped.get('check_id')} on {skipped.get('resource')}: {reason}"
        )
    for problem in found:
        print(f"checkov gate: {problem}", file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    raise SystemExit(main())
