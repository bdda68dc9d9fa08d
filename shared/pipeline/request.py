"""What an upload asks for: features, gallery, capture context and purpose from its metadata."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from shared import attributes as attribute_registry
from shared.api.requests import DetectOptions
from shared.errors import BadArgument
from shared.identifiers import gallery_id as check_gallery_id
from shared.policy import FEATURES, Customer


@dataclass(frozen=True)
class Request:
    features: tuple[str, ...]
    gallery_id: str | None
    capture: str | None
    purpose: str | None

    @property
    def options(self) -> DetectOptions:
        """Every attribute whose action the upload asks for (``detect`` always is), with
        landmarks (the attribute registry says which action each attribute needs)."""
        return DetectOptions(
            return_face_id=False,
            return_landmarks=True,
            attributes=attribute_registry.allowed_by(self.features),
            max_faces=100,
        )


def parse_request(metadata: Mapping[str, str], customer: Customer) -> Request:
    """Features from the upload's metadata, else the customer's defaults."""
    meta = {k.lower(): v for k, v in metadata.items()}
    raw = meta.get("features")
    if raw is None or not raw.strip():
        features = list(customer.default_features)
    else:
        features = []
        for part in raw.split(","):
            feature = part.strip().lower()
            if feature not in FEATURES:
                raise BadArgument(
                    f"Unknown feature '{feature[:40]}' in metadata; known: {', '.join(FEATURES)}."
                )
            if feature not in features:
                features.append(feature)
    gallery = meta.get("galleryid") or None
    if gallery is not None:
        check_gallery_id(gallery)
        if "identify" not in features:
            features.append("identify")
    elif "identify" in features:
        raise BadArgument("Feature 'identify' needs the metadata galleryid.")
    if "detect" not in features:
        features.insert(0, "detect")
    return Request(tuple(features), gallery, meta.get("capturecontext"), meta.get("purpose"))
