"""The model catalogue: models/manifest.json -> verified, lazily created ONNX sessions.

``Catalog.session(name)`` is the one way vision code gets an ``onnxruntime`` session. The
first call for a name reads the file once, checks its size and sha256 against the manifest
and builds the session from exactly those verified bytes (no window in which the file could
be swapped between check and load); later calls return the same session. Creation is
thread-safe: concurrent first calls for one model create a single session (a per-model lock
with a double check), while different models load in parallel.

Pluggable: a model is a manifest entry plus a file. Adding weights (say YuNet or SFace) is a
new entry in models/manifest.json and an adapter class that takes the session; callers
that ask for a task's model by name need no change (see models/README.md).
"""

from __future__ import annotations

import hashlib
import json
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import onnxruntime as ort

from shared import settings
from shared.errors import FaceGateError
from shared.lazy import Lazy

DEFAULT_MODELS_DIR = Path(__file__).resolve().parents[2] / "models"
THREADS_SETTING = "FACEGATE_ONNX_THREADS"


class ModelIntegrityError(FaceGateError):
    """A model file is missing, or its bytes differ from the manifest (size or sha256)."""

    code = "ModelUnavailable"


class UnknownModel(FaceGateError):
    """No manifest entry has this name."""

    code = "ModelUnavailable"


@dataclass(frozen=True)
class ModelEntry:
    """A read-only view of one manifest entry (the full entry stays in ``raw``)."""

    name: str
    task: str
    file: str
    sha256: str
    bytes: int
    licence: str
    source: dict[str, Any]
    input: dict[str, Any]
    outputs: list[dict[str, Any]]
    raw: dict[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_manifest(cls, name: str, raw: dict[str, Any]) -> ModelEntry:
        try:
            return cls(
                name=name,
                task=raw["task"],
                file=raw["file"],
                sha256=raw["sha256"].lower(),
                bytes=int(raw["bytes"]),
                licence=raw["licence"],
                source=dict(raw.get("source", {})),
                input=dict(raw["input"]),
                outputs=list(raw["outputs"]),
                raw=raw,
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ModelIntegrityError(f"manifest entry {name!r} is malformed: {exc}") from exc

    @property
    def version(self) -> str:
        """Source package and version, e.g. ``mediapipe==0.10.21``."""
        return f"{self.source.get('package', '?')}=={self.source.get('version', '?')}"

    def output(self, name: str) -> dict[str, Any]:
        for out in self.outputs:
            if out["name"] == name:
                return out
        raise KeyError(f"{self.name} has no output {name!r}")

    def labels(self, output: str) -> list[str]:
        """Class labels of a classifier output, in index order."""
        return list(self.output(output)["labels"])


def session_options(threads: int | None = None) -> ort.SessionOptions:
    """Options every catalogue session uses; intra-op threads from FACEGATE_ONNX_THREADS."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = max(1, threads or settings.get_int(THREADS_SETTING))
    options.inter_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.log_severity_level = 3
    if _shared_arena():
        options.add_session_config_entry("session.use_env_allocators", "1")
    return options


_arena_lock = threading.Lock()
_arena_registered: bool | None = None


def _shared_arena() -> bool:
    """One CPU memory arena for every session of the process, registered once.

    Each session otherwise keeps its own arena at its own peak, and a worker holds the sum
    of them; sessions run one model at a time per thread, so one arena sized by what runs
    together is enough (peak RSS of a 640x480 analysis about 45 MB lower, docs/accuracy.md).
    The arena grows by what is asked, not to the next power of two."""
    global _arena_registered
    with _arena_lock:
        if _arena_registered is None:
            memory = ort.OrtMemoryInfo(
                "Cpu", ort.OrtAllocatorType.ORT_ARENA_ALLOCATOR, 0, ort.OrtMemType.DEFAULT
            )
            same_as_requested = 1  # arena_extend_strategy kSameAsRequested
            try:
                ort.create_and_register_allocator(
                    memory, ort.OrtArenaCfg(0, same_as_requested, -1, -1)
                )
                _arena_registered = True
            except Exception:  # e.g. another user of onnxruntime registered one already
                _arena_registered = False
        return _arena_registered


class Catalog:
    """Models listed in ``models_dir/manifest.json``; sessions created on first use."""

    def __init__(self, models_dir: Path = DEFAULT_MODELS_DIR, threads: int | None = None) -> None:
        self.models_dir = Path(models_dir)
        self._threads = threads
        self._lock = threading.Lock()
        self._entries: dict[str, ModelEntry] | None = None
        self._sessions: dict[str, ort.InferenceSession] = {}
        self._model_locks: dict[str, threading.Lock] = {}

    # -- manifest ---------------------------------------------------------------------------
    def _manifest(self) -> dict[str, ModelEntry]:
        if self._entries is None:
            with self._lock:
                if self._entries is None:
                    self._entries = self._read_manifest()
        return self._entries

    def _read_manifest(self) -> dict[str, ModelEntry]:
        path = self.models_dir / "manifest.json"
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
            models = doc["models"]
        except FileNotFoundError as exc:
            raise ModelIntegrityError(f"no model manifest at {path}") from exc
        except (ValueError, KeyError, TypeError) as exc:
            raise ModelIntegrityError(f"model manifest {path} is unreadable: {exc}") from exc
        return {name: ModelEntry.from_manifest(name, raw) for name, raw in models.items()}

    def names(self, task: str | None = None) -> list[str]:
        """Every model name, or those for one task (detection, recognition, age, ...)."""
        return [n for n, e in self._manifest().items() if task is None or e.task == task]

    def entry(self, name: str) -> ModelEntry:
        try:
            return self._manifest()[name]
        except KeyError:
            raise UnknownModel(f"no model named {name!r} in {self.models_dir}") from None

    def path(self, name: str) -> Path:
        return self.models_dir / self.entry(name).file

    # -- integrity + sessions ----------------------------------------------------------------
    def verified_bytes(self, name: str) -> bytes:
        """The model file's bytes, after checking size and sha256 against the manifest."""
        entry = self.entry(name)
        path = self.models_dir / entry.file
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise ModelIntegrityError(f"model file missing: {entry.file}") from None
        digest = hashlib.sha256(data).hexdigest()
        if len(data) != entry.bytes or digest != entry.sha256:
            raise ModelIntegrityError(
                f"model file {entry.file} does not match the manifest "
                f"(sha256 {digest[:12]}..., expected {entry.sha256[:12]}...)"
            )
        return data

    def session(self, name: str) -> ort.InferenceSession:
        """The process-wide session for ``name``, created (once) on the first call."""
        existing = self._sessions.get(name)
        if existing is not None:
            return existing
        with self._lock:
            model_lock = self._model_locks.setdefault(name, threading.Lock())
        with model_lock:
            existing = self._sessions.get(name)
            if existing is None:
                data = self.verified_bytes(name)
                existing = ort.InferenceSession(
                    data, session_options(self._threads), providers=["CPUExecutionProvider"]
                )
                self._sessions[name] = existing
        return existing

    def is_loaded(self, name: str) -> bool:
        return name in self._sessions

    def loaded(self) -> list[dict[str, str]]:
        """What /api/health reports: name, task, source version and sha256 prefix."""
        out = []
        for name in sorted(self._sessions):
            entry = self.entry(name)
            out.append(
                {
                    "name": name,
                    "task": entry.task,
                    "version": entry.version,
                    "sha256": entry.sha256[:12],
                }
            )
        return out


# The process-wide catalogue over the repository's models/ folder.
default_catalog: Lazy[Catalog] = Lazy(Catalog)
