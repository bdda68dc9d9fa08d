"""The blob pipeline end to end: uploads through Azurite, BlobCreated events, the dev host, results.

A batch of 55 uploads from five kinds of customer; every upload gets exactly one
result with the right status, denied customers' uploads are never read, and no
upload that should be deleted remains. Then the worker is killed mid-batch and
restarted: every upload is still answered once.
"""

from __future__ import annotations

import json
import os
import uuid
from collections import Counter

import numpy as np
import pytest

from shared.pipeline import access
from tests.data import make_photos as photos
from tests.support.apphost import AppHost, app_env, wait_until
from tests.support.blobs import remaining_uploads, result_client, results_for, upload
from tools.dev.seed import seed_customer

ALL = ("detect", "age", "gender", "emotion", "verify", "identify", "enroll")


def good_images() -> list[bytes]:
    a, g = photos.astronaut(), photos.grace_hopper()
    variants = [a, g, photos.flip(a), photos.flip(g), photos.exposure(a, 0.8)]
    return [photos.encode(v, "JPEG", quality=q) for v in variants for q in (95, 85, 75, 65)]


@pytest.fixture(scope="module")
def tenants(azurite) -> dict[str, str]:
    def seed(prefix: str, **fields) -> str:
        return seed_customer(f"{prefix}-{uuid.uuid4().hex[:6]}", **fields)["customerId"]

    return {
        "acme": seed("bacme", actions=ALL, purposes=("qa",)),
        "keeper": seed("bkeep", actions=ALL, retention="keep"),
        "suspended": seed("bsusp", actions=ALL, status="suspended"),
        "uspd": seed("bpd", sector="law_enforcement", country="US", actions=ALL),
        "unknown": _area_without_customer(f"bnobody-{uuid.uuid4().hex[:6]}"),
    }


def _area_without_customer(customer_id: str) -> str:
    """An upload area whose customer was removed from the registry (or never added)."""
    access.ensure_area(customer_id)
    return customer_id


def test_a_batch_of_55_uploads_each_gets_one_right_result(app, tenants):
    acme, keeper = tenants["acme"], tenants["keeper"]
    good = good_images()
    expect: dict[str, tuple[str, str | None]] = {}  # path -> (status, error code)

    def add(path: str, status: str, code: str | None = None) -> None:
        expect[path] = (status, code)

    for i, data in enumerate(good):
        add(
            upload(acme, f"good/{i:02d}.jpg", data, features="detect,age,emotion", purpose="qa"),
            "succeeded",
        )
    for i in range(5):
        cut = len(good[i]) // (i + 2)
        add(upload(acme, f"corrupt/{i}.jpg", good[i][:cut]), "failed", "InvalidImage")
    add(upload(acme, "corrupt/text.png", b"definitely not a png"), "failed", "InvalidImage")
    for i in range(3):
        add(upload(acme, f"huge/{i}.jpg", b"\xff\xd8\xff" + os.urandom(6 * 1024 * 1024)), "failed",
            "InvalidImageSize")  # fmt: skip
    for i in range(5):
        blank = np.full((240, 320, 3), 40 * i, np.uint8)
        add(upload(acme, f"noface/{i}.png", photos.encode(blank, "PNG")), "succeeded")
    many = photos.encode(photos.composite(), "JPEG")
    for i in range(3):
        add(upload(acme, f"many/{i}.jpg", many), "succeeded")
    for i in range(4):
        add(upload(keeper, f"kept/{i}.jpg", good[i]), "succeeded")
    for i in range(5):
        add(upload(tenants["suspended"], f"s/{i}.jpg", good[i]), "failed", "PolicyDenied")
    for i in range(5):
        add(upload(tenants["uspd"], f"p/{i}.jpg", good[i], galleryid="watchlist",
                capturecontext="photo"), "failed", "PolicyDenied")  # fmt: skip
    for i in range(2):
        add(upload(tenants["unknown"], f"u/{i}.jpg", good[i]), "failed", "UnknownCustomer")
    paths = list(expect)
    assert len(paths) >= 50

    results = wait_until(
        lambda: (r := results_for(paths)) and len(r) == len(paths) and r,
        "a result for every upload",
        timeout=600,
    )
    got = {p: (r["status"], r.get("error", {}).get("code")) for p, r in results.items()}
    assert got == expect

    by_kind = Counter(p.split("/")[1] for p in paths)
    assert by_kind["good"] == 20 and by_kind["huge"] == 3
    for path, result in results.items():
        customer, _, name = path.partition("/")
        assert result["upload"]["name"] == name
        assert result["upload"]["container"] == access.uploads_container(customer)
        assert result["customerId"] == customer
        if path.startswith(f"{acme}/good/"):
            assert len(result["faces"]) == 1
            assert {"age", "emotion", "headPose"} <= set(result["faces"][0]["faceAttributes"])
        if "/noface/" in path:
            assert result["faces"] == []
        if "/many/" in path:
            assert len(result["faces"]) == 4
        if result["status"] == "failed":
            assert "faces" not in result and "analyzeMs" not in result["timings"]
    for path in paths:
        if path.startswith((tenants["suspended"], tenants["uspd"])):
            error = results[path]["error"]
            assert error["decisionId"]
            want = (
                "customer-not-active"
                if path.startswith(tenants["suspended"])
                else ("us-law-enforcement-moratorium")
            )
            assert want in error["policyIds"]
            assert "faces" not in results[path]

    # nothing is lost, nothing kept that should be deleted
    assert remaining_uploads(paths) == {p for p in paths if p.startswith(keeper)}
    # results hold no pixels: small JSON only
    assert max(len(json.dumps(r)) for r in results.values()) < 20_000


def test_killed_worker_answers_every_upload_once_after_restart(azurite, tenants, tmp_path):
    host = AppHost(tmp_path / "host", app_env(azurite.connection_string)).start()
    acme = tenants["acme"]
    good = good_images()
    paths = [upload(acme, f"kill/{i:02d}.jpg", good[i % len(good)]) for i in range(24)]
    wait_until(lambda: len(results_for(paths)) >= 4, "a few results before the kill", 300)
    host.kill()
    before = {p: result_client(p).get_blob_properties() for p in results_for(paths)}
    host.start()
    try:
        results = wait_until(
            lambda: (r := results_for(paths)) and len(r) == len(paths) and r,
            "every upload answered after the restart",
            timeout=600,
        )
    finally:
        host.stop()
    assert all(r["status"] == "succeeded" for r in results.values())
    for path, props in before.items():
        assert result_client(path).get_blob_properties().etag == props.etag, (
            f"{path} was answered twice"
        )
    assert remaining_uploads(paths) == set()
