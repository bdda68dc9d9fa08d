"""The pipeline: decode -> detect -> the model adapters a request needs, one Face per face.

Detection finds the faces; then the adapters of the model zoo (shared/vision/zoo.py) fill
each Face in dependency order (the mesh before what is aligned with it). Only the adapters
a call needs run, and each is built (its sessions loaded through the catalogue) the first
time it is needed, once per Analyzer under a lock; onnxruntime sessions are safe to run
from many threads, so an Analyzer is too.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Collection, Sequence
from typing import Any

import numpy as np
import onnxruntime as ort

from shared.errors import BadArgument

# the built-in adapters register themselves on import
from shared.vision import agegender, emotion, facemesh, quality, zoo  # noqa: F401
from shared.vision.blazeface import FULL_RANGE, SHORT_RANGE, BlazeFace, Detections
from shared.vision.detector import DetectorConfig, FaceDetector
from shared.vision.face import ATTRIBUTES, Face, landmarks_from_points, rectangle_from_box
from shared.vision.imageio import Decoded, check_array, decode
from shared.vision.mtcnn import MTCNN
from shared.vision.recognizer import Recognizer

# catalogue names of the detection models (models/manifest.json); the per-face models name
# theirs in their adapters
DETECTION_MODELS = {
    "detector": "blazeface_full_192",
    "free_size": "blazeface_full_any",
    "close_up": "blazeface_short_128",
    "pnet": "mtcnn_pnet",
    "rnet": "mtcnn_rnet",
    "onet": "mtcnn_onet",
}
RECOGNITION_MODEL = Recognizer.name  # the default; stored with embeddings and galleries
MAX_FACES_LIMIT = 100


class Analyzer:
    """Face detection, landmarks, attributes and embeddings on one image at a time."""

    def __init__(
        self, catalog: zoo.Catalog | None = None, recognition_model: str = RECOGNITION_MODEL
    ) -> None:
        if catalog is None:
            from shared.vision.catalog import default_catalog

            catalog = default_catalog()
        self.catalog = catalog
        self.recognition_model = zoo.recognizer_class(recognition_model).name
        self._lock = threading.RLock()  # builders nest (detector -> mtcnn)
        self._parts: dict[str, Any] = {}

    # --- lazily built detectors and adapters --------------------------------------------
    def _part(self, key: str, build: Callable[[], Any]) -> Any:
        part = self._parts.get(key)
        if part is None:
            with self._lock:
                part = self._parts.get(key)
                if part is None:
                    part = build()
                    self._parts[key] = part
        return part

    def _session(self, role: str) -> ort.InferenceSession:
        return self.catalog.session(DETECTION_MODELS[role])

    @property
    def mtcnn(self) -> MTCNN:
        return self._part(
            "mtcnn",
            lambda: MTCNN(self._session("pnet"), self._session("rnet"), self._session("onet")),
        )

    @property
    def detector(self) -> FaceDetector:
        def build() -> FaceDetector:
            proposer = BlazeFace(self._session("detector"), **FULL_RANGE)
            close_up = BlazeFace(self._session("close_up"), **SHORT_RANGE)
            free_size = BlazeFace(self._session("free_size"), **FULL_RANGE)
            return FaceDetector(proposer, self.mtcnn, DetectorConfig(), close_up, free_size)

        return self._part("detector", build)

    def model(self, role: str) -> zoo.FaceModel:
        """The attribute adapter registered for ``role`` (mesh, quality, age_gender, ...)."""
        adapter = zoo.FACE_MODELS[role]
        return self._part(f"model:{role}", lambda: adapter(self.catalog))

    def recognizer_for(self, name: str | None = None) -> zoo.RecognitionModel:
        """The recognition adapter ``name`` (default: this Analyzer's recognition model)."""
        adapter = zoo.recognizer_class(name or self.recognition_model)
        return self._part(f"recognizer:{adapter.name}", lambda: adapter(self.catalog))

    # the built-in adapters by their old names (benches call their infer methods)
    mesh = property(lambda self: self.model("mesh"))
    age_gender_model = property(lambda self: self.model("age_gender"))
    emotion_model = property(lambda self: self.model("emotion"))
    recognizer = property(lambda self: self.recognizer_for())

    # --- public API --------------------------------------------------------------------
    def analyze(
        self,
        image: bytes | np.ndarray,
        attributes: Collection[str] = (),
        *,
        landmarks: bool = True,
        embeddings: bool = False,
        max_faces: int = MAX_FACES_LIMIT,
        face_rectangles: Sequence[dict[str, int]] | None = None,
        recognition_model: str | None = None,
    ) -> list[Face]:
        """Detect faces (largest first) and compute the requested attributes.

        ``attributes`` uses Azure's names (see ``ATTRIBUTES``). ``face_rectangles`` skips
        detection and analyses the given Azure-style rectangles instead (e.g. face crops).
        ``recognition_model`` picks the embedder (default: the Analyzer's).
        """
        wanted = _check_attributes(attributes)
        if not 1 <= int(max_faces) <= MAX_FACES_LIMIT:
            raise BadArgument(f"max_faces must be between 1 and {MAX_FACES_LIMIT}.")
        plan = self.plan(wanted, recognition_model if embeddings else None, embeddings)
        decoded = load(image)
        rgb, scale = decoded.rgb, decoded.scale
        if face_rectangles is None:
            dets = self.detector.detect(rgb, max_faces=int(max_faces))
        else:
            dets = self._given_boxes(rgb, face_rectangles, scale)
        w, h = decoded.original_size
        faces = [
            Face(
                rectangle=rectangle_from_box(dets.boxes[i] / scale, w, h),
                confidence=round(float(dets.scores[i]), 4),
                box=dets.boxes[i].astype(np.float64),
                points=np.asarray(dets.keypoints[i], np.float64),
                scale=scale,
            )
            for i in range(len(dets))
        ][: int(max_faces)]
        for face in faces:
            if landmarks:
                face.landmarks = landmarks_from_points(face.points / scale)
            for adapter in plan:
                adapter.fill(rgb, face, wanted)
            face.attributes = _in_azure_order(face.attributes)
            face.crops.clear()  # pixels are not kept past the analysis
        return faces

    def embed(
        self, image: bytes | np.ndarray, face: Face, recognition_model: str | None = None
    ) -> np.ndarray:
        """The recognition embedding of ``face`` (found in this same image)."""
        rgb = load(image).rgb
        for adapter in self.plan(frozenset(), recognition_model, True):
            adapter.fill(rgb, face, frozenset())
        face.crops.clear()
        return face.embedding

    def plan(
        self, wanted: frozenset[str], recognition_model: str | None, embeddings: bool
    ) -> list[zoo.FaceModel]:
        """The adapters that fill ``wanted`` (+ the embedding), each after what it needs."""
        ordered: list[zoo.FaceModel] = []

        def add(adapter: zoo.FaceModel) -> None:
            if adapter in ordered:
                return
            for part in sorted(adapter.needs):
                add(self.model(zoo.provider_of(part).role))
            ordered.append(adapter)

        for name in sorted(wanted):
            add(self.model(zoo.provider_of(name).role))
        if embeddings:
            add(self.recognizer_for(recognition_model))
        return ordered

    def versions(self) -> dict[str, str]:
        """Model name -> sha256 prefix of every model this pipeline can use."""
        out = {"recognitionModel": self.recognition_model}
        names = [*DETECTION_MODELS.values()]
        for adapter in [*zoo.FACE_MODELS.values(), zoo.recognizer_class(self.recognition_model)]:
            names += adapter.models
        for name in names:
            try:
                entry = self.catalog.entry(name)
            except Exception:  # a model not installed is reported as such, not raised
                out[name] = "missing"
                continue
            sha = (
                entry.get("sha256", "") if isinstance(entry, dict) else getattr(entry, "sha256", "")
            )
            out[name] = str(sha)[:12]
        return out

    # --- internals ----------------------------------------------------------------------
    def _given_boxes(
        self, rgb: np.ndarray, rects: Sequence[dict[str, int]], scale: float
    ) -> Detections:
        boxes = scale * np.array(
            [[r["left"], r["top"], r["left"] + r["width"], r["top"] + r["height"]] for r in rects],
            np.float64,
        ).reshape(-1, 4)
        if len(boxes) == 0:
            return Detections.empty(5)
        _, scores, points = self.mtcnn.onet_raw(rgb, boxes)
        return Detections(boxes.astype(np.float32), scores.astype(np.float32), points)


def _in_azure_order(attrs: dict[str, Any]) -> dict[str, Any]:
    """Attributes in Azure's order, with genderConfidence (our addition) after gender."""
    out = {name: attrs[name] for name in ATTRIBUTES if name in attrs}
    if "gender" in attrs:
        out["genderConfidence"] = attrs["genderConfidence"]
    return out


def load(image: bytes | bytearray | np.ndarray) -> Decoded:
    """Bytes are decoded (and downscaled past 4096 px); arrays are validated as RGB."""
    if isinstance(image, np.ndarray):
        rgb = check_array(image)
        return Decoded(rgb, 1.0, (rgb.shape[1], rgb.shape[0]))
    return decode(image)


def to_rgb(image: bytes | bytearray | np.ndarray) -> np.ndarray:
    return load(image).rgb


def _check_attributes(attributes: Collection[str]) -> set[str]:
    if isinstance(attributes, str):
        attributes = [a for a in attributes.split(",") if a]
    wanted = {str(a).strip() for a in attributes}
    unknown = wanted - set(ATTRIBUTES)
    if unknown:
        raise BadArgument(
            f"Unknown face attribute(s): {', '.join(sorted(unknown))}. "
            f"Supported: {', '.join(ATTRIBUTES)}."
        )
    return wanted
