"""Every file of the hostile corpus, through POST /api/detect and through a blob upload.

The corpus and the answer each file must get are in tests/data/hostile (manifest.json,
made by make_hostile.py). Over HTTP every answer is also checked against the OpenAPI
document; through the pipeline every upload gets exactly one result, with the right
status and code.
"""

from __future__ import annotations

import json

import pytest

from tests.data.hostile import make_hostile
from tests.support.apphost import wait_until
from tests.support.blobs import results_for, upload

MANIFEST = json.loads(make_hostile.MANIFEST.read_text())
QUERY = "returnFaceAttributes=headPose,qualityForRecognition&returnFaceLandmarks=true"


def test_the_committed_corpus_matches_its_manifest() -> None:
    assert make_hostile.check() == []
    assert len(MANIFEST) >= 40


@pytest.mark.parametrize("entry", MANIFEST, ids=[e["name"] for e in MANIFEST])
def test_every_hostile_file_through_detect(acme, entry: dict) -> None:
    data = make_hostile.build(entry["name"])
    response = acme.detect(
        data, QUERY, headers={"Content-Type": entry["contentType"], "X-Capture-Context": "photo"}
    )  # the client checks the answer against the OpenAPI document
    expected = entry["http"]
    body = response.json()
    got_code = body["error"]["code"] if response.status_code >= 400 else None
    assert (response.status_code, got_code) == (expected["status"], expected["code"]), body
    if expected["status"] == 200 and entry["faces"] is not None:
        assert len(body) == entry["faces"]


def test_every_hostile_file_through_a_blob_upload(app, acme) -> None:
    paths = {}
    for entry in MANIFEST:
        path = upload(
            acme.customer_id, f"hostile/{entry['name']}", make_hostile.build(entry["name"]),
            features="detect",
        )  # fmt: skip
        paths[path] = entry
    results = wait_until(
        lambda: (r := results_for(list(paths))) and len(r) == len(paths) and r,
        "a result for every hostile upload",
        timeout=300,
    )
    for path, entry in paths.items():
        result = results[path]
        got = (result["status"], result.get("error", {}).get("code"))
        assert got == (entry["blob"]["status"], entry["blob"]["code"]), (path, result)
        if result["status"] == "succeeded" and entry["faces"] is not None:
            assert len(result["faces"]) == entry["faces"], path
        if result["status"] == "failed":
            assert "faces" not in result
    assert "Traceback" not in app.log()
