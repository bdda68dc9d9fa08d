"""A customer's galleries moved while its app keeps serving, over real HTTP.

The dev host (its own process, its own registry cache) serves the customer while
`python -m tools.admin galleries move` runs in another process with its default cache wait:
identify keeps answering from the old store, an enrolment is refused with 409
GalleryStoreMoving once the flag has reached the host, an erasure is accepted and reaches both
stores, and afterwards the same probe finds the same person in the new store, the erased one
in neither, and writes work again. Then back, the same way.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator

import pytest

from shared.biometrics import store
from shared.policy import registry
from tests.data import make_photos as photos
from tests.e2e.conftest import ALL_ACTIONS, PURPOSE, Client, _tenant, error_code
from tests.support.apphost import AppHost, app_env
from tools.dev.azurite import ROOT

ASTRONAUT = photos.ASTRONAUT.read_bytes()
HOPPER = photos.GRACE_HOPPER.read_bytes()
ASTRONAUT_AGAIN = photos.encode(photos.exposure(photos.flip(photos.astronaut()), 0.85), "JPEG")
PHOTO = {"X-Capture-Context": "photo"}
IMAGE = {"Content-Type": "application/octet-stream", **PHOTO}
HOST_CACHE_SECONDS = 2  # app_env's FACEGATE_REGISTRY_CACHE_SECONDS
# The tool's own view of the cache TTL: longer than the host's (it must outlast it), and long
# enough that the test's erasure lands while the tool still waits, before it copies.
TOOL_CACHE_SECONDS = 6


@pytest.fixture(scope="module")
def app(azurite, postgres, tmp_path_factory) -> Iterator[AppHost]:
    """The app with both stores configured (it inherits FACEGATE_POSTGRES_URL)."""
    host = AppHost(tmp_path_factory.mktemp("app-move"), app_env(azurite.connection_string))
    host.start()
    yield host
    host.stop()


@pytest.fixture(scope="module")
def mover(app) -> Client:
    return _tenant(app, "move", actions=ALL_ACTIONS, purposes=(PURPOSE,), gallery_store="table")


def ok(response, status: int = 200):
    assert response.status_code == status, response.text
    return response.json() if response.content else None


def identify(client: Client, gallery: str, probe: str) -> list[tuple[str, float]]:
    found = ok(
        client.post_json(
            "/identify",
            {"galleryId": gallery, "faceIds": [probe], "maxNumOfCandidatesReturned": 3},
            headers=PHOTO,
        )
    )
    return [(c["personId"], c["confidence"]) for c in found[0]["candidates"]]


def face_id(client: Client, image: bytes) -> str:
    return ok(client.detect(image, "returnFaceId=true", headers=PHOTO))[0]["faceId"]


def start_move(customer_id: str, target: str) -> subprocess.Popen:
    env = {**os.environ, "FACEGATE_REGISTRY_CACHE_SECONDS": str(TOOL_CACHE_SECONDS)}
    return subprocess.Popen(
        [sys.executable, "-m", "tools.admin", "galleries", "move", "--customer", customer_id,
         "--to", target, "--actor", "e2e"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def wait_for_line(process: subprocess.Popen, text: str, timeout: float = 60) -> None:
    """Read the tool's progress (stderr) until a line containing ``text``."""
    deadline = time.monotonic() + timeout
    assert process.stderr is not None
    while time.monotonic() < deadline:
        line = process.stderr.readline()
        if text in line:
            return
        if not line and process.poll() is not None:
            break
    pytest.fail(f"the move never said {text!r}")


def move_while_serving(client: Client, gallery: str, target: str, erase: str) -> dict:
    """Run a move; meanwhile check reads, a refused write and an accepted erasure."""
    process = start_move(client.customer_id, target)
    try:
        wait_for_line(process, "gallery writes paused")
        time.sleep(HOST_CACHE_SECONDS + 0.5)  # the host's cached record has expired
        refused = client.post_json(f"/galleries/{gallery}/persons", {"name": "Late"})
        assert (refused.status_code, error_code(refused)) == (409, "GalleryStoreMoving")
        assert int(refused.headers["Retry-After"]) > 0
        erased = ok(client.request("DELETE", f"/galleries/{gallery}/persons/{erase}"))
        assert erased["erasedFaces"] == 1
        out, err = process.communicate(timeout=300)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, err
    return json.loads(out)


def test_a_move_there_and_back_while_the_app_serves(mover):
    gallery = f"g-{uuid.uuid4().hex[:8]}"
    ok(mover.request("PUT", f"/galleries/{gallery}", json={"name": "Crew", "userData": "u"}))
    persons = {}
    for name, image in (("Eileen", ASTRONAUT), ("Grace", HOPPER), ("Spare", HOPPER)):
        persons[name] = ok(mover.post_json(f"/galleries/{gallery}/persons", {"name": name}))[
            "personId"
        ]
        ok(
            mover.request(
                "POST", f"/galleries/{gallery}/persons/{persons[name]}/faces", data=image,
                headers=IMAGE,
            )
        )  # fmt: skip
    probe = face_id(mover, ASTRONAUT_AGAIN)
    before = identify(mover, gallery, probe)
    assert before[0][0] == persons["Eileen"]

    report = move_while_serving(mover, gallery, "postgres", erase=persons["Spare"])

    assert (report["from"], report["to"], report["switched"]) == ("table", "postgres", True)
    registry.reset_caches()
    assert registry.load_customer(mover.customer_id).gallery_store == "postgres"
    assert store.backend("table").all_galleries(mover.customer_id) == []
    after = identify(mover, gallery, probe)
    assert [p for p, _ in after] == [p for p, _ in before]
    assert [c for _, c in after] == pytest.approx([c for _, c in before], abs=1e-4)
    listed = ok(mover.request("GET", f"/galleries/{gallery}/persons"))
    assert {p["personId"] for p in listed} == {persons["Eileen"], persons["Grace"]}
    grace_probe = face_id(mover, HOPPER)
    assert identify(mover, gallery, grace_probe)[0][0] == persons["Grace"]
    writable = ok(mover.post_json(f"/galleries/{gallery}/persons", {"name": "After"}))

    report = move_while_serving(mover, gallery, "table", erase=persons["Grace"])

    assert (report["from"], report["to"]) == ("postgres", "table")
    assert store.backend("postgres").all_galleries(mover.customer_id) == []
    back = identify(mover, gallery, probe)
    assert [p for p, _ in back] == [p for p, _ in before]
    listed = ok(mover.request("GET", f"/galleries/{gallery}/persons"))
    assert {p["personId"] for p in listed} == {persons["Eileen"], writable["personId"]}
    assert all(p != persons["Grace"] for p, _ in identify(mover, gallery, grace_probe))
