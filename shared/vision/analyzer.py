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

from shared.errors import BadArgument
from shared.vision import quality
from shared.vision.agegender import AgeEstimator, GenderClassifier
from shared.vision.blazeface import FULL_RANGE, BlazeFace, Detections
from shared.vision.detector import DetectorConfig, FaceDetector
from shared.vision.emotion import EmotionClassifier, to_azure
from shared.vision.face import ATTRIBUTES, Face, landmarks_from_points, rectangle_from_box
from shared.vision.facemesh import FaceMesh, head_pose
from shared.vision.imageio import check_array, decode_image
from shared.vision.mtcnn import MTCNN
from shared.vision.recognizer import Recognizer

# catalog names of the models this pipeline uses (models/manifest.json)
MODEL_NAMES = {
    "detector": "blazeface_full_range",
    "pnet": "mtcnn_pnet",
    "rnet": "mtcnn_rnet",
    "onet": "mtcnn_onet",
    "mesh": "facemesh",
    "recognition": "dlib_resnet_recognition",
    "age": "dlib_age",
    "gender": "dlib_gender",
    "emotion": "emotion_mini_xception",
}
RECOGNITION_MODEL = "dlib_resnet34_v1"  # stored with embeddings; a new model gets a new id

# Abstain ("unknown") when the gender model's probability for its answer is below this.
# Calibrated on UTKFace (bench.eval): see docs/vision.md.
GENDER_ABSTAIN_BELOW = 0.75

_NEEDS_MESH = {"headPose", "qualityForRecognition", "age", "gender", "blur", "exposure"}
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
            return FaceDetector(proposer, self.mtcnn, DetectorConfig())

        return self._part("detector", build)

    @property
    def mesh(self) -> FaceMesh:
        return self._part("mesh", lambda: FaceMesh(self._session("mesh")))

    @property
    def recognizer(self) -> Recognizer:
        return self._part("recognizer", lambda: Recognizer(self._session("recognition")))

    @property
    def age_model(self) -> AgeEstimator:
        return self._part("age", lambda: AgeEstimator(self._session("age")))

    @property
    def gender_model(self) -> GenderClassifier:
        return self._part("gender", lambda: GenderClassifier(self._session("gender")))

    @property
    def emotion_model(self) -> EmotionClassifier:
        return self._part("emotion", lambda: EmotionClassifier(self._session("emotion")))

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
        rgb = to_rgb(image)
        if face_rectangles is None:
            dets = self.detector.detect(rgb, max_faces=int(max_faces))
        else:
            dets = self._given_boxes(rgb, face_rectangles)
        h, w = rgb.shape[:2]
        faces = [
            Face(
                rectangle=rectangle_from_box(dets.boxes[i], w, h),
                confidence=round(float(dets.scores[i]), 4),
                box=dets.boxes[i].astype(np.float64),
                points=np.asarray(dets.keypoints[i], np.float64),
            )
            for i in range(len(dets))
        ][: int(max_faces)]
        for face in faces:
            if landmarks:
                face.landmarks = landmarks_from_points(face.points)
            self._fill(rgb, face, wanted, embeddings)
        return faces

    def embed(self, image: bytes | np.ndarray, face: Face) -> np.ndarray:
        """The recognition embedding of ``face`` (found in this same image)."""
        rgb = to_rgb(image)
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
    def _given_boxes(self, rgb: np.ndarray, rects: Sequence[dict[str, int]]) -> Detections:
        boxes = np.array(
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
        if embeddings or wanted & {"blur", "exposure", "qualityForRecognition"}:
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
        if "age" in wanted:
            chip = self.age_model.chip(rgb, face.mesh.dlib5())
            attrs["age"] = round(float(self.age_model.infer(chip[None])[0]), 1)
        if "gender" in wanted:
            attrs.update(self._gender(rgb, face))
        if "emotion" in wanted:
            chip = self.emotion_model.chip(rgb, face.box)
            attrs["emotion"] = to_azure(self.emotion_model.infer(chip[None])[0])
        if embeddings:
            face.embedding = self.recognizer.embed_chips(chip150[None])[0]
        face.attributes = {k: attrs[k] for k in ATTRIBUTES if k in attrs} | (
            {"genderConfidence": attrs["genderConfidence"]} if "gender" in attrs else {}
        )

    def _gender(self, rgb: np.ndarray, face: Face) -> dict[str, Any]:
        """Gender with test-time flip averaging and abstention below the calibrated level."""
        chip = self.gender_model.chip(rgb, face.mesh.dlib5())
        p_male = float(self.gender_model.infer(np.stack([chip, chip[:, ::-1]])).mean())
        confidence = max(p_male, 1.0 - p_male)
        value = "male" if p_male >= 0.5 else "female"
        if confidence < GENDER_ABSTAIN_BELOW:
            value = "unknown"
        return {"gender": value, "genderConfidence": round(confidence, 3)}


def to_rgb(image: bytes | bytearray | np.ndarray) -> np.ndarray:
    if isinstance(image, np.ndarray):
        return check_array(image)
    return decode_image(image)


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
