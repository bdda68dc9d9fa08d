"""Per-customer rate limits hold across instances: two dev hosts, one Azurite, real HTTP.

Limits use long windows (an hour, a day) so that a window cannot end in the middle of a
check on a slow machine; when one does all the same (the window index changed between the
first and last request), the scenario runs again in the next window.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator

import pytest
import requests
from azure.ai.vision.face import FaceClient
from azure.core.credentials import AzureKeyCredential
from azure.core.exceptions import HttpResponseError

from shared.policy import audit_rows
from tests.data import make_photos as photos
from tests.e2e.conftest import ALL_ACTIONS, Client
from tests.support.apphost import AppHost, app_env
from tools.dev.seed import seed_customer

KEY = "Ocp-Apim-Subscription-Key"
DAY = 86400


@pytest.fixture(scope="module")
def hosts(azurite, tmp_path_factory) -> Iterator[tuple[AppHost, AppHost]]:
    """Two instances of the app sharing one storage account."""
    env = app_env(azurite.connection_string)
    first = AppHost(tmp_path_factory.mktemp("host-a"), env).start()
    try:
        second = AppHost(tmp_path_factory.mktemp("host-b"), env).start()
        try:
            yield first, second
        finally:
            second.stop()
    finally:
        first.stop()


def customer(prefix: str, **fields) -> dict:
    return seed_customer(f"{prefix}-{uuid.uuid4().hex[:8]}", actions=ALL_ACTIONS, **fields)


def in_one_window(window: int, scenario: Callable[[], None]) -> None:
    """Run ``scenario``; once more if the limit's window ended while it ran."""
    for _ in range(2):
        started = int(time.time() // window)
        scenario()
        if int(time.time() // window) == started:
            return
    raise AssertionError("two windows ended during the scenario")


def refusals_in_audit(customer_id: str, policy: str) -> int:
    today = dt.datetime.now(dt.UTC).date()
    rows = audit_rows(customer_id, today) + audit_rows(customer_id, today - dt.timedelta(days=1))
    return sum(1 for r in rows if r["decision"] == "deny" and policy in r["policyIds"])


def test_the_limit_holds_across_two_instances(hosts) -> None:
    def scenario() -> None:
        seeded = customer("rl", rate_limit=f"6/{DAY}")
        key = seeded["key"]
        statuses = []
        for i in range(12):  # alternate instances: each sees only half the traffic
            url = hosts[i % 2].url
            response = requests.get(f"{url}/api/galleries", headers={KEY: key}, timeout=60)
            statuses.append(response.status_code)
            if response.status_code == 429:
                assert int(response.headers["Retry-After"]) >= 1
                assert response.json()["error"]["code"] == "RateLimitExceeded"
        assert statuses == [200] * 6 + [429] * 6
        # Azure's route family shares the same counter, and answers in Azure's shape
        azure = requests.get(
            f"{hosts[1].url}/api/face/v1.2-preview.1/largepersongroups", headers={KEY: key},
            timeout=60,
        )  # fmt: skip
        assert azure.status_code == 429
        assert azure.json()["error"]["code"] == "429"
        assert int(azure.headers["Retry-After"]) >= 1
        assert refusals_in_audit(seeded["customerId"], "rate-limit") == 7

    in_one_window(DAY, scenario)


@pytest.mark.parametrize("round_", range(3))
def test_concurrent_requests_on_two_instances_never_overshoot(hosts, round_) -> None:
    def scenario() -> None:
        seeded = customer("rc", rate_limit=f"10/{DAY}")
        barrier = threading.Barrier(40)
        statuses: list[int] = []
        lock = threading.Lock()

        def one(i: int) -> None:
            session = requests.Session()
            barrier.wait()
            response = session.get(
                f"{hosts[i % 2].url}/api/galleries", headers={KEY: seeded["key"]}, timeout=120
            )
            with lock:
                statuses.append(response.status_code)

        threads = [threading.Thread(target=one, args=(i,)) for i in range(40)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert Counter(statuses) == {200: 10, 429: 30}

    in_one_window(DAY, scenario)


def test_a_throttled_customer_does_not_throttle_another(hosts) -> None:
    def scenario() -> None:
        noisy = customer("noisy", rate_limit=f"3/{DAY}")
        quiet = customer("quiet", rate_limit=f"50/{DAY}")
        for _ in range(6):
            requests.get(f"{hosts[0].url}/api/galleries", headers={KEY: noisy["key"]}, timeout=60)
        refused = requests.get(
            f"{hosts[1].url}/api/galleries", headers={KEY: noisy["key"]}, timeout=60
        )
        assert refused.status_code == 429
        for host in hosts:
            ok = requests.get(f"{host.url}/api/galleries", headers={KEY: quiet["key"]}, timeout=60)
            assert ok.status_code == 200

    in_one_window(DAY, scenario)


def test_verify_in_a_loop_stops_at_the_gallery_limit(hosts) -> None:
    """Approved for verify and enroll, not identify: verifying one face against every person
    of a gallery finds the person; the verify limit per gallery stops the loop."""

    def scenario() -> None:
        seeded = seed_customer(
            f"vl-{uuid.uuid4().hex[:8]}",
            actions=("detect", "verify", "enroll"),
            verify_limit=f"3/{DAY}",
        )
        client = Client(hosts[0].url, seeded["key"], seeded["customerId"])
        gallery = f"loop-{uuid.uuid4().hex[:6]}"
        assert client.request("PUT", f"/galleries/{gallery}", json={"name": "g"}).ok
        persons = []
        for image in (photos.ASTRONAUT, photos.GRACE_HOPPER):
            person = client.post_json(f"/galleries/{gallery}/persons", {"name": "p"}).json()
            client.request(
                "POST", f"/galleries/{gallery}/persons/{person['personId']}/faces",
                data=image.read_bytes(),
            )  # fmt: skip
            persons.append(person["personId"])
        probe = client.detect(photos.ASTRONAUT.read_bytes(), "returnFaceId=true").json()[0]
        statuses = []
        for i in range(3):  # FaceGate's route, alternating instances
            body = {"faceId": probe["faceId"], "galleryId": gallery, "personId": persons[i % 2]}
            other = Client(hosts[i % 2].url, seeded["key"])
            statuses.append(other.post_json("/verify", body).status_code)
        assert statuses == [200, 200, 200]
        refused = client.post_json(
            "/verify", {"faceId": probe["faceId"], "galleryId": gallery, "personId": persons[0]}
        )
        assert refused.status_code == 429, refused.text
        assert int(refused.headers["Retry-After"]) >= 1
        # the same counter on Azure's route family, through Microsoft's client
        # (retry_total=0: azure-core would otherwise honour Retry-After, a day away here)
        faces = FaceClient(f"{hosts[1].url}/api", AzureKeyCredential(seeded["key"]), retry_total=0)
        with pytest.raises(HttpResponseError) as raised:
            faces.verify_from_large_person_group(
                face_id=probe["faceId"], large_person_group_id=gallery, person_id=persons[1]
            )
        assert raised.value.status_code == 429
        # face-to-face verification is not a gallery search: not counted
        pair = {"faceId1": probe["faceId"], "faceId2": probe["faceId"]}
        assert client.post_json("/verify", pair).status_code == 200
        assert refusals_in_audit(seeded["customerId"], "verify-gallery-limit") == 2

    in_one_window(DAY, scenario)
