"""Secrets and privacy: keys only as hashes at rest, compared in constant time, and no key,
image or face template in logs, audit rows, results or responses.

The module first drives the real app through everything that touches a key, an image
or a template (detect with faceIds, enrolment, identify, verify, a blob upload that
identifies, wrong keys, a key smuggled into the query string), then scans:
every table and every blob of the emulator for the issued keys; the dev host's log,
the app's logs captured in process, the audit rows, the results and the responses for
key material, base64 image data and embedding vectors (runs of floats, and the raw,
base64 and hex bytes of templates known to be stored).
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import re
import uuid

import pytest

from shared.biometrics import store
from shared.pipeline import uploads as pipeline
from shared.policy import registry
from shared.storage import clients, names
from tests.data import make_photos as photos
from tests.support import blobs
from tests.support.apphost import wait_until
from tools.dev.seed import seed_customer

PHOTO = {"X-Capture-Context": "photo"}
KEY_PATTERN = re.compile(rf"{registry.KEY_PREFIX}[A-Za-z0-9_-]{{20,}}")
BASE64_RUN = re.compile(r"[A-Za-z0-9+/]{200,}={0,2}")
FLOAT_RUN = re.compile(r"(?:[-+]?\d*\.\d+(?:[eE][-+]?\d+)?[,;\s\]\[]+){24,}")
MAX_SCANNED_BLOB = 8 * 1024 * 1024


@pytest.fixture(scope="module")
def activity(app, acme, globex):
    """Everything that handles keys, images and templates, done once over real HTTP."""
    responses: list[str] = []

    def keep(response):
        responses.append(response.text)
        return response

    astronaut, hopper = photos.ASTRONAUT.read_bytes(), photos.GRACE_HOPPER.read_bytes()
    gallery = f"priv-{uuid.uuid4().hex[:6]}"
    keep(acme.request("PUT", f"/galleries/{gallery}", json={"name": "Private"}))
    person = keep(acme.post_json(f"/galleries/{gallery}/persons", {"name": "P"})).json()
    keep(acme.request(
        "POST", f"/galleries/{gallery}/persons/{person['personId']}/faces",
        data=astronaut, headers=PHOTO,
    ))  # fmt: skip
    faces = keep(acme.detect(
        astronaut, "returnFaceId=true&returnFaceLandmarks=true&returnFaceAttributes="
        "headPose,blur,exposure,qualityForRecognition,age,emotion",
        headers={**PHOTO, "X-Purpose": "product-demo"},
    )).json()  # fmt: skip
    face_id = faces[0]["faceId"]
    keep(acme.post_json("/identify", {"galleryId": gallery, "faceIds": [face_id]}, headers=PHOTO))
    keep(acme.post_json(
        "/verify", {"faceId": face_id, "galleryId": gallery, "personId": person["personId"]},
        headers=PHOTO,
    ))  # fmt: skip
    keep(globex.detect(hopper, "returnFaceId=true", headers=PHOTO))
    # wrong, revoked-looking and smuggled keys
    near = registry.KEY_PREFIX + acme.key[len(registry.KEY_PREFIX) :][::-1]
    keep(type(acme)(acme.base, near).detect(astronaut))
    keep(acme.request("POST", f"/detect?code={acme.key}&subscription-key={acme.key}",
                      data=astronaut, headers={"Content-Type": "image/png"}))  # fmt: skip
    # a blob upload that identifies against the gallery
    path = f"{acme.customer_id}/privacy.jpg"
    blobs.upload_client(path).upload_blob(
        astronaut, overwrite=True, metadata={"galleryid": gallery, "capturecontext": "photo"}
    )
    result = blobs.result_client(path)
    wait_until(lambda: result.exists(), "the privacy upload's result")
    # a key of its own, issued and used in this process, with its logs captured
    extra = seed_customer(f"priv-{uuid.uuid4().hex[:6]}", actions=("detect",))
    keep(type(acme)(acme.base, extra["key"]).detect(hopper))
    return {
        "keys": [acme.key, globex.key, extra["key"], near],
        "customers": [acme.customer_id, globex.customer_id, extra["customerId"]],
        "faceId": face_id,
        "gallery": gallery,
        "responses": responses,
        "result": result.download_blob().readall().decode(),
    }


def _templates(activity) -> list[bytes]:
    """Raw template bytes that are stored: the faceId's, and the enrolled faces'."""
    tables = clients.table_service()
    acme = activity["customers"][0]
    stored = [tables.get_table_client(names.FACEIDS).get_entity(acme, activity["faceId"])]
    gallery = store.get_gallery(acme, activity["gallery"])
    stored += list(
        tables.get_table_client(names.FACES).query_entities(
            "PartitionKey eq @pk and kind eq 'face'", parameters={"pk": gallery.partition}
        )
    )
    found = [bytes(e["template"]) for e in stored]
    assert len(found) >= 2 and all(len(t) == 128 * 4 for t in found)
    return found


def _leaks(text: str, activity, templates: list[bytes]) -> list[str]:
    """What in ``text`` is key material, image data or a face template."""
    problems = []
    for key in activity["keys"]:
        for form in (key, key[len(registry.KEY_PREFIX) :]):
            if form in text:
                problems.append(f"a key ({form[:6]}...)")
    problems += [f"key-like {m[:8]}..." for m in KEY_PATTERN.findall(text)]
    problems += [f"base64 run of {len(m)} chars" for m in BASE64_RUN.findall(text)]
    problems += [f"a run of floats: {m[:60]}..." for m in FLOAT_RUN.findall(text)]
    for template in templates:
        for form in (base64.b64encode(template).decode()[:40], template.hex()[:64]):
            if form in text:
                problems.append("a template (base64 or hex)")
    return problems


def test_keys_are_stored_only_as_hashes(activity) -> None:
    """Every table and every blob of the emulator, scanned for every issued key."""
    keys = activity["keys"][:3]
    tables = clients.table_service()
    scanned = 0
    for table in tables.list_tables():
        for entity in tables.get_table_client(table.name).list_entities():
            scanned += 1
            blob = json.dumps({k: str(v) for k, v in entity.items()}) + repr(entity.metadata)
            for key in keys:
                assert key not in blob and key[3:] not in blob, f"a key in table {table.name}"
    hashes = {e["PartitionKey"] for e in tables.get_table_client(names.APIKEYS).list_entities()}
    assert {hashlib.sha256(k.encode()).hexdigest() for k in keys} <= hashes
    blobs = clients.blob_service()
    for container in blobs.list_containers():
        client = blobs.get_container_client(container.name)
        for item in client.list_blobs(include=["metadata"]):
            scanned += 1
            data = b""
            # a name with '..' cannot be addressed (see test_isolation_pipeline): its name
            # and metadata are still scanned
            addressable = ".." not in item.name.split("/")
            if item.size <= MAX_SCANNED_BLOB and addressable:
                data = client.get_blob_client(item.name).download_blob().readall()
            texts = [data, item.name.encode(), json.dumps(item.metadata or {}).encode()]
            for key in keys:
                assert not any(key.encode() in t for t in texts), f"a key in {item.name}"
    assert scanned >= 20


def test_keys_are_found_by_hash_and_compared_in_constant_time(activity, monkeypatch) -> None:
    """The registry looks a key up by its SHA-256 (one point read) and compares the stored
    hash with hmac.compare_digest; the key itself never reaches storage."""
    import hmac

    registry.reset_caches()
    reads, compared = [], []
    real_table, real_compare = registry._table, hmac.compare_digest

    class Spy:
        def __init__(self, table):
            self._table = table

        def get_entity(self, *args, **kwargs):
            reads.append((args, kwargs))
            return self._table.get_entity(*args, **kwargs)

        def __getattr__(self, name):
            return getattr(self._table, name)

    monkeypatch.setattr(registry, "_table", lambda name: Spy(real_table(name)))
    monkeypatch.setattr(
        registry.hmac, "compare_digest", lambda a, b: compared.append((a, b)) or real_compare(a, b)
    )
    key = activity["keys"][2]
    customer = registry.authenticate(key)
    assert customer.id == activity["customers"][2]
    digest = hashlib.sha256(key.encode()).hexdigest()
    assert reads[0][0][:2] == (digest, registry.KEY_ROW)
    assert compared == [(digest, digest)]
    assert all(key not in repr(read) for read in reads)
    with pytest.raises(Exception, match="Invalid or revoked"):
        registry.authenticate(key[:-1] + ("A" if key[-1] != "A" else "B"))


def test_logs_hold_no_key_image_or_template(activity, app, caplog) -> None:
    """The dev host's log (every request, every invocation) and the app's logs captured
    while this process authenticates and processes an upload."""
    templates = _templates(activity)
    caplog.set_level(logging.DEBUG)
    registry.reset_caches()
    registry.authenticate(activity["keys"][2])
    with pytest.raises(Exception):  # noqa: B017  (a wrong key: any refusal will do)
        registry.authenticate(activity["keys"][3])
    path = f"{activity['customers'][0]}/privacy-inproc.jpg"
    blobs.upload_client(path).upload_blob(
        photos.ASTRONAUT.read_bytes(), overwrite=True,
        metadata={"galleryid": activity["gallery"], "capturecontext": "photo"},
    )  # fmt: skip
    pipeline.process_upload(blobs.upload_client(path))
    captured = "\n".join(r.getMessage() for r in caplog.records)
    host_log = app.log()
    assert "Executed 'Functions.process_upload'" in host_log and "POST /api/detect" in host_log
    assert _leaks(host_log, activity, templates) == []
    assert _leaks(captured, activity, templates) == []
    raw = app.log_path.read_bytes()
    assert not any(t in raw for t in templates), "raw template bytes in the dev host log"


def test_audit_rows_hold_who_what_and_why_only(activity) -> None:
    templates = _templates(activity)
    allowed = {
        "PartitionKey", "RowKey", "Customer", "Action", "Decision", "PolicyIds", "RequestId",
        "DecisionId", "Channel", "Capture", "Purpose", "Time", "Overall",
        "Actor", "Target",  # an operator's erasure: who, and which data (a gallery id)
    }  # fmt: skip
    rows = 0
    for entity in clients.table_service().get_table_client(names.AUDIT).list_entities():
        rows += 1
        assert set(entity) <= allowed, sorted(set(entity) - allowed)
        assert _leaks(json.dumps(dict(entity), default=str), activity, templates) == []
    assert rows >= 10


def test_results_and_responses_hold_no_template_or_pixels(activity) -> None:
    templates = _templates(activity)
    result = json.loads(activity["result"])
    assert result["status"] == "succeeded" and result["identify"]["results"]
    for text in [activity["result"], *activity["responses"]]:
        assert _leaks(text, activity, templates) == []
    assert len(activity["result"]) < 20_000


def test_the_scanners_find_what_they_look_for(activity) -> None:
    """A positive control: each kind of leak, planted in a text, is reported."""
    import numpy as np

    templates = _templates(activity)
    vector = np.frombuffer(templates[0], dtype="<f4")
    planted = {
        "key": f"auth with {activity['keys'][0]}",
        "key without prefix": activity["keys"][1][len(registry.KEY_PREFIX) :],
        "image": base64.b64encode(photos.GRACE_HOPPER.read_bytes()[:3000]).decode(),
        "floats": json.dumps([round(float(v), 6) for v in vector]),
        "floats, numpy style": str(vector),
        "template hex": f"template={templates[0].hex()}",
        "template base64": base64.b64encode(templates[0]).decode(),
    }
    for what, text in planted.items():
        assert _leaks(text, activity, templates), f"the scan misses {what}"
