"""``python -m bench.eval`` end to end on a tiny manifest made from the public-domain portraits.

Checks the harness (scoring, Markdown, JSON, PNGs) without the peer; the figures on the
research photos live in docs/accuracy.md, not here.
"""

from __future__ import annotations

import json

from bench import eval as bench_eval
from tests.data import make_photos as photos


def test_eval_writes_summary_json_and_figures(tmp_path, capsys):
    data = tmp_path / "data"
    data.mkdir()
    a, g = photos.astronaut(), photos.grace_hopper()
    files = {
        "a1.jpg": a,
        "a2.jpg": photos.flip(a),
        "g1.jpg": g,
        "g2.jpg": photos.exposure(g, 0.8),
        "crowd.jpg": photos.composite(),
    }
    for name, rgb in files.items():
        (data / name).write_bytes(photos.encode(rgb, "JPEG"))
    manifest = {
        "verification": [
            {"path": "a1.jpg", "identity": "a"},
            {"path": "a2.jpg", "identity": "a"},
            {"path": "g1.jpg", "identity": "g"},
            {"path": "g2.jpg", "identity": "g"},
        ],
        "detection": [{"path": "crowd.jpg", "expected_faces": 4}],
        "attributes": [
            {"path": "a1.jpg", "age": 35, "gender": "female", "race": "white"},
            {"path": "g1.jpg", "age": 77, "gender": "female", "race": "white"},
            {"path": "a2.jpg", "emotion": "happy"},
        ],
    }
    (data / "manifest.json").write_text(json.dumps(manifest))
    out = tmp_path / "report"

    assert bench_eval.main(["--data", str(data), "--no-peer", "--out", str(out)]) == 0

    printed = capsys.readouterr().out
    summary = (out / "summary.md").read_text()
    assert summary in printed  # what is printed is what is written
    assert "Peer: not run (--no-peer)" in summary
    results = json.loads((out / "results.json").read_text())
    assert results["peer"] is None
    detection = results["ours"]["detection"]["per_source"]["crowd.jpg"]
    assert (detection["found"], detection["expected"]) == (4, 4)
    verification = results["ours"]["verification"]["overall"]
    assert verification["genuine"] == 2 and verification["impostor"] == 2
    assert verification["accuracy"] == 1.0  # two people, four photos: no excuse
    assert results["age"]["overall"]["n"] == 2
    assert {"verification_roc_det.png", "detection_by_size.png", "emotion_confusion.png"} <= {
        p.name for p in out.glob("*.png")
    }
