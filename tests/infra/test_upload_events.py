"""The pipeline's trigger matches what the infra feeds it: Event Grid -> queue -> function.

Each customer uploads into its own container (``up-<hash>``), so no blob trigger (one
container each) can serve them; the Event Grid subscription in infra/ sends BlobCreated
events of every ``up-`` container to the queue that ``process_upload`` is triggered by.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from shared import settings
from shared.pipeline import access
from shared.storage import names
from tests.infra import bicep
from tools.dev.seed import BLOB_EVENTS


@pytest.fixture(scope="module")
def bindings() -> dict[str, list[dict[str, Any]]]:
    import function_app
    from tools.devhost.functions import app_functions  # an app lists its functions only once

    return {
        f.get_function_name(): json.loads(f.get_function_json())["bindings"]
        for f in app_functions(function_app.app)
    }


def _subscription() -> dict[str, Any]:
    return bicep.module("eventgrid")["resources"]["uploadsSubscription"]["config"]["properties"]


def test_process_upload_reads_the_queue_event_grid_writes(bindings) -> None:
    trigger = next(b for b in bindings["process_upload"] if b["type"] == "queueTrigger")
    assert trigger["queueName"] == names.UPLOAD_EVENTS
    assert trigger["connection"] == settings.STORAGE_CONNECTION
    main = bicep.main()
    assert bicep.variable(main, "uploadEventsQueueName") == names.UPLOAD_EVENTS
    params = bicep.module_params("eventGrid")
    assert params["queueName"] == "uploadEventsQueueName"
    destination = _subscription()["deliveryWithResourceIdentity"]["destination"]
    assert destination["endpointType"] == "StorageQueue"
    assert destination["properties"]["queueName"] == "queueName"


def test_the_subscription_covers_exactly_customer_upload_containers() -> None:
    assert bicep.variable(bicep.main(), "uploadContainerPrefix") == access.UPLOADS_PREFIX
    assert bicep.module_params("eventGrid")["containerPrefix"] == "uploadContainerPrefix"
    event_filter = _subscription()["filter"]
    assert list(bicep.strings(event_filter["includedEventTypes"])) == [
        "Microsoft.Storage.BlobCreated"
    ]
    assert (
        "/blobServices/default/containers/${containerPrefix}" in event_filter["subjectBeginsWith"]
    )
    assert not access.RESULTS_PREFIX.startswith(access.UPLOADS_PREFIX)


def test_the_blob_is_bound_as_an_sdk_client_from_the_event(bindings) -> None:
    blob = next(b for b in bindings["process_upload"] if b["type"] == "blob")
    assert blob["path"] == "{data.url}" and blob["direction"] == "IN"
    assert blob["connection"] == settings.STORAGE_CONNECTION


def test_poison_events_reach_upload_poison(bindings) -> None:
    trigger = next(b for b in bindings["upload_poison"] if b["type"] == "queueTrigger")
    assert trigger["queueName"] == names.UPLOAD_EVENTS_POISON == f"{names.UPLOAD_EVENTS}-poison"


def test_the_dev_host_emulates_the_same_subscription() -> None:
    connection, prefix, queue = BLOB_EVENTS.split(":")
    assert (connection, prefix, queue) == (
        settings.STORAGE_CONNECTION,
        access.UPLOADS_PREFIX,
        names.UPLOAD_EVENTS,
    )
    sample = json.loads((bicep.REPO / "local.settings.sample.json").read_text())
    assert sample["Values"]["DEVHOST_BLOB_EVENTS"] == BLOB_EVENTS


def test_the_per_customer_template_makes_the_containers_the_cli_names() -> None:
    """infra/customer-uploads.bicep: the same two containers as `tools.admin uploads grant`,
    with the customer id as metadata, and roles scoped to those containers only."""
    tree = bicep.tree(bicep.INFRA / "customer-uploads.bicep")
    params = tree["parameters"]
    name = access.uploads_container("contoso")
    for param in ("uploadsContainerName", "resultsContainerName"):
        sizes = {d["type"]: d["argument"] for d in params[param]["decorators"] if "argument" in d}
        assert sizes.get("min_length") == sizes.get("max_length") == len(name), param
    resources = tree["resources"]
    for container in ("uploads", "results"):
        body = resources[container]["config"]
        assert body["properties"]["metadata"] == {access.CUSTOMER_METADATA: "customerId"}
        assert body["properties"]["publicAccess"] == "None"
    text = (bicep.INFRA / "customer-uploads.bicep").read_text(encoding="utf-8")
    assert "ba92f5b4-2d11-453d-a403-e96b0029c9fe" in text  # Storage Blob Data Contributor
    assert "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1" in text  # Storage Blob Data Reader
    for assignment, scope in (("uploadsWriter", "uploads"), ("resultsReader", "results")):
        assert resources[assignment]["config"]["config"]["scope"] == scope
