"""Noisy neighbour: does one customer flooding the API slow another one down?

Two customers on the same app. The quiet one sends a steady stream of detect calls
(``quiet_requests`` of them, ``quiet_concurrency`` at a time), twice: alone, then while
the noisy one floods cheap requests far past its rate limit from ``noisy_threads``
threads. The figures compare the quiet customer's latency in both phases (median and
p90, and their ratio) and count what each got. The flood is refused early, with 429:
one cached key lookup, one counter read in storage and one audit row per request, no
image decoded. Figures only (timing is never asserted); the verdict is that the quiet
customer got only 200s and nothing was lost.
"""

from __future__ import annotations

import statistics
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import requests

from tools.load.runner import KEY_HEADER, PHOTOS, percentile

QUERY = "returnFaceAttributes=headPose,qualityForRecognition"


@dataclass
class Phase:
    name: str
    quiet_ms: list[float] = field(default_factory=list)
    quiet_statuses: Counter = field(default_factory=Counter)
    noisy_statuses: Counter = field(default_factory=Counter)
    seconds: float = 0.0

    def figures(self) -> dict:
        return {
            "quiet_requests": len(self.quiet_ms),
            "quiet_p50_ms": round(statistics.median(self.quiet_ms), 1) if self.quiet_ms else None,
            "quiet_p90_ms": round(percentile(self.quiet_ms, 90), 1) if self.quiet_ms else None,
            "quiet_statuses": dict(self.quiet_statuses),
            "noisy_requests": sum(self.noisy_statuses.values()),
            "noisy_statuses": dict(self.noisy_statuses),
            "noisy_per_s": round(sum(self.noisy_statuses.values()) / self.seconds, 1)
            if self.seconds
            else 0,
            "seconds": round(self.seconds, 1),
        }


def _quiet(url: str, key: str, phase: Phase, total: int, concurrency: int) -> None:
    image = (PHOTOS / "astronaut.png").read_bytes()
    lock = threading.Lock()
    local = threading.local()

    def one(_: int) -> None:
        session = getattr(local, "session", None) or requests.Session()
        local.session = session
        started = time.perf_counter()
        try:
            response = session.post(
                f"{url}/api/detect?{QUERY}", data=image, headers={KEY_HEADER: key}, timeout=300
            )
            status: int | str = response.status_code
        except requests.RequestException as exc:
            status = type(exc).__name__
        with lock:
            phase.quiet_ms.append((time.perf_counter() - started) * 1000)
            phase.quiet_statuses[str(status)] += 1

    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(one, range(total)))


def _flood(url: str, key: str, phase: Phase, stop: threading.Event, threads: int) -> list:
    lock = threading.Lock()

    def loop() -> None:
        session = requests.Session()
        while not stop.is_set():
            try:
                status: int | str = session.get(
                    f"{url}/api/galleries", headers={KEY_HEADER: key}, timeout=60
                ).status_code
            except requests.RequestException as exc:
                status = type(exc).__name__
            with lock:
                phase.noisy_statuses[str(status)] += 1

    workers = [threading.Thread(target=loop, daemon=True) for _ in range(threads)]
    for worker in workers:
        worker.start()
    return workers


def run(
    url: str,
    quiet_key: str,
    noisy_key: str,
    quiet_requests: int = 40,
    quiet_concurrency: int = 2,
    noisy_threads: int = 16,
) -> dict:
    """Both phases; returns the figures (also the verdict under ``ok``)."""
    phases = []
    for name, noisy in (("quiet alone", False), ("quiet while noisy floods", True)):
        phase = Phase(name)
        stop = threading.Event()
        workers = _flood(url, noisy_key, phase, stop, noisy_threads) if noisy else []
        started = time.perf_counter()
        _quiet(url, quiet_key, phase, quiet_requests, quiet_concurrency)
        phase.seconds = time.perf_counter() - started
        stop.set()
        for worker in workers:
            worker.join(60)
        phases.append(phase)
    alone, noisy = (p.figures() for p in phases)
    ratio = (
        round(noisy["quiet_p50_ms"] / alone["quiet_p50_ms"], 2)
        if alone["quiet_p50_ms"] and noisy["quiet_p50_ms"]
        else None
    )
    ok = all(set(p.quiet_statuses) == {"200"} for p in phases) and not any(
        not s.isdigit() or s.startswith("5") for s in phases[1].noisy_statuses
    )
    return {"alone": alone, "with_noisy": noisy, "quiet_p50_ratio": ratio, "ok": ok}


def text(figures: dict) -> str:
    lines = ["noisy neighbour (quiet customer: detect; noisy customer: flood past its limit)"]
    for key in ("alone", "with_noisy"):
        f = figures[key]
        lines.append(
            f"  {key:<11} quiet p50 {f['quiet_p50_ms']} ms, p90 {f['quiet_p90_ms']} ms, "
            f"statuses {f['quiet_statuses']}; noisy {f['noisy_requests']} requests "
            f"({f['noisy_per_s']}/s) {f['noisy_statuses']}"
        )
    lines.append(f"  quiet median latency with the flood / alone: {figures['quiet_p50_ratio']}")
    return "\n".join(lines)
