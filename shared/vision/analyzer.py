"""The pipeline: decode -> detect -> (mesh) -> align -> embed / attributes, one Face per face.

Only the models an ``analyze`` call needs are run, and each is loaded (through the
catalog) the first time it is needed. Model wrappers are built once per Analyzer under a
lock; onnxruntime sessions are safe to run from many threads, so an Analyzer is too.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Collection, Sequence
from typing import Any, Protocol

import numpy as np
import onnxruntime as ort

from shared import attributes as attribute_registry
from shared.errors import BadArgument
from shared.vision import quality
from shared.vision.agegender import AgeGenderNet
from shared.vision.blazeface import FULL_RANGE, SHORT_RANGE, BlazeFace, Detections
from shared.vision.detector import DetectorConfig, FaceDetector
from shared.vision.emotion import EmotionClassifier, to_azure
from shared.vision.face import ATTRIBUTES, Face, landmarks_from_points, rectangle_from_box
from shared.vision.facemesh import FaceMesh, head_pose
from shared.vision.imageio import Decoded, check_array, decode
from shared.vision.mtcnn import MTCNN
from shared.vision.recognizer import Recognizer

# catalog names of the models this pipeline uses (models/manifest.json)
MODEL_NAMES = {
    "detector": "blazeface_full_192",
    "close_up": "blazeface_short_128",
    "pnet": "mtcnn_pnet",
    "rnet": "mtcnn_rnet",
    "onet": "mtcnn_onet",
    "mesh": "facemesh_468",
    "recognition": "dlib_resnet_128",
    "age_gender": "faceapi_age_gender",
    "emotion": "emotion_minixception",
    "expression": "faceapi_expression",
}
RECOGNITION_MODEL = "dlib_resnet34_v1"  # stored with embeddings; a new model gets a new id

# Abstain ("unknown") when the gender model's probability for its answer is below this.
# Calibrated on UTKFace (bench.eval): see docs/vision.md.
GENDER_ABSTAIN_BELOW = 0.62

_NEEDS_MESH = attribute_registry.needing(attribute_registry.MESH)
_NEEDS_CHIP = attribute_registry.needing(attribute_registry.CHIP)
MAX_FACES_LIMIT = 100


class Catalog(Protocol):
    def session(self, name: str) -> ort.InferenceSession: ...

    def entry(self, name: str) -> Any: ...


class Analyzer:
    """Face detection, landmarks, attributes and embeddings on one image at a time."""

    def __init__(self, catalog: Catalog | None = None) -> None:
        if catalog is None:
            from shared.vision.catalog import default_catalog

            catalog = default_catalog()
        self.catalog = catalog
        self._lock = threading.RLock()  # builders nest (detector -> mtcnn)
        self._parts: dict[str, Any] = {}

    # --- lazily built model wrappers ----------------------------------------------------
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
        return self.catalog.session(MODEL_NAMES[role])

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
            return FaceDetector(proposer, self.mtcnn, DetectorConfig(), close_up)

        return self._part("detector", build)

    @property
    def mesh(self) -> FaceMesh:
        return self._part("mesh", lambda: FaceMesh(self._session("mesh")))

    @property
    def recognizer(self) -> Recognizer:
        return self._part("recognizer", lambda: Recognizer(self._session("recognition")))

    @property
    def age_gender_model(self) -> AgeGenderNet:
        return self._part("age_gender", lambda: AgeGenderNet(self._session("age_gender")))

    @property
    def emotion_model(self) -> EmotionClassifier:
        return self._part(
            "emotion",
            lambda: EmotionClassifier(self._session("emotion"), self._session("expression")),
        )

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
    ) -> list[Face]:
        """Detect faces (largest first) and compute the requested attributes.

        ``attributes`` uses Azure's names (see ``ATTRIBUTES``). ``face_rectangles`` skips
        detection and analyses the given Azure-style rectangles instead (e.g. face crops).
        """
        wanted = _check_attributes(attributes)
        if not 1 <= int(max_faces) <= MAX_FACES_LIMIT:
            raise BadArgument(f"max_faces must be between 1 and {MAX_FACES_LIMIT}.")
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
            self._fill(rgb, face, wanted, embeddings)
        return faces

    def embed(self, image: bytes | np.ndarray, face: Face) -> np.ndarray:
        """The recognition embedding of ``face`` (found in this same image)."""
        rgb = load(image).rgb
        self._ensure_mesh(rgb, face)
        chip = self.recognizer.chip(rgb, face.mesh.dlib5())
        face.embedding = self.recognizer.embed_chips(chip[None])[0]
        return face.embedding

    def versions(self) -> dict[str, str]:
        """Model name -> sha256 prefix of every model this pipeline can use."""
        out = {"recognitionModel": RECOGNITION_MODEL}
        for name in MODEL_NAMES.values():
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

    def _ensure_mesh(self, rgb: np.ndarray, face: Face) -> None:
        if face.mesh is None:
            face.mesh = self.mesh.infer(rgb, face.box, face.points)

    def _fill(self, rgb: np.ndarray, face: Face, wanted: set[str], embeddings: bool) -> None:
        attrs: dict[str, Any] = {}
        if wanted & _NEEDS_MESH or embeddings:
            self._ensure_mesh(rgb, face)
        pose = head_pose(face.mesh) if face.mesh is not None else None
        chip150 = None
        if embeddings or wanted & _NEEDS_CHIP:
            chip150 = self.recognizer.chip(rgb, face.mesh.dlib5())
        if "headPose" in wanted:
            attrs["headPose"] = pose
        if wanted & {"blur", "qualityForRecognition"}:
            blur = quality.blur(chip150)
            if "blur" in wanted:
                attrs["blur"] = blur
        if wanted & {"exposure", "qualityForRecognition"}:
            exposure = quality.exposure(chip150)
            if "exposure" in wanted:
                attrs["exposure"] = exposure
        if "qualityForRecognition" in wanted:
            side = min(face.rectangle["width"], face.rectangle["height"])
            attrs["qualityForRecognition"] = quality.quality_for_recognition(
                side, blur, exposure, pose
            )
        if wanted & {"age", "gender"}:
            age, p_male = self.age_gender_model.infer(rgb, face.box)
            if "age" in wanted:
                attrs["age"] = round(max(0.0, age), 1)
            if "gender" in wanted:
                attrs.update(gender_decision(p_male))
        if "emotion" in wanted:
            attrs["emotion"] = to_azure(self.emotion_model.infer(rgb, face.box))
        if embeddings:
            face.embedding = self.recognizer.embed_chips(chip150[None])[0]
        face.attributes = {k: attrs[k] for k in ATTRIBUTES if k in attrs} | (
            {"genderConfidence": attrs["genderConfidence"]} if "gender" in attrs else {}
        )


def gender_decision(p_male: float) -> dict[str, Any]:
    """Gender value and confidence, abstaining ("unknown") below the calibrated level."""
    confidence = max(p_male, 1.0 - p_male)
    value = "male" if p_male >= 0.5 else "female"
    if confidence < GENDER_ABSTAIN_BELOW:
        value = "unknown"
    return {"gender": value, "genderConfidence": round(confidence, 3)}


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
