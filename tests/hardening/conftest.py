"""Hardening tests: fuzzing, hostile files, load, faults, isolation and privacy.

The end-to-end fixtures (``app``, ``acme``, ``globex``, ...) are the ones of
tests/e2e, so these tests drive the same real app in the same way. A fuzz run
prints, at its end, the cases each target ran and how many failed; with
FACEGATE_FUZZ=long they are also written to reports/fuzz/figures.json.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.conftest import (  # noqa: F401  (fixtures, re-exported for this folder)
    acme,
    anonymous,
    app,
    globex,
    us_police,
    workplace,
)
from tests.hardening.fuzzing import FIGURES, profile

ROOT = Path(__file__).resolve().parents[2]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "fuzz: property-based fuzz target (make fuzz runs long)")


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    rows = FIGURES.rows()
    if not rows:
        return
    write = terminalreporter.write_line
    terminalreporter.section(f"fuzz figures (profile {profile()})")
    write(f"{'target':<26} {'cases':>7} {'failed':>7}  outcomes")
    for name, cases, failed in rows:
        write(f"{name:<26} {cases:>7} {failed:>7}  {FIGURES.spread(name)}")
    write(f"{'total':<26} {sum(r[1] for r in rows):>7} {sum(r[2] for r in rows):>7}")
    if profile() == "long":
        path = ROOT / "reports" / "fuzz" / "figures.json"
        FIGURES.write(path)
        write(f"written to {path.relative_to(ROOT)}")
