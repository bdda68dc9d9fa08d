"""A bounded, mixed load against FaceGate: every request planned, sent, answered, checked.

The plan is a fixed list of requests (detect, identify, verify, enroll, bad input,
denied), each with the statuses it may get. They are sent by ``concurrency`` threads
released together, so the first ``concurrency`` requests are in flight at once. The
report has status counts, p50/p99 latency per kind and overall, and every problem:
a 5xx, a status outside the request's expected set, or a request never answered
(a connection error or a timeout: "lost").
"""

from __future__ import annotations

import json
import random
import secrets
import statistics
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import requests

from tools.dev.azurite import ROOT

PHOTOS = ROOT / "tests" / "data" / "photos"
KEY_HEADER = "Ocp-Apim-Subscription-Key"


@dataclass(frozen=True)
class Planned:
    kind: str
    method: str
    path: str
    expect: frozenset[int]
    body: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Outcome:
    planned: Planned
    status: int | None  # None: never answered
    seconds: float
    request_id: str = ""
    error: str = ""


@dataclass
class Target:
    """Where to send: the app's URL, a key allowed everything, optionally a police key."""

    url: str
    key: str
    police_key: str | None = None


class Setup:
    """The gallery, persons and faceIds the mixed requests use, made before the run."""

    def __init__(self, target: Target) -> None:
        self.target = target
        self.session = requests.Session()
        self.session.headers[KEY_HEADER] = target.key
        self.astronaut = (PHOTOS / "astronaut.png").read_bytes()
        self.hopper = (PHOTOS / "grace_hopper.jpg").read_bytes()
        self.gallery = f"load-{secrets.token_hex(4)}"
        self.persons: list[str] = []
        self.face_ids: list[str] = []

    def _ok(self, response: requests.Response) -> dict | list:
        if response.status_code != 200:
            raise RuntimeError(f"setup failed: {response.status_code} {response.text[:300]}")
        return response.json()

    def run(self, enroll_persons: int) -> Setup:
        api = f"{self.target.url}/api"
        photo = {"X-Capture-Context": "photo"}
        self._ok(self.session.put(f"{api}/galleries/{self.gallery}", json={"name": "load"}))
        for index, image in enumerate((self.astronaut, self.hopper)):
            person = self._ok(
                self.session.post(
                    f"{api}/galleries/{self.gallery}/persons", json={"name": f"p{index}"}
                )
            )["personId"]
            self._ok(
                self.session.post(
                    f"{api}/galleries/{self.gallery}/persons/{person}/faces",
                    data=image, headers=photo,
                )
            )  # fmt: skip
            self.persons.append(person)
            faces = self._ok(
                self.session.post(f"{api}/detect?returnFaceId=true", data=image, headers=photo)
            )
            self.face_ids.append(faces[0]["faceId"])
        for index in range(enroll_persons):  # fresh persons to enroll into during the run
            self.persons.append(
                self._ok(
                    self.session.post(
                        f"{api}/galleries/{self.gallery}/persons", json={"name": f"e{index}"}
                    )
                )["personId"]
            )
        return self


def plan(setup: Setup, total: int, seed: int = 7) -> list[Planned]:
    """``total`` requests, shuffled, from a fixed mix of kinds."""
    rng = random.Random(seed)  # noqa: S311  (a reproducible order, not a secret)
    key = {KEY_HEADER: setup.target.key, "X-Capture-Context": "photo"}
    json_headers = {**key, "Content-Type": "application/json"}
    gallery, face_ids, persons = setup.gallery, setup.face_ids, setup.persons
    enroll_targets = persons[2:] or persons[:1]
    police = setup.target.police_key

    def make(index: int) -> Planned:
        roll = index % 20
        if roll < 6:
            image = setup.astronaut if index % 2 else setup.hopper
            query = "returnFaceAttributes=headPose,qualityForRecognition&returnFaceLandmarks=true"
            return Planned("detect", "POST", f"/api/detect?{query}", frozenset({200}), image, key)
        if roll < 9:
            body = {"galleryId": gallery, "faceIds": face_ids, "maxNumOfCandidatesReturned": 2}
            return Planned("identify", "POST", "/api/identify", frozenset({200}),
                           json.dumps(body).encode(), json_headers)  # fmt: skip
        if roll < 11:
            body = {"faceId": face_ids[0], "galleryId": gallery, "personId": persons[0]}
            return Planned("verify", "POST", "/api/verify", frozenset({200}),
                           json.dumps(body).encode(), json_headers)  # fmt: skip
        if roll < 13:
            person = enroll_targets[(index // 20) % len(enroll_targets)]
            return Planned("enroll", "POST", f"/api/galleries/{gallery}/persons/{person}/faces",
                           frozenset({200}), setup.astronaut, key)  # fmt: skip
        if roll < 17:
            bad = [
                ("POST", "/api/detect", b"this is not an image", key),
                ("POST", "/api/identify", b"{not json", json_headers),
                ("GET", "/api/galleries/Not%20A%20Valid%20Id", None, key),
                ("POST", "/api/detect?maxFaces=%C2%B2", setup.hopper, key),
            ][roll - 13]
            method, path, body, headers = bad
            return Planned("bad input", method, path, frozenset({400}), body, headers)
        if roll < 19 or police is None:  # a purpose the customer never declared
            headers = {**key, "X-Purpose": "load-undeclared-purpose"}
            return Planned("denied", "POST", "/api/detect", frozenset({403}), setup.hopper, headers)
        body = {"galleryId": gallery, "faceIds": face_ids[:1]}
        headers = {KEY_HEADER: police, "X-Capture-Context": "photo",
                   "Content-Type": "application/json"}  # fmt: skip
        return Planned("denied", "POST", "/api/identify", frozenset({403}),
                       json.dumps(body).encode(), headers)  # fmt: skip

    requests_ = [make(i) for i in range(total)]
    rng.shuffle(requests_)
    return requests_


_local = threading.local()


def _session() -> requests.Session:
    """One kept-alive connection per sending thread, as a real client pool would hold
    (a new connection per request leaves idle ones open on the server until they time
    out, and the dev host refuses connections past 256 with a bare 503)."""
    session = getattr(_local, "session", None)
    if session is None:
        session = _local.session = requests.Session()
    return session


def send(base: str, planned: Planned, timeout: float) -> Outcome:
    started = time.perf_counter()
    try:
        response = _session().request(
            planned.method, base + planned.path, data=planned.body,
            headers=planned.headers, timeout=timeout,
        )  # fmt: skip
        response.content  # noqa: B018  (read the whole answer before the clock stops)
        return Outcome(planned, response.status_code, time.perf_counter() - started,
                       response.headers.get("x-request-id", ""))  # fmt: skip
    except requests.RequestException as exc:
        return Outcome(planned, None, time.perf_counter() - started, error=type(exc).__name__)


def run(
    base: str,
    planned: list[Planned],
    concurrency: int,
    timeout: float = 300,
    progress: Callable[[int], None] | None = None,
) -> list[Outcome]:
    """Send every planned request; the first ``concurrency`` start together."""
    gate = threading.Barrier(min(concurrency, len(planned)))
    done = Counter()
    lock = threading.Lock()

    def one(index: int) -> Outcome:
        if index < gate.parties:
            gate.wait()
        outcome = send(base, planned[index], timeout)
        with lock:
            done["n"] += 1
            if progress is not None:
                progress(done["n"])
        return outcome

    def close(_: int) -> None:
        session = getattr(_local, "session", None)
        if session is not None:
            session.close()
            _local.session = None

    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        outcomes = list(pool.map(one, range(len(planned))))
        # every worker closes its connection (one task per worker, held at a barrier)
        closing = threading.Barrier(concurrency)
        list(pool.map(lambda i: (closing.wait(), close(i)), range(concurrency)))
    return outcomes


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[round(q) - 1]


@dataclass
class Report:
    outcomes: list[Outcome]
    wall_seconds: float
    concurrency: int

    @property
    def lost(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.status is None]

    @property
    def server_errors(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.status is not None and o.status >= 500]

    @property
    def unexpected(self) -> list[Outcome]:
        return [
            o for o in self.outcomes
            if o.status is not None and o.status not in o.planned.expect
        ]  # fmt: skip

    @property
    def ok(self) -> bool:
        return not (self.lost or self.server_errors or self.unexpected)

    def figures(self) -> dict:
        kinds: dict[str, dict] = {}
        for kind in sorted({o.planned.kind for o in self.outcomes}):
            mine = [o for o in self.outcomes if o.planned.kind == kind]
            times = [o.seconds * 1000 for o in mine if o.status is not None]
            kinds[kind] = {
                "requests": len(mine),
                "statuses": dict(Counter(str(o.status) for o in mine)),
                "p50_ms": round(percentile(times, 50), 1),
                "p99_ms": round(percentile(times, 99), 1),
            }
        times = [o.seconds * 1000 for o in self.outcomes if o.status is not None]
        return {
            "requests": len(self.outcomes),
            "concurrency": self.concurrency,
            "answered": len(self.outcomes) - len(self.lost),
            "lost": len(self.lost),
            "server_errors": len(self.server_errors),
            "unexpected": len(self.unexpected),
            "statuses": dict(Counter(str(o.status) for o in self.outcomes)),
            "p50_ms": round(percentile(times, 50), 1),
            "p99_ms": round(percentile(times, 99), 1),
            "wall_s": round(self.wall_seconds, 1),
            "requests_per_s": round(len(self.outcomes) / self.wall_seconds, 1),
            "kinds": kinds,
        }

    def text(self) -> str:
        figures = self.figures()
        lines = [
            f"{figures['requests']} requests, {figures['concurrency']} concurrent, "
            f"{figures['wall_s']} s ({figures['requests_per_s']} req/s)",
            f"{'kind':<10} {'n':>5} {'p50 ms':>9} {'p99 ms':>9}  statuses",
        ]
        for kind, row in figures["kinds"].items():
            statuses = ", ".join(f"{s}: {n}" for s, n in sorted(row["statuses"].items()))
            lines.append(
                f"{kind:<10} {row['requests']:>5} {row['p50_ms']:>9} {row['p99_ms']:>9}  {statuses}"
            )
        statuses = ", ".join(f"{s}: {n}" for s, n in sorted(figures["statuses"].items()))
        lines.append(
            f"{'all':<10} {figures['requests']:>5} {figures['p50_ms']:>9} "
            f"{figures['p99_ms']:>9}  {statuses}"
        )
        lines.append(
            f"answered {figures['answered']}/{figures['requests']}, lost {figures['lost']}, "
            f"5xx {figures['server_errors']}, unexpected status {figures['unexpected']}"
        )
        for o in (self.lost + self.server_errors + self.unexpected)[:10]:
            lines.append(
                f"  problem: {o.planned.kind} {o.planned.method} {o.planned.path} -> "
                f"{o.status or o.error} (expected {sorted(o.planned.expect)})"
            )
        return "\n".join(lines)

    def write(self, path: Path, **more: dict) -> None:
        """The figures as JSON, with ``more`` sections (e.g. ``erasure``) beside them."""
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({**self.figures(), **more}, indent=1) + "\n")


def load(target: Target, total: int, concurrency: int, timeout: float = 300) -> Report:
    """Set up, send the mixed plan, and report."""
    setup = Setup(target).run(enroll_persons=max(1, total // 200 + 1))
    planned = plan(setup, total)
    started = time.perf_counter()
    outcomes = run(target.url, planned, concurrency, timeout)
    return Report(outcomes, time.perf_counter() - started, concurrency)
