"""`make load`, erasure part: rounds of enrolments, creations and deletes racing erasures.

Each round makes a gallery with persons (one enrolled face each), warms identify, then
sends at once: enrolments into those persons, new persons, and a random moment later a
person DELETE twice and the gallery DELETE twice. Then it checks what erasure promises:
no 5xx, every DELETE 200 or 404 (at least one 200), every racing call 200 or 404, identify
never returns an erased person, a re-created gallery is empty, and (with its own stack,
where it can read the storage) no person or face row of the gallery is left. A last case
sends a burst of enrolments into one gallery at once: every one must be 200 (no 503).
"""

from __future__ import annotations

import random
import secrets
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import requests

from tools.load.runner import KEY_HEADER, PHOTOS, Target

PHOTO = {"X-Capture-Context": "photo"}
StorageCheck = Callable[[str, str], list[str]]  # (customerId, galleryId) -> surviving row keys


@dataclass
class ErasureReport:
    rounds: int = 0
    statuses: Counter = field(default_factory=Counter)  # "kind status" -> count
    problems: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.problems

    def figures(self) -> dict:
        return {
            "rounds": self.rounds,
            "statuses": dict(sorted(self.statuses.items())),
            "problems": self.problems[:20],
            "wall_s": round(self.seconds, 1),
        }

    def text(self) -> str:
        lines = [f"erasure: {self.rounds} rounds in {self.seconds:.0f} s"]
        lines += [f"  {kind:<22} {n:>5}" for kind, n in sorted(self.statuses.items())]
        lines += [f"  problem: {p}" for p in self.problems[:10]]
        lines.append(f"erasure problems: {len(self.problems)}")
        return "\n".join(lines)


class Api:
    def __init__(self, target: Target) -> None:
        self.base = f"{target.url}/api"
        self.headers = {KEY_HEADER: target.key, **PHOTO}
        self.astronaut = (PHOTOS / "astronaut.png").read_bytes()
        self.hopper = (PHOTOS / "grace_hopper.jpg").read_bytes()

    def call(self, method: str, path: str, **kw) -> requests.Response:
        headers = {**self.headers, **kw.pop("headers", {})}
        return requests.request(method, self.base + path, headers=headers, timeout=300, **kw)

    def ok(self, response: requests.Response) -> dict | list:
        if response.status_code != 200:
            raise RuntimeError(f"setup failed: {response.status_code} {response.text[:300]}")
        return response.json()

    def person(self, gallery: str, image: bytes | None) -> str:
        made = self.ok(self.call("POST", f"/galleries/{gallery}/persons", json={"name": "p"}))
        person = made["personId"]  # type: ignore[index]
        if image is not None:
            self.ok(self.enroll(gallery, person, image))
        return person

    def enroll(self, gallery: str, person: str, image: bytes) -> requests.Response:
        return self.call("POST", f"/galleries/{gallery}/persons/{person}/faces", data=image)

    def candidates(self, gallery: str, face_id: str) -> tuple[int, list[str]]:
        body = {"galleryId": gallery, "faceIds": [face_id], "maxNumOfCandidatesReturned": 10}
        response = self.call("POST", "/identify", json=body)
        if response.status_code != 200:
            return response.status_code, []
        return 200, [c["personId"] for c in response.json()[0]["candidates"]]


Call = Callable[[], requests.Response]


def race(calls: list[Call], late: list[Call], rng: random.Random) -> tuple[list[int], list[int]]:
    """Start ``calls`` together; start ``late`` once a random number of them (none to all but
    one) have answered, plus a random pause of up to 0.1 s, so each round some calls commit
    before the erasure and the others are still in flight when it runs. Returns the
    statuses of ``calls`` and of ``late``, in order (0: no answer)."""
    wait_for, pause = rng.randint(0, max(0, len(calls) - 1)), rng.uniform(0, 0.1)
    answered, changed = [0], threading.Condition()
    barrier = threading.Barrier(len(calls) + len(late))

    def status(call: Call) -> int:
        try:
            return call().status_code
        except requests.RequestException:
            return 0

    def early(call: Call) -> int:
        barrier.wait()
        try:
            return status(call)
        finally:
            with changed:
                answered[0] += 1
                changed.notify_all()

    def later(call: Call) -> int:
        barrier.wait()
        with changed:
            changed.wait_for(lambda: answered[0] >= wait_for)
        time.sleep(pause)
        return status(call)

    with ThreadPoolExecutor(len(calls) + len(late)) as pool:
        first = [pool.submit(early, call) for call in calls]
        second = [pool.submit(later, call) for call in late]
        return [f.result() for f in first], [f.result() for f in second]


def one_round(api: Api, probe: str, rng: random.Random, report: ErasureReport,
              stored: StorageCheck | None, customer_id: str) -> None:  # fmt: skip
    gallery = f"erase-{secrets.token_hex(5)}"
    api.ok(api.call("PUT", f"/galleries/{gallery}", json={"name": "erasure"}))
    persons = [api.person(gallery, api.astronaut) for _ in range(2)]
    api.person(gallery, api.hopper)
    api.candidates(gallery, probe)  # the index holds them before the race
    doomed = persons[0]
    calls = [(f"enroll{i}", lambda p=p: api.enroll(gallery, p, api.astronaut))
             for i, p in enumerate(persons * 2)]  # fmt: skip
    calls += [("create person", lambda: api.call("POST", f"/galleries/{gallery}/persons",
                                                 json={"name": "late"}))] * 2  # fmt: skip
    erase_person = (
        "delete person",
        lambda: api.call("DELETE", f"/galleries/{gallery}/persons/{doomed}"),
    )
    erase_gallery = ("delete gallery", lambda: api.call("DELETE", f"/galleries/{gallery}"))
    late = [erase_person, erase_person] if rng.random() < 0.5 else []
    late += [erase_gallery, erase_gallery]
    first, second = race([call for _, call in calls], [call for _, call in late], rng)
    outcomes = [
        (kind, status) for (kind, _), status in zip(calls + late, first + second, strict=True)
    ]
    for kind, status in outcomes:
        report.statuses[f"{kind.rstrip('0123456789')} {status}"] += 1
        if status not in (200, 404):
            report.problems.append(f"{gallery}: {kind} answered {status}")
    if 200 not in [status for kind, status in outcomes if kind == "delete gallery"]:
        report.problems.append(f"{gallery}: no gallery DELETE answered 200")
    status, _ = api.candidates(gallery, probe)
    if status != 404:
        report.problems.append(f"{gallery}: identify on the erased gallery answered {status}")
    api.ok(api.call("PUT", f"/galleries/{gallery}", json={"name": "again"}))
    listed = api.ok(api.call("GET", f"/galleries/{gallery}/persons"))
    if listed:
        report.problems.append(f"{gallery}: the re-created gallery lists {len(listed)} persons")
    status, found = api.candidates(gallery, probe)
    if status != 200 or found:
        report.problems.append(f"{gallery}: the re-created gallery identifies {found} ({status})")
    cleanup = api.call("DELETE", f"/galleries/{gallery}")
    if cleanup.status_code != 200:
        report.problems.append(f"{gallery}: the last DELETE answered {cleanup.status_code}")
    if stored is not None:
        left = stored(customer_id, gallery)
        if left:
            report.problems.append(f"{gallery}: {len(left)} rows survived the erasure")
    report.rounds += 1


def burst(api: Api, enrolments: int, report: ErasureReport) -> None:
    """``enrolments`` at once into one gallery (over 8 persons): all must be 200."""
    gallery = f"burst-{secrets.token_hex(5)}"
    api.ok(api.call("PUT", f"/galleries/{gallery}", json={"name": "burst"}))
    persons = [api.person(gallery, None) for _ in range(8)]
    barrier = threading.Barrier(enrolments)

    def one(i: int) -> int:
        barrier.wait()
        try:
            return api.enroll(gallery, persons[i % len(persons)], api.astronaut).status_code
        except requests.RequestException:
            return 0

    with ThreadPoolExecutor(enrolments) as pool:
        statuses = list(pool.map(one, range(enrolments)))
    for status in statuses:
        report.statuses[f"burst enroll {status}"] += 1
    if set(statuses) != {200}:
        report.problems.append(f"burst of {enrolments}: {dict(Counter(statuses))}")
    api.call("DELETE", f"/galleries/{gallery}")


def erasure_load(
    target: Target, rounds: int, burst_size: int = 64, stored: StorageCheck | None = None,
    customer_id: str = "", seed: int = 13,
) -> ErasureReport:  # fmt: skip
    api = Api(target)
    report = ErasureReport()
    started = time.perf_counter()
    detected = api.ok(api.call("POST", "/detect?returnFaceId=true", data=api.astronaut))
    probe = detected[0]["faceId"]  # type: ignore[index]
    rng = random.Random(seed)  # noqa: S311  (a reproducible order, not a secret)
    for _ in range(rounds):
        one_round(api, probe, rng, report, stored, customer_id)
    if burst_size:
        burst(api, burst_size, report)
    report.seconds = time.perf_counter() - started
    return report


def surviving_rows(customer_id: str, gallery: str) -> list[str]:
    """Person and face rows of any generation of the gallery still in storage (own stack)."""
    from shared.biometrics import store

    return [
        r["RowKey"] for r in store.stored_rows(customer_id, gallery) if r.get("kind") != "gallery"
    ]
