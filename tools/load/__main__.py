"""`make load`: a bounded mixed load against FaceGate, with its figures and verdict.

    python -m tools.load                      # own Azurite + dev host, 400 requests, 200 at once
    python -m tools.load --requests 1000 --concurrency 100
    python -m tools.load --url http://127.0.0.1:7071 --key <key> [--police-key <key>]
    python -m tools.load --erasure-rounds 40 --burst 64   # the erasure part (tools/load/erasure)

Exit status 1 when any request got a 5xx, a status it should not get, or no answer.
With its own stack it also checks the audit trail: every request the gate decided
(200 or 403) has its audit row, found by the request id the response carried; and it runs
the noisy-neighbour comparison (tools/load/noisy.py): a quiet customer's detect latency
alone and while another customer floods past its rate limit (reports/load/noisy.json).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import shutil
import sys
import time
from pathlib import Path

from tools.dev.azurite import ROOT
from tools.load import noisy
from tools.load.erasure import erasure_load, surviving_rows
from tools.load.runner import Report, Target, load

REPORT = ROOT / "reports" / "load" / "load.json"
NOISY_REPORT = ROOT / "reports" / "load" / "noisy.json"


def audit_request_ids(customers: list[str], since: dt.date) -> set[str]:
    from shared.policy import audit_rows

    ids: set[str] = set()
    day = since
    while day <= dt.datetime.now(dt.UTC).date():
        for customer in customers:
            ids |= {row["requestId"] for row in audit_rows(customer, day)}
        day += dt.timedelta(days=1)
    return ids


def unaudited(report: Report, customers: list[str], since: dt.date) -> list[str]:
    """Request ids of decided requests (200/403) that have no audit row."""
    audited = audit_request_ids(customers, since)
    decided = [o for o in report.outcomes if o.status in (200, 403)]
    return [o.request_id or "<no x-request-id>" for o in decided if o.request_id not in audited]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.load", description=__doc__)
    parser.add_argument("--requests", type=int, default=400, help="total requests (400)")
    parser.add_argument("--concurrency", type=int, default=200, help="in flight at once (200)")
    parser.add_argument("--url", help="target a running app instead of starting one")
    parser.add_argument("--key", help="with --url: a key allowed detect/identify/verify/enroll")
    parser.add_argument("--police-key", help="with --url: a US police key (403 on identify)")
    parser.add_argument("--timeout", type=float, default=300, help="per request, seconds")
    parser.add_argument("--report", type=Path, default=REPORT, help="figures as JSON")
    parser.add_argument(
        "--erasure-rounds", type=int, default=20, help="erasure race rounds (20; 0: none)"
    )
    parser.add_argument(
        "--burst", type=int, default=64, help="enrolments at once into one gallery (64; 0: none)"
    )
    args = parser.parse_args(argv)
    if args.url and not args.key:
        parser.error("--url needs --key")
    since = dt.datetime.now(dt.UTC).date()
    started = time.monotonic()
    if args.url:
        target = Target(args.url.rstrip("/"), args.key, args.police_key)
        report = load(target, args.requests, args.concurrency, args.timeout)
        erased = erasure_load(target, args.erasure_rounds, args.burst)
        missing: list[str] = []
    else:
        from tools.load.local import local_stack

        with local_stack() as stack:
            print(f"started Azurite and the dev host at {stack.url} (log {stack.log_path})")
            target = Target(stack.url, stack.keys["ok"], stack.keys["police"])
            report = load(target, args.requests, args.concurrency, args.timeout)
            missing = unaudited(report, list(stack.customers.values()), since)
            neighbours = noisy.run(
                stack.url, stack.keys["quiet"], stack.keys["unlimited"], stack.keys["noisy"]
            )
            customer = stack.customers["ok"]
            erased = erasure_load(target, args.erasure_rounds, args.burst, surviving_rows, customer)
    print(report.text())
    print(erased.text())
    if not args.url:
        decided = sum(1 for o in report.outcomes if o.status in (200, 403))
        print(f"audit: {decided - len(missing)}/{decided} decided requests have their audit row")
    if not args.url:
        print(noisy.text(neighbours))
    report.write(args.report, erasure=erased.figures())
    if not args.url:
        NOISY_REPORT.write_text(json.dumps(neighbours, indent=1) + "\n")
    print(f"figures written to {args.report} ({time.monotonic() - started:.0f} s in all)")
    verdict = report.ok and not missing and erased.ok and (bool(args.url) or neighbours["ok"])
    print("PASS: no 5xx, no request lost, erasure final" if verdict else "FAIL")
    if not args.url:
        if verdict:
            shutil.rmtree(stack.work, ignore_errors=True)
        else:
            print(f"logs kept in {stack.work}")
    return 0 if verdict else 1


if __name__ == "__main__":
    sys.exit(main())
