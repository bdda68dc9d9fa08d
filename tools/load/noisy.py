"""Noisy neighbour: does one customer flooding the API slow another one down?

A quiet customer sends a steady stream of detect calls (``quiet_requests``,
``quiet_concurrency`` at a time) three times: alone; while a customer *without* a limit
worth the name floods detect calls from ``noisy_threads`` threads; and while the same
flood comes from a customer held to its rate limit (1 per 5 seconds). The flood beyond the
limit is refused with 429 before any image is decoded (a cached key lookup, one counter
read, one audit row), so the quiet customer's latency with a limited flood should stay
near its latency alone, and far below its latency with an unlimited one. Figures only
(timing is never asserted); the verdict is that the quiet customer got only 200s and no
request failed with a 5xx.
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
        noisy = sum(self.noisy_statuses.values())
        return {
            "quiet_requests": len(self.quiet_ms),
            "quiet_p50_ms": round(statistics.median(self.quiet_ms), 1),
            "quiet_p90_ms": round(percentile(self.quiet_ms, 90), 1),
            "quiet_statuses": dict(self.quiet_statuses),
            "noisy_requests": noisy,
            "noisy_per_s": round(noisy / self.seconds, 1) if self.seconds else 0.0,
            "noisy_statuses": dict(self.noisy_statuses),
            "seconds": round(self.seconds, 1),
        }


def _detect(session: requests.Session, url: str, key: str, image: bytes) -> str:
    try:
        response = session.post(
            f"{url}/api/detect?{QUERY}", data=image, headers={KEY_HEADER: key}, timeout=300
        )
        return str(response.status_code)
    except requests.RequestException as exc:
        return type(exc).__name__


def _quiet(url: str, key: str, phase: Phase, total: int, concurrency: int, image: bytes) -> None:
    lock = threading.Lock()
    local = threading.local()

    def one(_: int) -> None:
        session = getattr(local, "session", None) or requests.Session()
        local.session = session
        started = time.perf_counter()
        status = _detect(session, url, key, image)
        with lock:
            phase.quiet_ms.append((time.perf_counter() - started) * 1000)
            phase.quiet_statuses[status] += 1

    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(one, range(total)))


def _flood(
    url: str, key: str, phase: Phase, stop: threading.Event, threads: int, image: bytes
) -> list[threading.Thread]:
    lock = threading.Lock()

    def loop() -> None:
        session = requests.Session()
        while not stop.is_set():
            status = _detect(session, url, key, image)
            with lock:
                phase.noisy_statuses[status] += 1

    workers = [threading.Thread(target=loop, daemon=True) for _ in range(threads)]
    for worker in workers:
        worker.start()
    return workers


def run(
    url: str,
    quiet_key: str,
    unlimited_key: str,
    noisy_key: str,
    quiet_requests: int = 30,
    quiet_concurrency: int = 2,
    noisy_threads: int = 8,
) -> dict:
    """The three phases; returns their figures, the latency ratios and the verdict ``ok``."""
    image = (PHOTOS / "astronaut.png").read_bytes()
    phases: dict[str, Phase] = {}
    for name, flooder in (("alone", None), ("unlimited_flood", unlimited_key),
                          ("limited_flood", noisy_key)):  # fmt: skip
        phase = Phase(name)
        stop = threading.Event()
        workers = _flood(url, flooder, phase, stop, noisy_threads, image) if flooder else []
        if workers:
            time.sleep(2)  # let the flood reach its pace first
        started = time.perf_counter()
        _quiet(url, quiet_key, phase, quiet_requests, quiet_concurrency, image)
        phase.seconds = time.perf_counter() - started
        stop.set()
        for worker in workers:
            worker.join(300)
        phases[name] = phase
    figures = {name: phase.figures() for name, phase in phases.items()}
    alone = figures["alone"]["quiet_p50_ms"]
    for name in ("unlimited_flood", "limited_flood"):
        figures[name]["quiet_p50_vs_alone"] = round(figures[name]["quiet_p50_ms"] / alone, 2)
    figures["ok"] = all(set(p.quiet_statuses) == {"200"} for p in phases.values()) and not any(
        not status.isdigit() or status.startswith("5")
        for phase in phases.values()
        for status in phase.noisy_statuses
    )
    return figures


def text(figures: dict) -> str:
    lines = ["noisy neighbour: a quiet customer's detect latency (another customer floods detect)"]
    for name in ("alone", "unlimited_flood", "limited_flood"):
        f = figures[name]
        ratio = f" ({f['quiet_p50_vs_alone']} x alone)" if "quiet_p50_vs_alone" in f else ""
        lines.append(
            f"  {name:<16} quiet p50 {f['quiet_p50_ms']} ms{ratio}, p90 {f['quiet_p90_ms']} ms, "
            f"{f['quiet_statuses']}; flood {f['noisy_requests']} requests "
            f"({f['noisy_per_s']}/s) {f['noisy_statuses']}"
        )
    return "\n".join(lines)
