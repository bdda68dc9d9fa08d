"""Run FaceGate's vision module (shared.vision) over a manifest's photos for ``bench.eval``.

One onnxruntime thread per session (the deployed default, FACEGATE_ONNX_THREADS=1), so the
per-image times compare with the single-threaded peer. Decoding is not timed.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from bench.dataset import Dataset, Entry
from bench.systems import SystemRun, progress
from shared.errors import FaceGateError
from shared.vision.analyzer import Analyzer, to_rgb
from shared.vision.catalog import Catalog
from shared.vision.face import Face
from shared.vision.recognizer import DISTANCE_THRESHOLD, distance_to_confidence

NAME = "FaceGate (shared.vision)"


@dataclass
class AttributeRecord:
    entry: Entry
    age: float | None = None
    gender: str | None = None
    gender_confidence: float | None = None
    emotion: str | None = None
    forced_gender: str | None = None  # the model's answer without abstention
    found: bool = False


def largest_face(
    analyzer: Analyzer,
    rgb: np.ndarray,
    attributes: Iterable[str],
    *,
    embeddings: bool = False,
    cropped: bool = False,
) -> Face | None:
    """The largest detected face; for a face crop with no detection, the whole crop."""
    faces = analyzer.analyze(rgb, tuple(attributes), embeddings=embeddings, max_faces=1)
    if faces or not cropped:
        return faces[0] if faces else None
    h, w = rgb.shape[:2]
    rect = {"left": 0, "top": 0, "width": w, "height": h}
    found = analyzer.analyze(rgb, tuple(attributes), embeddings=embeddings, face_rectangles=[rect])
    return found[0]


def decode(ds: Dataset, entry: Entry) -> np.ndarray | None:
    try:
        return to_rgb(ds.read(entry))
    except FaceGateError:
        return None


def new_run(analyzer: Analyzer) -> SystemRun:
    versions = analyzer.versions()
    return SystemRun(
        name=NAME,
        version=str(versions.get("recognitionModel", "")),
        threshold=0.5,
        threshold_label=f"compare() >= 0.5 (distance {DISTANCE_THRESHOLD})",
        similarity=distance_to_confidence,
    )


def run_detection(analyzer: Analyzer, ds: Dataset, run: SystemRun) -> None:
    for entry in progress(ds.detection, "ours: detection"):
        rgb = decode(ds, entry)
        boxes = np.zeros((0, 4))
        if rgb is not None:
            start = time.perf_counter()
            faces = analyzer.analyze(rgb, (), landmarks=False)
            run.detect_seconds.append(time.perf_counter() - start)
            boxes = np.array([f.box for f in faces], np.float64).reshape(-1, 4)
        run.detections[entry.path] = boxes


def run_verification(analyzer: Analyzer, ds: Dataset, run: SystemRun) -> None:
    for entry in progress(ds.verification, "ours: verification"):
        rgb = decode(ds, entry)
        face = None
        if rgb is not None:
            start = time.perf_counter()
            face = largest_face(analyzer, rgb, (), embeddings=True)
            run.embed_seconds.append(time.perf_counter() - start)
        run.embeddings[entry.path] = None if face is None else face.embedding


def run_attributes(
    analyzer: Analyzer, ds: Dataset, run: SystemRun, embed_paths: set[str]
) -> list[AttributeRecord]:
    """Age, gender and emotion of every attribute photo; embeddings for ``embed_paths`` too."""
    records = []
    for entry in progress(ds.attributes, "ours: attributes"):
        wanted = [key for key in ("age", "gender", "emotion") if entry.get(key) is not None]
        record = AttributeRecord(entry)
        rgb = decode(ds, entry)
        embed = entry.path in embed_paths
        if rgb is not None and (wanted or embed):
            face = largest_face(
                analyzer, rgb, wanted, embeddings=embed, cropped=bool(entry.get("cropped_face"))
            )
            if face is not None:
                record.found = True
                attrs = face.attributes
                record.age = attrs.get("age")
                record.gender = attrs.get("gender")
                record.gender_confidence = attrs.get("genderConfidence")
                if "gender" in attrs:
                    _, p_male = analyzer.age_gender_model.infer(rgb, face.box)
                    record.forced_gender = "male" if p_male >= 0.5 else "female"
                if "emotion" in attrs:
                    record.emotion = max(attrs["emotion"], key=attrs["emotion"].get)
                if embed:
                    run.embeddings[entry.path] = face.embedding
        if embed and entry.path not in run.embeddings:
            run.embeddings[entry.path] = None
        records.append(record)
    return records


def run_all(
    ds: Dataset, parts: set[str], embed_paths: set[str]
) -> tuple[SystemRun, list[AttributeRecord], dict[str, str]]:
    """(our run, attribute records, model versions) on the parts asked for."""
    analyzer = Analyzer(Catalog(threads=1))
    run = new_run(analyzer)
    if "detection" in parts:
        run_detection(analyzer, ds, run)
    if "verification" in parts:
        run_verification(analyzer, ds, run)
    records: list[AttributeRecord] = []
    if "attributes" in parts:
        records = run_attributes(analyzer, ds, run, embed_paths)
    return run, records, analyzer.versions()
