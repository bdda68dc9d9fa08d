"""A short version of `make load`: 40 mixed requests, 8 at a time, against the test app.

Same plan and checks as tools/load (no 5xx, every request answered with a status
its kind allows, every gate decision audited); no timing is asserted here.
"""

from __future__ import annotations

import datetime as dt

from tools.load.__main__ import unaudited
from tools.load.erasure import erasure_load, surviving_rows
from tools.load.runner import Target, load


def test_a_short_mixed_load_is_answered_in_full(app, acme, us_police) -> None:
    since = dt.datetime.now(dt.UTC).date()
    report = load(Target(app.url, acme.key, us_police.key), total=40, concurrency=8)
    figures = report.figures()
    assert report.ok, report.text()
    assert figures["answered"] == figures["requests"] == 40
    kinds = {"detect", "identify", "verify", "enroll", "bad input", "denied"}
    assert set(figures["kinds"]) == kinds
    assert figures["statuses"].get("403", 0) >= 4 and figures["statuses"].get("400", 0) >= 8
    assert unaudited(report, [acme.customer_id, us_police.customer_id], since) == []
    assert "Traceback" not in app.log()


def test_the_erasure_part_of_make_load_finds_nothing_left(app, acme) -> None:
    """Two rounds and a burst of 8 (make load: 20 rounds and 64); its own checks must pass
    and must have looked: every round counted, every DELETE and enrolment answered."""
    report = erasure_load(
        Target(app.url, acme.key), rounds=2, burst_size=8, stored=surviving_rows,
        customer_id=acme.customer_id,
    )  # fmt: skip
    assert report.ok, report.text()
    assert report.rounds == 2
    assert report.statuses["burst enroll 200"] == 8
    assert sum(n for kind, n in report.statuses.items() if kind.startswith("delete gallery")) == 4
