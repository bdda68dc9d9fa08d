"""The model zoo: one adapter interface for every per-face model, and the registry of them.

As in InsightFace's ``model_zoo``, each model is an adapter that fills its part of a
:class:`~shared.vision.face.Face` (``fill(rgb, face, wanted)``); the analyzer asks the
registry which adapters a request needs and runs them in dependency order, so adding a
model touches nothing else. An adapter is built from the catalogue and fetches its ONNX
sessions from it on first use (the catalogue verifies and caches them).

* :class:`FaceModel` - an attribute model, registered under its **role** (the role the
  attribute registry names: ``mesh``, ``quality``, ``age_gender``, ``emotion``).
* :class:`RecognitionModel` - an embedder, registered under its **name** (the
  ``recognitionModel`` id stored with every template and gallery). It owns its chip
  geometry, its ``similarity`` (higher = more alike), its raw decision threshold and the
  map from similarity to a 0..1 confidence, so nothing outside it knows whether a model
  compares by distance or by cosine.

A new model = an entry in models/manifest.json + one adapter class decorated with
``@register`` in an imported module (docs/vision.md, "Adding a model").
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar, Protocol, TypeVar

import numpy as np
import onnxruntime as ort

from shared.errors import BadArgument
from shared.vision.face import Face

# Face parts that are not attributes: what an adapter may provide or need besides them.
MESH = "mesh"  # face.mesh, the 468-point landmarks (alignment points and head pose)
EMBEDDING = "embedding"  # face.embedding, filled by the request's recognition model


class Catalog(Protocol):
    """What adapters need of shared.vision.catalog.Catalog (benches wrap it to time runs)."""

    def session(self, name: str) -> ort.InferenceSession: ...

    def entry(self, name: str) -> Any: ...


class FaceModel(ABC):
    """An adapter: fills its part of a Face. Subclasses set the class attributes below."""

    role: ClassVar[str]  # registry key: the attribute registry's model role
    provides: ClassVar[frozenset[str]]  # attribute names (or MESH / EMBEDDING) it fills
    needs: ClassVar[frozenset[str]] = frozenset()  # parts another adapter must fill first
    models: ClassVar[tuple[str, ...]] = ()  # catalogue names of the ONNX files it runs

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog

    def session(self, name: str) -> ort.InferenceSession:
        """The catalogue's (verified, cached, thread-safe) session for one of ``models``."""
        return self.catalog.session(name)

    @abstractmethod
    def fill(self, rgb: np.ndarray, face: Face, wanted: frozenset[str]) -> None:
        """Fill this model's part of ``face``; attributes only when named in ``wanted``."""


class RecognitionModel(FaceModel):
    """An embedder and the maths of comparing its embeddings."""

    role = "recognition"
    provides = frozenset({EMBEDDING})
    name: ClassVar[str]  # recognitionModel id stored with templates; a new model = a new id
    dimension: ClassVar[int]  # length of an embedding
    match_similarity: ClassVar[float]  # similarity() >= this means "same person"

    @abstractmethod
    def embed(self, rgb: np.ndarray, face: Face) -> np.ndarray:
        """The (dimension,) float32 embedding of ``face`` in ``rgb``."""

    @abstractmethod
    def similarity(self, query: np.ndarray, matrix: np.ndarray) -> np.ndarray:
        """Raw similarity (n,) float64 of ``query`` (d,) to each row of ``matrix`` (n, d)."""

    @abstractmethod
    def confidence(self, similarity: np.ndarray | float) -> np.ndarray | float:
        """Monotone map of raw similarity to 0..1, exactly 0.5 at ``match_similarity``."""

    def compare(self, a: np.ndarray, b: np.ndarray) -> float:
        """Confidence 0..1 that two embeddings of this model show the same person."""
        a = np.asarray(a, np.float32).ravel()
        b = np.asarray(b, np.float32).ravel()
        if a.shape != (self.dimension,) or b.shape != (self.dimension,):
            raise ValueError(f"{self.name} compares embeddings of {self.dimension} values")
        return float(self.confidence(self.similarity(a, b[None])[0]))

    def fill(self, rgb: np.ndarray, face: Face, wanted: frozenset[str]) -> None:
        face.embedding = self.embed(rgb, face)
        face.recognition_model = self.name


FACE_MODELS: dict[str, type[FaceModel]] = {}  # role -> adapter
RECOGNIZERS: dict[str, type[RecognitionModel]] = {}  # recognitionModel id -> adapter

Adapter = TypeVar("Adapter", bound=type[FaceModel])


def register(adapter: Adapter) -> Adapter:
    """Class decorator: make an adapter available to every Analyzer built afterwards."""
    if issubclass(adapter, RecognitionModel):
        RECOGNIZERS[adapter.name] = adapter
    else:
        FACE_MODELS[adapter.role] = adapter
    return adapter


def unregister(adapter: type[FaceModel]) -> None:
    """Remove an adapter (tests that register a model of their own)."""
    registry: dict[str, Any] = RECOGNIZERS if issubclass(adapter, RecognitionModel) else FACE_MODELS
    key = adapter.name if issubclass(adapter, RecognitionModel) else adapter.role
    if registry.get(key) is adapter:
        del registry[key]


def recognizer_class(name: str) -> type[RecognitionModel]:
    try:
        return RECOGNIZERS[name]
    except KeyError:
        raise BadArgument(
            f"Unknown recognition model '{name}'. Supported: {', '.join(sorted(RECOGNIZERS))}.",
            code="UnknownRecognitionModel",
        ) from None


def provider_of(part: str) -> type[FaceModel]:
    """The registered attribute adapter that fills ``part`` (an attribute name or MESH)."""
    for adapter in FACE_MODELS.values():
        if part in adapter.provides:
            return adapter
    raise BadArgument(f"No model computes '{part}'.")
