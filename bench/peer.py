"""Run the peer (face_recognition, dlib) on the same manifest photos, in its own venv.

The peer lives only in .build/venv-peer (created by ``make eval`` from
bench/requirements-peer.txt); it is run as a subprocess
(bench/peer_face_recognition.py) that answers one JSON line per photo. Without that venv
the evaluation runs without the peer and says so.
"""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bench.dataset import Dataset
from bench.systems import SystemRun, progress

ROOT = Path(__file__).resolve().parents[1]
VENV = ROOT / ".build" / "venv-peer"
SCRIPT = ROOT / "bench" / "peer_face_recognition.py"
REQUIREMENTS = ROOT / "bench" / "requirements-peer.txt"
TOLERANCE = 0.6  # face_recognition.compare_faces' default: same person when distance <= 0.6
NAME = "face_recognition (dlib HOG + ResNet)"
# one thread, like ours: dlib-bin runs its own kernels, these only pin any BLAS it loads
SINGLE_THREAD = {k: "1" for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}


@dataclass(frozen=True)
class PeerSetup:
    python: Path | None
    reason: str  # why the peer is unavailable, or its versions


def find_peer(venv: Path = VENV) -> PeerSetup:
    """The peer venv's interpreter if it is installed and imports, else why not."""
    python = venv / "bin" / "python"
    if not (venv / ".installed").exists() or not python.exists():
        return PeerSetup(None, f"{venv.relative_to(ROOT)} is not set up (make eval creates it)")
    probe = (
        "import importlib.metadata as m, face_recognition, dlib; "
        "print(m.version('face-recognition'), dlib.__version__)"
    )
    done = subprocess.run([str(python), "-c", probe], capture_output=True, text=True)
    if done.returncode != 0:
        return PeerSetup(None, f"the peer venv does not import: {done.stderr.strip()[-200:]}")
    fr_version, dlib_version = done.stdout.split()
    return PeerSetup(python, f"face_recognition {fr_version}, dlib {dlib_version}")


def _similarity(distance: np.ndarray) -> np.ndarray:
    return -np.asarray(distance, np.float64)


def run_peer(setup: PeerSetup, ds: Dataset, parts: set[str], embed_paths: list[str]) -> SystemRun:
    """The peer's detections, embeddings and timings on the parts asked for."""
    assert setup.python is not None
    run = SystemRun(
        name=NAME,
        version=setup.reason,
        threshold=-TOLERANCE,
        threshold_label=f"distance <= {TOLERANCE} (library default tolerance)",
        similarity=_similarity,
    )
    items: list[dict] = []
    if "detection" in parts:
        items += [{"path": e.path, "task": "detect"} for e in ds.detection]
    if "verification" in parts:
        items += [{"path": e.path, "task": "embed", "kind": "verify"} for e in ds.verification]
    by_path = {e.path: e for e in ds.attributes}
    items += [
        {"path": p, "task": "embed", "cropped": bool(by_path[p].get("cropped_face"))}
        for p in embed_paths
    ]
    job = json.dumps({"root": str(Path(ds.root).resolve()), "items": items})
    env = {**os.environ, **SINGLE_THREAD}
    with subprocess.Popen(
        [str(setup.python), str(SCRIPT)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    ) as process:
        assert process.stdin is not None and process.stdout is not None
        process.stdin.write(job)
        process.stdin.close()
        for item, line in progress(
            zip(items, process.stdout, strict=False), "peer", total=len(items)
        ):
            _take(run, item, json.loads(line))
        code = process.wait()
    if code != 0:
        raise RuntimeError(f"the peer exited with {code}")
    return run


def _take(run: SystemRun, item: dict, answer: dict) -> None:
    if answer["path"] != item["path"]:
        raise RuntimeError(f"the peer answered {answer['path']} for {item['path']}")
    boxes = np.asarray(answer["boxes"], np.float64).reshape(-1, 4)
    if item["task"] == "detect":
        run.detections[item["path"]] = boxes
        if answer["error"] is None:
            run.detect_seconds.append(answer["detect_s"])
        return
    embedding = answer["embedding"]
    run.embeddings[item["path"]] = None if embedding is None else np.asarray(embedding)
    if item.get("kind") == "verify" and answer["error"] is None:
        run.embed_seconds.append(answer["detect_s"] + answer["embed_s"])
