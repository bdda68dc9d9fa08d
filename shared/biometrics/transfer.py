"""A gallery as it moves between stores: every field, person and template, ids unchanged.

Each gallery store (``store.backend("table")``, ``store.backend("postgres")``) has

- ``export_gallery(customer_id, gallery_id) -> GalleryExport``: NotFound if the customer
  has no such gallery;
- ``import_gallery(customer_id, export) -> None``: writes the gallery with the same
  galleryId, personIds and persistedFaceIds; Conflict if the customer already has a
  gallery of that id in this store (nothing is merged or overwritten).

``digest()`` is the same for a gallery and its copy in any store (ids, names, userData,
models and template bytes), so a move can be checked without comparing templates by eye.
An export holds templates: it never goes to a log, an audit row or a file.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

from shared.biometrics import templates


@dataclass(frozen=True)
class ExportedFace:
    persisted_face_id: str
    template: np.ndarray
    model: str
    user_data: str = ""
    quality: str = ""
    created: str = ""  # ISO 8601 UTC, e.g. 2026-12-01T04:15:31Z

    def __repr__(self) -> str:  # never a template in a traceback or log line
        return f"ExportedFace({self.persisted_face_id!r}, model={self.model!r})"


@dataclass(frozen=True)
class ExportedPerson:
    person_id: str
    name: str
    user_data: str = ""
    created: str = ""
    faces: tuple[ExportedFace, ...] = ()


@dataclass(frozen=True)
class GalleryExport:
    customer_id: str
    gallery_id: str
    name: str
    user_data: str
    recognition_model: str
    created: str
    persons: tuple[ExportedPerson, ...] = ()

    @property
    def person_count(self) -> int:
        """Every person, those without faces included."""
        return len(self.persons)

    @property
    def face_count(self) -> int:
        return sum(len(p.faces) for p in self.persons)

    def digest(self) -> str:
        """SHA-256 over everything a move must keep (creation times aside), in id order."""
        sha = hashlib.sha256()

        def put(*parts: str | bytes) -> None:
            for part in parts:
                data = part.encode("utf-8") if isinstance(part, str) else part
                sha.update(len(data).to_bytes(8, "big") + data)

        put(self.customer_id, self.gallery_id, self.name, self.user_data, self.recognition_model)
        for person in sorted(self.persons, key=lambda p: p.person_id):
            put("person", person.person_id, person.name, person.user_data)
            for face in sorted(person.faces, key=lambda f: f.persisted_face_id):
                put("face", face.persisted_face_id, face.model, face.user_data)
                put(templates.encode(face.template))
        return sha.hexdigest()
