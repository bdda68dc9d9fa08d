"""Load a labelled photo directory described by a manifest.json (see /work/shared/eval).

The manifest has three lists: ``verification`` (path, identity), ``detection`` (path,
expected_faces, optional boxes_xywh or WIDER subsets) and ``attributes`` (path with any of
age, gender, race, emotion). Photos are read from disk on demand and never copied.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Entry:
    """One labelled photo: its path relative to the dataset root and its labels."""

    path: str
    labels: dict[str, Any] = field(hash=False)

    @property
    def source(self) -> str:
        """A short source name: the first folder of the path (e.g. ``dlib``, ``yalefaces``)."""
        return self.path.split("/", 1)[0]

    def get(self, key: str, default: Any = None) -> Any:
        return self.labels.get(key, default)


@dataclass(frozen=True)
class Dataset:
    root: Path
    verification: list[Entry]
    detection: list[Entry]
    attributes: list[Entry]

    def read(self, entry: Entry) -> bytes:
        path = (self.root / entry.path).resolve()
        if self.root.resolve() not in path.parents:
            raise ValueError(f"manifest path escapes the dataset: {entry.path}")
        return path.read_bytes()


def load(root: str | Path) -> Dataset:
    root = Path(root)
    manifest = json.loads((root / "manifest.json").read_text())

    def entries(key: str) -> list[Entry]:
        return [Entry(item["path"], item) for item in manifest.get(key, [])]

    return Dataset(root, entries("verification"), entries("detection"), entries("attributes"))
