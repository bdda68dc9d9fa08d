"""A short version of `make load`: 40 mixed requests, 8 at a time, against the test app.

Same plan and checks as tools/load (no 5xx, every request answered with a status
its kind allows, every gate decision audited); no timing is asserted here.
"""

from __future__ import annotations

import datetime as dt

from tools.load.__main__ import unaudited
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
