"""FaceGate's vision module: faces, landmarks, attributes and embeddings with onnxruntime.

Knows nothing of HTTP, storage or policy. Every image is RGB (never BGR) at the API.

Public API::

    from shared.vision import Analyzer, compare, MATCH_THRESHOLD, RECOGNITION_MODEL

    analyzer = Analyzer()            # catalog=None -> shared.vision.catalog.default_catalog()
    faces = analyzer.analyze(
        image,                       # bytes (decoded safely, see imageio) or RGB uint8 array
        ["headPose", "blur", "exposure", "qualityForRecognition", "age", "gender", "emotion"],
        landmarks=True,              # Azure's 5 landmarks (pupilLeft, ..., mouthRight)
        embeddings=False,            # fill face.embedding (128 float32, dlib descriptor)
        max_faces=100,               # 1..100, largest faces first
        recognition_model=None,      # the embedder (default RECOGNITION_MODEL)
    )
    face.rectangle                   # {"top", "left", "width", "height"} ints, original pixels
    face.confidence                  # detector confidence 0..1
    face.landmarks                   # {"pupilLeft": {"x", "y"}, ...}
    face.attributes                  # shaped like Azure's faceAttributes (+ genderConfidence)
    face.to_json(landmarks=True, attributes=True)  # Azure-shaped dict, never the embedding
    analyzer.embed(image, face)      # the embedding of a face found in that image
    compare(emb1, emb2)              # confidence 0..1; same person when >= MATCH_THRESHOLD
    analyzer.versions()              # model names -> sha256 prefixes, + recognitionModel
    model = analyzer.recognizer_for(name)   # a recognition adapter (shared.vision.zoo):
    model.similarity(query, matrix)  # (n,) float64, higher = more alike
    model.match_similarity           # its raw decision threshold; model.confidence(s) -> 0..1

Every model is an adapter of shared.vision.zoo filling its part of a Face; the analyzer runs
the adapters a call needs in dependency order, so only the models a call needs run; sessions
load lazily through the catalog, once per process; an Analyzer is safe to share between
threads. Errors: shared.errors.InvalidImage, InvalidImageSize (decoding) and BadArgument
(unknown attribute, max_faces out of range, UnknownRecognitionModel).
Measured accuracy, thresholds and conventions: docs/vision.md.
"""

from shared.vision import zoo
from shared.vision.analyzer import RECOGNITION_MODEL, Analyzer
from shared.vision.face import ATTRIBUTES, LANDMARK_NAMES, Face
from shared.vision.recognizer import compare

MATCH_THRESHOLD = 0.5  # compare() >= this means "same person" (distance 0.56, docs/vision.md)

__all__ = [
    "ATTRIBUTES",
    "LANDMARK_NAMES",
    "MATCH_THRESHOLD",
    "RECOGNITION_MODEL",
    "Analyzer",
    "Face",
    "compare",
    "zoo",
]
