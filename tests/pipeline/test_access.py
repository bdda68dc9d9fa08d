"""Per-customer upload rights, enforced by storage itself (Azurite checks SAS like Azure).

Each customer's credential is a pair of container SAS URLs bound to stored access
policies: with A's, nothing of B's is writable or readable, A cannot read or delete
its own uploads or forge its own results, and revoking A's credential stops it at once
without touching B's.
"""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from azure.core.exceptions import HttpResponseError
from azure.storage.blob import ContainerClient

from shared.errors import BadArgument
from shared.pipeline import access
from shared.storage import clients
from tests.data import make_photos as photos
from tools.dev.seed import seed_customer

IMAGE = photos.ASTRONAUT.read_bytes()


def _customer(prefix: str) -> str:
    return seed_customer(f"{prefix}-{uuid.uuid4().hex[:8]}", actions=("detect",))["customerId"]


def _refused(call) -> int:
    """The HTTP status storage answered a refused call with (the call must fail)."""
    with pytest.raises(HttpResponseError) as refused:
        call()
    return refused.value.status_code


@pytest.fixture
def pair(azurite) -> tuple[access.Grant, access.Grant]:
    return access.grant(_customer("sas-a")), access.grant(_customer("sas-b"))


def test_a_credential_reaches_only_its_own_containers(pair):
    a, b = pair
    a_uploads = ContainerClient.from_container_url(a.uploads_url)
    a_results = ContainerClient.from_container_url(a.results_url)
    a_uploads.upload_blob("mine.jpg", IMAGE)  # its own area: allowed

    # A's SAS presented on B's containers: the signature does not cover them
    b_uploads_with_a = ContainerClient.from_container_url(
        b.uploads_url.split("?")[0] + "?" + a.uploads_url.split("?")[1]
    )
    b_results_with_a = ContainerClient.from_container_url(
        b.results_url.split("?")[0] + "?" + a.results_url.split("?")[1]
    )
    assert _refused(lambda: b_uploads_with_a.upload_blob("intrude.jpg", IMAGE)) == 403
    assert _refused(lambda: list(b_results_with_a.list_blobs())) == 403

    owner = clients.blob_service()  # the FaceGate identity sees what really is in B's area
    b_result = owner.get_blob_client(access.results_container(b.customer_id), "x.jpg.json")
    b_result.upload_blob(b"{}")
    assert _refused(lambda: b_results_with_a.get_blob_client("x.jpg.json").download_blob()) == 403
    assert [
        blob.name
        for blob in owner.get_container_client(access.uploads_container(b.customer_id)).list_blobs()
    ] == []  # the pipeline never sees a blob A tried to put there

    # within its own area A writes uploads and reads results, nothing more
    assert _refused(lambda: a_uploads.get_blob_client("mine.jpg").download_blob()) == 403
    assert _refused(lambda: list(a_uploads.list_blobs())) == 403
    assert _refused(lambda: a_uploads.delete_blob("mine.jpg")) == 403
    assert _refused(lambda: a_results.upload_blob("forged.jpg.json", b"{}")) == 403
    owner.get_blob_client(access.results_container(a.customer_id), "mine.jpg.json").upload_blob(
        b'{"status": "succeeded"}'
    )
    assert a_results.download_blob("mine.jpg.json").readall() == b'{"status": "succeeded"}'
    assert [blob.name for blob in a_results.list_blobs()] == ["mine.jpg.json"]


def test_revoking_stops_one_customer_at_once(pair):
    a, b = pair
    ContainerClient.from_container_url(a.uploads_url).upload_blob("before.jpg", IMAGE)
    access.revoke(a.customer_id)
    assert (
        _refused(
            lambda: ContainerClient.from_container_url(a.uploads_url).upload_blob(
                "after.jpg", IMAGE
            )
        )
        == 403
    )
    assert (
        _refused(lambda: list(ContainerClient.from_container_url(a.results_url).list_blobs()))
        == 403
    )
    ContainerClient.from_container_url(b.uploads_url).upload_blob(
        "still.jpg", IMAGE
    )  # B unaffected
    fresh = access.grant(a.customer_id)  # a new grant restores access
    ContainerClient.from_container_url(fresh.uploads_url).upload_blob("again.jpg", IMAGE)


def test_a_grant_is_time_limited(azurite):
    customer = _customer("sas-t")
    grant = access.grant(customer, dt.timedelta(hours=2))
    assert grant.mode == "stored-access-policy"
    policy = (
        clients.blob_service()
        .get_container_client(access.uploads_container(customer))
        .get_container_access_policy()["signed_identifiers"][0]
    )
    expiry = policy.access_policy.expiry
    expiry = expiry if isinstance(expiry, dt.datetime) else dt.datetime.fromisoformat(expiry)
    left = expiry.replace(tzinfo=dt.UTC) - dt.datetime.now(dt.UTC)
    assert dt.timedelta(hours=1, minutes=55) < left <= dt.timedelta(hours=2)
    assert policy.access_policy.permission == "cw"
    for too_long in (dt.timedelta(days=8), dt.timedelta(minutes=1)):
        with pytest.raises(BadArgument):
            access.grant(customer, too_long)


def test_container_names_identify_the_customer(azurite):
    customer = _customer("sas-n")
    uploads, results = access.ensure_area(customer)
    assert uploads.startswith("up-") and results.startswith("rs-")
    assert 3 <= len(uploads) <= 63 and uploads[3:] == results[3:]
    assert access.owner_of(uploads) == customer
    assert access.owner_of(results) is None  # results containers are never pipeline input
    assert access.uploads_container("a_b") != access.uploads_container("a-b")


def test_a_customer_cannot_relabel_its_container_as_anothers(pair):
    """The pipeline reads the owner from container metadata: a SAS cannot change it, and
    metadata that does not hash to the container's name would not be trusted anyway."""
    a, b = pair
    uploads = ContainerClient.from_container_url(a.uploads_url)
    assert _refused(lambda: uploads.set_container_metadata({"customerid": b.customer_id})) == 403
    owner = clients.blob_service().get_container_client(access.uploads_container(a.customer_id))
    owner.set_container_metadata({"customerid": b.customer_id})  # as if it had succeeded
    access._owners.clear()  # forget what this process learnt about owners
    assert access.owner_of(access.uploads_container(a.customer_id)) is None


def test_the_admin_cli_grants_shows_and_revokes(azurite):
    """`python -m tools.admin uploads ...` as an operator runs it, and the SAS it prints."""
    import json
    import os
    import subprocess
    import sys

    from tools.dev.azurite import ROOT

    def admin(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "tools.admin", "uploads", *args], cwd=ROOT,
            env={**os.environ}, capture_output=True, text=True, timeout=120,
        )  # fmt: skip

    customer = _customer("sas-cli")
    done = admin("grant", "--customer", customer, "--hours", "1")
    assert done.returncode == 0, done.stderr
    grant = json.loads(done.stdout)
    assert grant["customerId"] == customer and grant["mode"] == "stored-access-policy"
    ContainerClient.from_container_url(grant["uploadsContainerUrl"]).upload_blob("cli.jpg", IMAGE)
    shown = json.loads(admin("show", "--customer", customer).stdout)
    assert shown["uploadsContainer"] == access.uploads_container(customer)
    assert admin("revoke", "--customer", customer).returncode == 0
    uploads = ContainerClient.from_container_url(grant["uploadsContainerUrl"])
    assert _refused(lambda: uploads.upload_blob("late.jpg", IMAGE)) == 403
    unknown = admin("grant", "--customer", f"nobody-{uuid.uuid4().hex[:6]}")
    assert unknown.returncode == 2 and "NotFound" in unknown.stderr
