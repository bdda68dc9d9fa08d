"""Hypothesis profiles for the fuzz targets, and the figures a run prints.

``FACEGATE_FUZZ=short`` (the default, used by ``make test``) runs a few seconds per
target; ``FACEGATE_FUZZ=long`` (``make fuzz``) runs at least 10,000 cases per target.
``FACEGATE_FUZZ_EXAMPLES=N`` overrides the number of cases of either profile.

Every target counts the cases it ran and the cases that failed (a failed case is a
violated property: Hypothesis then shrinks it and the test fails), so a run can print
what it actually did, not only what it was asked to do.
"""

from __future__ import annotations

import functools
import json
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from hypothesis import HealthCheck, settings

PROFILE_ENV = "FACEGATE_FUZZ"
EXAMPLES_ENV = "FACEGATE_FUZZ_EXAMPLES"
LONG_MIN_EXAMPLES = 10_000

# Cases per target in the short profile: a few seconds each, in process or over HTTP.
SHORT = {"local": 300, "http": 120}

_QUIET = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much]


def profile() -> str:
    name = os.environ.get(PROFILE_ENV, "short").strip().lower() or "short"
    if name not in ("short", "long"):
        raise ValueError(f"{PROFILE_ENV} must be short or long, not {name!r}")
    return name


def examples(kind: str = "local") -> int:
    override = os.environ.get(EXAMPLES_ENV, "").strip()
    if override:
        return int(override)
    return LONG_MIN_EXAMPLES if profile() == "long" else SHORT[kind]


def fuzz_settings(kind: str = "local") -> settings:
    """Settings for one target: ``kind`` is ``local`` (in process) or ``http``."""
    return settings(
        max_examples=examples(kind),
        deadline=None,
        suppress_health_check=_QUIET,
        print_blob=True,
    )


class Figures:
    """Cases run and failed per target, for the whole pytest session."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.cases: dict[str, int] = {}
        self.failures: dict[str, int] = {}
        self.outcomes: dict[str, dict[str, int]] = {}

    def count(self, target: str, failed: bool) -> None:
        with self._lock:
            self.cases[target] = self.cases.get(target, 0) + 1
            if failed:
                self.failures[target] = self.failures.get(target, 0) + 1

    def outcome(self, target: str, label: str) -> None:
        """What a case led to (decoded, a status code, an error code), for the summary."""
        with self._lock:
            seen = self.outcomes.setdefault(target, {})
            seen[label] = seen.get(label, 0) + 1

    def spread(self, target: str) -> str:
        with self._lock:
            seen = sorted(self.outcomes.get(target, {}).items(), key=lambda kv: -kv[1])
        return ", ".join(f"{label} {count}" for label, count in seen)

    def rows(self) -> list[tuple[str, int, int]]:
        with self._lock:
            return [(t, n, self.failures.get(t, 0)) for t, n in sorted(self.cases.items())]

    def write(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        rows = [
            {"target": t, "cases": n, "failedCases": f, "outcomes": self.outcomes.get(t, {})}
            for t, n, f in self.rows()
        ]
        path.write_text(json.dumps({"profile": profile(), "targets": rows}, indent=1) + "\n")


FIGURES = Figures()


def outcome(target: str, label: str) -> None:
    FIGURES.outcome(target, label)


F = TypeVar("F", bound=Callable[..., Any])


def target(name: str) -> Callable[[F], F]:
    """Count every case of a fuzz test under ``name`` (put it under ``@given``)."""

    def wrap(test: F) -> F:
        @functools.wraps(test)
        def counted(*args: Any, **kwargs: Any) -> Any:
            try:
                result = test(*args, **kwargs)
            except Exception:
                FIGURES.count(name, failed=True)
                raise
            # a BaseException (Hypothesis stopping a case that drew too much) is no case
            FIGURES.count(name, failed=False)
            return result

        return counted  # type: ignore[return-value]

    return wrap
