"""The peer: the ``face_recognition`` library (dlib HOG detector + dlib ResNet) on manifest photos.

Runs ONLY in the bench's peer venv (.build/venv-peer, bench/requirements-peer.txt) as a
subprocess of ``bench.eval``; it imports nothing from this repository. It reads a job from
stdin::

    {"root": "/path/to/dataset", "items": [{"path": "...", "task": "detect|embed",
                                              "cropped": false}, ...]}

and writes one JSON line per item to stdout, in order::

    {"path", "task", "boxes": [[x1, y1, x2, y2], ...], "embedding": [128 floats] | null,
     "detect_s", "embed_s", "error": null | "..."}

Library defaults throughout: HOG with one upsampling, ``model="small"`` (5-point) landmarks,
``num_jitters=1``. ``embed`` encodes the largest face; for a ``cropped`` photo (a face chip)
with no detection the whole photo is the face, as ``bench.eval`` does for our pipeline.
Pixels are decoded as ours are: EXIF orientation applied, RGB, and a photo larger than
4096 px on its longer side analysed at 4096 px (FaceGate's documented limit) with boxes
mapped back to the original pixels. Decoding is not timed.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import face_recognition
import numpy as np
from PIL import Image, ImageOps

MAX_SIDE = 4096


def load_rgb(path: Path) -> tuple[np.ndarray, float]:
    """(RGB array, scale from the original to the array)."""
    with Image.open(path) as image:
        rgb = ImageOps.exif_transpose(image).convert("RGB")
    scale = min(1.0, MAX_SIDE / max(rgb.size))
    if scale < 1.0:
        size = (round(rgb.width * scale), round(rgb.height * scale))
        rgb = rgb.resize(size, Image.Resampling.LANCZOS)
    return np.array(rgb), scale


def run_item(root: Path, item: dict) -> dict:
    out = {"path": item["path"], "task": item["task"], "boxes": [], "embedding": None}
    out.update(detect_s=0.0, embed_s=0.0, error=None)
    try:
        rgb, scale = load_rgb(root / item["path"])
    except Exception as exc:  # report any decode failure, keep going
        out["error"] = f"{type(exc).__name__}: {exc}"[:200]
        return out
    start = time.perf_counter()
    locations = face_recognition.face_locations(rgb)  # (top, right, bottom, left)
    out["detect_s"] = time.perf_counter() - start
    out["boxes"] = [
        [left / scale, top / scale, right / scale, bottom / scale]
        for top, right, bottom, left in locations
    ]
    if item["task"] != "embed":
        return out
    if locations:
        largest = max(locations, key=lambda t: (t[2] - t[0]) * (t[1] - t[3]))
    elif item.get("cropped"):
        height, width = rgb.shape[:2]
        largest = (0, width, height, 0)
    else:
        return out
    start = time.perf_counter()
    encoding = face_recognition.face_encodings(rgb, [largest])[0]
    out["embed_s"] = time.perf_counter() - start
    out["embedding"] = [round(float(v), 6) for v in encoding]
    return out


def main() -> int:
    job = json.load(sys.stdin)
    root = Path(job["root"])
    for item in job["items"]:
        sys.stdout.write(json.dumps(run_item(root, item)) + "\n")
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
