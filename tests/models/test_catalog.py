"""The model catalogue: integrity checks, lazy loading, one session under concurrency."""

from __future__ import annotations

import json
import shutil
import threading
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest

from shared.vision import catalog as catalog_module
from shared.vision.catalog import Catalog, ModelIntegrityError, UnknownModel, session_options

MODELS = Path(__file__).resolve().parents[2] / "models"
SMALL = "mtcnn_pnet"  # 30 kB: cheap to copy and load


@pytest.fixture
def small_copy(tmp_path: Path) -> Path:
    """A models folder holding one real model and a manifest with only its entry."""
    manifest = json.loads((MODELS / "manifest.json").read_text())
    entry = manifest["models"][SMALL]
    shutil.copyfile(MODELS / entry["file"], tmp_path / entry["file"])
    doc = {"schema": 1, "models": {SMALL: entry}}
    (tmp_path / "manifest.json").write_text(json.dumps(doc))
    return tmp_path


def test_entry_is_a_view_of_the_manifest() -> None:
    cat = Catalog()
    entry = cat.entry("dlib_gender") if "dlib_gender" in cat.names() else cat.entry(SMALL)
    raw = json.loads((MODELS / "manifest.json").read_text())["models"][entry.name]
    assert entry.sha256 == raw["sha256"] and entry.file == raw["file"]
    assert entry.version == f"{raw['source']['package']}=={raw['source']['version']}"
    assert set(cat.names("detection")) >= {"blazeface_full_192", SMALL}
    assert cat.entry(SMALL).labels("prob") == ["not_face", "face"]


def test_session_runs_the_verified_model(small_copy: Path) -> None:
    sess = Catalog(small_copy).session(SMALL)
    bbox, prob = sess.run(None, {"input": np.zeros((1, 24, 32, 3), np.float32)})
    assert bbox.shape == (1, 7, 11, 4) and prob.shape == (1, 7, 11, 2)
    np.testing.assert_allclose(prob.sum(-1), 1.0, rtol=1e-5)


def test_tampered_file_is_refused(small_copy: Path) -> None:
    path = small_copy / f"{SMALL}.onnx"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01  # one flipped bit in the weights
    path.write_bytes(bytes(data))
    cat = Catalog(small_copy)
    with pytest.raises(ModelIntegrityError, match="does not match the manifest"):
        cat.session(SMALL)
    assert not cat.is_loaded(SMALL) and cat.loaded() == []


def test_missing_file_and_unknown_name(small_copy: Path) -> None:
    (small_copy / f"{SMALL}.onnx").unlink()
    cat = Catalog(small_copy)
    with pytest.raises(ModelIntegrityError, match="missing"):
        cat.session(SMALL)
    with pytest.raises(UnknownModel):
        cat.session("no_such_model")
    with pytest.raises(ModelIntegrityError, match="no model manifest"):
        Catalog(small_copy / "nowhere").names()


def test_sessions_are_lazy_and_reported(small_copy: Path) -> None:
    cat = Catalog(small_copy)
    assert cat.names() == [SMALL] and not cat.is_loaded(SMALL) and cat.loaded() == []
    first = cat.session(SMALL)
    assert cat.session(SMALL) is first
    [info] = cat.loaded()
    assert info["name"] == SMALL and info["task"] == "detection"
    assert info["version"] == "mtcnn==1.0.0" and len(info["sha256"]) == 12


def test_concurrent_first_calls_create_one_session(
    small_copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    created: list[int] = []
    real = ort.InferenceSession

    def slow_session(*args, **kwargs):
        created.append(threading.get_ident())
        time.sleep(0.05)  # widen the race window
        return real(*args, **kwargs)

    monkeypatch.setattr(catalog_module.ort, "InferenceSession", slow_session)
    cat = Catalog(small_copy)
    barrier = threading.Barrier(16)
    results: list[object] = []

    def ask() -> None:
        barrier.wait()
        results.append(cat.session(SMALL))

    threads = [threading.Thread(target=ask) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(created) == 1
    assert len(results) == 16 and all(r is results[0] for r in results)


def test_session_options_follow_the_threads_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FACEGATE_ONNX_THREADS", "2")
    opts = session_options()
    assert opts.intra_op_num_threads == 2 and opts.inter_op_num_threads == 1
    assert opts.graph_optimization_level == ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    monkeypatch.delenv("FACEGATE_ONNX_THREADS")
    assert session_options().intra_op_num_threads == 1


def test_default_catalog_is_a_singleton() -> None:
    assert catalog_module.default_catalog() is catalog_module.default_catalog()
