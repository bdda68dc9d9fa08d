"""``bench.quantisation`` end to end on a two-photo directory: the harness quantises, times
and groups what it measures; the findings themselves are in docs/vision.md, not here."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from bench import quantisation
from tests.data import make_photos


def test_the_harness_quantises_and_reports_by_group(tmp_path: Path) -> None:
    shutil.copy(make_photos.ASTRONAUT, tmp_path / "a.png")
    shutil.copy(make_photos.GRACE_HOPPER, tmp_path / "b.jpg")
    (tmp_path / "broken.jpg").write_bytes(b"\xff\xd8\xff not a jpeg")
    manifest = {
        "verification": [{"path": "a.png", "identity": "a"}, {"path": "b.jpg", "identity": "b"}],
        "attributes": [
            {"path": "a.png", "race": "group one"},
            {"path": "broken.jpg", "race": "group one"},
            {"path": "b.jpg", "race": "group two"},
        ],
    }
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    r = quantisation.run(tmp_path, per_group=2, keep_ends=True, calibrate_on_data=0)
    assert r["calibration_chips"] >= 80  # both portraits found in most of their variations
    assert r["fp32_ms"] > 0 and r["int8_ms"] > 0
    assert set(r["groups"]) == {"group one", "group two", "verification set"}
    assert r["groups"]["group one"]["faces"] == 1  # the broken photo is skipped, not fatal
    # calibrated on these very faces: the int8 descriptor stays well inside a match
    assert r["groups"]["verification set"]["max"] < r["threshold"] / 2
    text = quantisation.render(r)
    assert "| group two | 1 |" in text and "int8" in text
