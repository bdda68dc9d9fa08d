"""The blob worker killed mid-batch, for the cases tests/e2e/test_blob_pipeline.py leaves out.

That test kills the worker during a batch of good uploads of a customer whose uploads
are deleted after success. Here the uploads stay: a customer that keeps them, and
bad images (final failures). After a restart the scanner finds every one of them
again, so only the receipts and the results' source ETags stand between them and a
second analysis. Every upload must end with exactly one result, and no result written
before the kill may be rewritten after it.
"""

from __future__ import annotations

import json
import time
import uuid

from tests.data import make_photos as photos
from tests.support import blobs
from tests.support.apphost import AppHost, app_env, wait_until
from tools.dev.seed import seed_customer

ALL = ("detect", "age", "gender", "emotion", "verify", "identify", "enroll")


def _results(paths: list[str]) -> dict[str, tuple[str, dict]]:
    found = {}
    for path in paths:
        blob = blobs.result_client(path)
        if blob.exists():
            found[path] = (
                blob.get_blob_properties().etag,
                json.loads(blob.download_blob().readall()),
            )
    return found


def test_kept_and_failed_uploads_are_answered_once_across_a_kill(azurite, tmp_path) -> None:
    keeper = seed_customer(
        f"kkeep-{uuid.uuid4().hex[:6]}", actions=ALL, purposes=("qa",), retention="keep"
    )
    customer = keeper["customerId"]
    good = photos.GRACE_HOPPER.read_bytes()
    expected: dict[str, str] = {}
    for i in range(10):
        path = blobs.upload(
            customer, f"good/{i:02d}.jpg", good, features="detect,age", purpose="qa"
        )
        expected[path] = "succeeded"
    for i in range(6):
        path = blobs.upload(customer, f"bad/{i}.jpg", good[: 1000 + i])
        expected[path] = "failed"
    paths = list(expected)

    host = AppHost(tmp_path / "host", app_env(azurite.connection_string)).start()
    wait_until(lambda: len(_results(paths)) >= 3, "a few results before the kill", 300)
    host.kill()
    before = _results(paths)
    host.start()
    try:
        after = wait_until(
            lambda: (r := _results(paths)) and len(r) == len(paths) and r,
            "every kept upload answered after the restart",
            timeout=300,
        )
        time.sleep(2)  # several more scans (every 0.3 s): a kept upload must not run again
        again = _results(paths)
    finally:
        host.stop()
    assert {p: body["status"] for p, (_, body) in after.items()} == expected
    for path, (etag, _) in before.items():
        assert after[path][0] == etag, f"{path} was answered again after the restart"
    assert {p: etag for p, (etag, _) in again.items()} == {p: e for p, (e, _) in after.items()}
    assert blobs.remaining_uploads(paths) == set(paths)  # kept, as the record says
    for path, (_, body) in after.items():
        if path.split("/")[1] == "bad":
            assert body["error"]["code"] == "InvalidImage" and "faces" not in body
